#pragma once
// Housekeeping: deletes refresh tokens past expiry (plus a grace period, so a late replay of a
// rotated token is still recognised as reuse for a while). In the scaled shape every replica runs
// the loop but only the holder of the lease (auth.token_cleanup_lease, default
// "auth:token-cleanup") deletes.
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "coord/coordinator.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/task.hpp"
#include "services/auth/storage/auth_store.hpp"

namespace tiketi::auth {

class TokenCleanup : public std::enable_shared_from_this<TokenCleanup> {
 public:
  TokenCleanup(AuthStore& store, coord::CoordinatorPtr coord, ClockPtr clock, std::string lease_name,
               std::string owner, Millis interval_ms, Millis grace_ms, LogContext log, metrics::Counter* deleted);

  // Deletes every token that expired more than `grace` ago, in batches; returns how many.
  Task<std::int64_t> run_once();
  // One pass if this instance holds (or can take) the lease; nullopt when another one holds it.
  Task<std::optional<std::int64_t>> run_if_leader();
  // The loop: run_if_leader() every interval until stop(). Spawn with a handler that keeps this alive.
  Task<void> run();
  void stop();

 private:
  struct Timer;
  AuthStore& store_;
  coord::CoordinatorPtr coord_;
  ClockPtr clock_;
  std::string lease_name_;
  std::string owner_;
  Millis interval_ms_;
  Millis grace_ms_;
  LogContext log_;
  metrics::Counter* deleted_;
  std::optional<coord::Lease> lease_;
  std::shared_ptr<Timer> timer_;
  std::atomic<bool> stopped_{false};
};

}  // namespace tiketi::auth
