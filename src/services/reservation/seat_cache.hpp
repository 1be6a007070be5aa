#pragma once
// The seat map served to thousands of fans (GET /api/v1/events/{id}/seats): one JSON snapshot per
// event, kept in memory and patched from the seat changes the live feed already carries, instead of
// reading the whole map from the database after every change.
//
//  - The first read of an event (and a reload: resync, a new subscription, every reload_ms) reads
//    the map once from the database; the static part of each seat (id, label, type, price) is
//    pre-rendered then.
//  - apply(): the new status of some seats (highest version per seat wins, so a late or duplicated
//    delivery never regresses a seat). Cheap: patches an array, renders nothing.
//  - tick(): called by the seat feed at every tick, just before it sends the tick's message to the
//    sockets. Everything applied before a tick is in every snapshot served after it; the snapshot is
//    re-rendered (once, readers arriving meanwhile wait for it) on the first read after a tick with
//    changes. So a reader never gets a map older than the last tick, and at most one render per tick
//    happens however many readers and holds there are.
//  - Quotas (GA availability) are re-read (a few rows) on the first read after a tick that saw a
//    quota change.
// The ETag is a hash of the content (304 when unchanged).
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/task.hpp"
#include "services/reservation/storage/reservation_store.hpp"

namespace tiketi::reservation {

struct SeatSnapshot {
  std::shared_ptr<const std::string> body;  // JSON
  std::string etag;                         // W/"…"
};

class SeatMapCache {
 public:
  // max_age_ms: longest a rendered snapshot is served (held seats turn free when their hold runs out,
  // so even an unchanged map is re-rendered — from memory — after this). reload_ms: longest the
  // in-memory map goes without a full read from the database (a safety net for a lost change).
  SeatMapCache(ReservationStore& store, ClockPtr clock, Millis max_age_ms, Millis reload_ms = 30'000);
  // Throws ApiError not_found for an unknown event.
  Task<SeatSnapshot> get(const std::string& event_id);
  // The next read reloads the whole map from the database (inventory changed, resync, subscription).
  void invalidate(const std::string& event_id);
  // Seat statuses after commits (any replica). Takes effect for readers at the next tick().
  void apply(const std::string& event_id, const std::vector<SeatChange>& changes);
  // A GA quota changed: re-read at the next render.
  void quotas_changed(const std::string& event_id);
  // The feed's tick: what was applied so far must be in every snapshot served from now on.
  void tick(const std::string& event_id);
  // Forget an event (nobody views it any more; its changes are no longer received).
  void drop(const std::string& event_id);

  // Seats by status {available, held, sold} of a map held in memory (an expired hold counts as
  // available), or nullopt when the event is not cached or due for a reload. What the gauges use
  // for events fans are viewing: counting 50,000 seats here costs well under a millisecond, the
  // same count in the database a scan that stalled holds for tens of ms every gauge interval.
  std::optional<std::array<std::int64_t, 3>> counts(const std::string& event_id);

  std::uint64_t builds() const { return builds_.load(); }    // full reads from the database
  std::uint64_t renders() const { return renders_.load(); }  // JSON renders (from memory)

 private:
  struct Static;  // per-seat pre-rendered JSON and the id -> index map, immutable once loaded
  struct Entry {
    std::shared_ptr<const Static> seats;
    std::vector<std::uint8_t> status;   // SeatStatus per seat, in the map's order
    std::vector<Millis> expires;        // hold expiry per seat (held only)
    std::vector<std::int64_t> version;  // highest version applied per seat
    std::string quotas_json = "[]";
    bool quotas_dirty = true;

    SeatSnapshot snapshot;
    bool has_snapshot = false;
    Millis rendered_at = 0;
    std::uint64_t applied_gen = 0;   // bumped by every apply that changed something
    std::uint64_t flushed_gen = 0;   // applied_gen at the last tick
    std::uint64_t rendered_gen = 0;  // applied_gen the snapshot was rendered from

    bool loaded = false;
    bool reload = false;       // invalidate(): read everything again before serving
    std::uint64_t reload_gen = 0;
    Millis loaded_at = 0;
    bool busy = false;         // a load or render is running
    bool loading = false;      // changes arriving now are buffered for the load
    std::vector<SeatChange> during_load;
  };

  Task<void> load(const std::string& event_id, std::uint64_t reload_gen);
  Task<SeatSnapshot> render(const std::string& event_id);
  static bool apply_one(Entry& e, const SeatChange& c);

  ReservationStore& store_;
  ClockPtr clock_;
  Millis max_age_ms_;
  Millis reload_ms_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::atomic<std::uint64_t> builds_{0};
  std::atomic<std::uint64_t> renders_{0};
};

}  // namespace tiketi::reservation
