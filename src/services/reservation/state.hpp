#pragma once
// Everything the reservation handlers and background jobs share, built in start().
#include <memory>
#include <string>

#include "app/service.hpp"
#include "core/metrics.hpp"
#include "services/common/auth_verify.hpp"
#include "services/reservation/domain/admission.hpp"
#include "services/reservation/live_seats.hpp"
#include "services/reservation/seat_cache.hpp"
#include "services/reservation/storage/reservation_store.hpp"

namespace tiketi::reservation {

struct Settings {
  std::int64_t quota_stripes = 32;   // reservation.quota_stripes
  std::int64_t sqlite_hold_batch = 64;  // reservation.sqlite_hold_batch (1 = no group commit)
  std::int64_t pg_hold_batch = 64;      // reservation.pg_hold_batch (1 = no group commit)
  std::int64_t pg_hold_inflight = 2;    // reservation.pg_hold_inflight: batches running at once
  Millis sweep_interval_ms = 1'000;  // reservation.sweep_interval_ms
  Millis seat_cache_ms = 1'000;      // reservation.seat_cache_ms
  Millis seat_feed_tick_ms = 200;    // reservation.seat_feed_tick_ms: live seat map batching
  Millis metrics_interval_ms = 10'000;  // reservation.metrics_interval_ms: gauges + sold-out check
  std::string admission_secret;      // queue.admission_secret (derived from auth.jwt_secret if unset)
  std::optional<std::string> internal_token;  // reservation.internal_token: guards /internal routes
};

// Reads reservation.* from Config::extra; throws std::invalid_argument("setting reservation.x: …").
Settings load_settings(const Config& config);

struct Metrics {
  metrics::Counter* hold_ok = nullptr;
  metrics::Counter* hold_unavailable = nullptr;
  metrics::Counter* hold_sold_out = nullptr;
  metrics::Counter* hold_limit = nullptr;
  metrics::Counter* hold_admission = nullptr;
  metrics::Counter* hold_expired_token = nullptr;
  metrics::Counter* hold_invalid = nullptr;
  metrics::Counter* confirmed = nullptr;
  metrics::Counter* confirmation_failed = nullptr;
  metrics::Counter* expired = nullptr;
  metrics::Counter* cancelled = nullptr;
  metrics::Histogram* hold_seconds = nullptr;
  metrics::Counter* sold_out = nullptr;
  metrics::Registry* registry = nullptr;
};

struct State {
  app::ServiceContext ctx;
  Settings settings;
  std::shared_ptr<common::Authenticator> authenticator;
  AdmissionVerifierPtr admission;
  std::unique_ptr<ReservationStore> store;
  std::unique_ptr<SeatMapCache> seats;
  std::shared_ptr<SeatFeed> feed;  // live seat map (WebSocket) and cross-replica invalidation
  Metrics metrics;
};

}  // namespace tiketi::reservation
