#pragma once
// The live seat map (GET /api/v1/events/{id}/seats/ws), protocol in docs/reservation.md.
//
// Every commit that changes seats publishes the new status of each changed seat (with the row's
// version) on the coordination channel "reservation:seats:<event>" — Redis pub/sub in the scaled
// shape, in-process in the embedded one. Each replica that has viewers of the event (or a cached
// seat map of it) listens to that channel, merges what arrives into one pending set per event
// (latest version per seat wins) and, once per tick, serializes one message per event and hands it
// to the net hub, which queues the same shared buffer on every local socket. Each change is patched
// into the replica's in-memory seat map (SeatMapCache) as it arrives, and every tick marks it to be
// served before the tick's message goes out, so GET /seats is never older than the last tick.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "coord/coordinator.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/task.hpp"
#include "net/http.hpp"
#include "services/reservation/storage/reservation_store.hpp"

namespace tiketi::net {
class Hub;
}

namespace tiketi::reservation {

class SeatMapCache;

struct SeatFeedOptions {
  Millis tick_ms = 200;                     // reservation.seat_feed_tick_ms: at most one message per tick
  Millis idle_ms = 60'000;                  // stop listening to an event nobody viewed for this long
  std::size_t max_seats_per_message = 5'000;  // more changes in one tick -> "resync"
};

class SeatFeed : public std::enable_shared_from_this<SeatFeed> {
 public:
  SeatFeed(coord::CoordinatorPtr coord, net::Hub* hub, SeatMapCache* cache, ClockPtr clock, LogContext log,
           SeatFeedOptions opts);
  ~SeatFeed();

  static std::string channel(const std::string& event_id);  // coordination channel
  static std::string topic(const std::string& event_id);    // hub topic of local sockets

  // After a local commit: invalidates this replica's cache at once and publishes the change on the
  // event's channel (every listening replica, this one included, receives it).
  void publish(Executor ex, const InventoryChange& change);

  // Makes this replica listen to the event's channel (GET /seats and the WebSocket call it before
  // reading). Returns true when the subscription was made by this call.
  Task<bool> watch(const std::string& event_id);

  // Serves one viewer until it disconnects. The event must exist (checked by the caller).
  Task<void> serve(net::WebSocketPtr ws, std::string event_id);

  // The ticker: flush() every tick until stop().
  Task<void> run();
  void stop();

  // One tick now: one message per event with changes; returns how many messages went to the hub
  // (events without local viewers are cleared without serializing anything).
  int flush();

  // Introspection (tests, metrics).
  std::size_t watched() const;
  std::size_t pending_seats(const std::string& event_id) const;
  std::uint64_t messages_sent() const { return messages_.load(); }
  std::uint64_t received() const { return received_.load(); }

 private:
  struct Pending {
    SeatStatus status = SeatStatus::available;
    std::int64_t version = -1;
  };
  struct Entry {
    coord::SubscriptionPtr sub;
    bool subscribing = false;
    Millis last_used = 0;
    bool resync = false;
    std::unordered_map<std::string, Pending> pending;
    std::unordered_map<std::string, std::int64_t> sent;  // highest version already announced
    std::int64_t seq = 0;
  };

  void on_message(const std::string& event_id, const std::string& message);
  void apply(const std::string& event_id, const std::string& message);

  coord::CoordinatorPtr coord_;
  net::Hub* hub_;
  SeatMapCache* cache_;
  ClockPtr clock_;
  LogContext log_;
  SeatFeedOptions opts_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> events_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> received_{0};
};

}  // namespace tiketi::reservation
