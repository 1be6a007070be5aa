#pragma once
// The admission loop. Every replica runs one; for each event whose line is open, the replica that
// holds the lease "queue:leader:<event>" (fencing token checked inside the admission script) ticks:
// ends expired shopper sessions, admits by rate and free capacity, sweeps abandoned waiters, runs
// the opening once, and publishes one tick message on "queue:<event>" for every replica to fan out.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/log.hpp"
#include "services/queue/storage/line.hpp"

namespace tiketi::queue {

struct AdmitterOptions {
  Millis tick_ms = 200;
  Millis lease_ms = 3'000;     // a dead leader is replaced within this
  Millis abandon_ms = 60'000;  // no heartbeat for this long -> removed from the line
  Millis sweep_every_ms = 1'000;
  Millis keepalive_ms = 1'000;  // a tick message at least this often, even when nothing moved
};

// What one tick did, for metrics and tests.
struct TickReport {
  bool leader = false;
  bool opened_now = false;
  AdmitStep step;
  std::int64_t abandoned = 0;
  bool published = false;
  double rate = 0;      // the rate in force (admin override applied)
  bool paused = false;  // admission paused by an admin
};

// The tick message on channel "queue:<event>" (JSON):
//   {"type":"tick","event":E,"head":H,"admitted":[[user,seq],…],"count":k,"waiting":W,"active":A,
//    "maxActive":M,"sessionMs":S,"rate":r,"paused":bool,"reshuffled":bool,"ts":ms,
//    "exp":session expiry of those admitted}
std::string channel_for(const std::string& event);
std::string tick_message(const std::string& event, const AdmitStep& step, const QueueSettings& settings,
                         bool reshuffled, Millis ts, Millis session_expires_at);

class Admitter {
 public:
  using OnTick = std::function<void(const std::string& event, const TickReport&)>;
  Admitter(std::shared_ptr<Line> line, ClockPtr clock, std::string owner, AdmitterOptions opts,
           LogContext log, OnTick on_tick = {});
  ~Admitter();

  // Ticks every event every tick_ms until stop().
  Task<void> run();
  // One pass over every known event (tests drive this with a ManualClock).
  Task<void> tick_all();
  // One tick of one event; not the leader -> report.leader == false.
  Task<TickReport> tick(std::string event);
  // Gives up every lease (a clean shutdown hands leadership over at once).
  Task<void> release_all();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tiketi::queue
