#pragma once
// Status automation job: while holding the Coordinator lease "event-scheduler" (so exactly one
// replica runs it), applies the transitions due at ctx.clock's now and emits event.status_changed
// through the outbox for each.
#include <atomic>
#include <memory>
#include <optional>

#include "coord/coordinator.hpp"
#include "services/event/state.hpp"

namespace tiketi::event {

class Scheduler {
 public:
  Scheduler(EventState& state, std::string owner);
  // One pass: returns the transitions applied (0 when another replica holds the lease).
  Task<int> tick();
  // Loops tick() every interval_ms until stop(); also refreshes the cache version.
  Task<void> run(int interval_ms = 1'000);
  void stop();
  bool running() const { return running_.load(); }

 private:
  EventState& state_;
  std::string owner_;
  std::optional<coord::Lease> lease_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
};

}  // namespace tiketi::event
