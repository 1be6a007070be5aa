#pragma once
// Releases expired holds. In the scaled shape every replica runs one, but only the holder of the
// coordinator lease "reservation:sweeper" works; holds are also checked lazily by every hold, so
// an expired hold never blocks a buyer even while no sweeper runs.
#include <atomic>
#include <memory>
#include <string>

#include "coord/coordinator.hpp"
#include "core/log.hpp"
#include "core/task.hpp"

namespace tiketi::reservation {

class ReservationStore;

class Sweeper {
 public:
  Sweeper(ReservationStore& store, coord::CoordinatorPtr coord, std::string owner, Millis interval_ms,
          LogContext log, std::function<void(int)> on_expired);
  Task<void> run();
  Task<int> sweep_once();  // as leader or not
  void stop();
  bool running() const { return running_.load(); }

 private:
  ReservationStore& store_;
  coord::CoordinatorPtr coord_;
  std::string owner_;
  Millis interval_ms_;
  LogContext log_;
  std::function<void(int)> on_expired_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> running_{false};
};

}  // namespace tiketi::reservation
