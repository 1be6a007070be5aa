#pragma once
// Everything the queue handlers, the live channel and the background jobs share, built in start().
#include <memory>
#include <string>

#include "app/service.hpp"
#include "core/metrics.hpp"
#include "services/common/auth_verify.hpp"
#include "services/queue/storage/line.hpp"
#include "services/queue/token/admission_token.hpp"

namespace tiketi::queue {

class Live;

// queue.* settings from Config::extra.
struct Settings {
  Millis prequeue_ms = 30 * 60'000;  // queue.prequeue_minutes: the line opens this long before the sale
  Millis abandon_ms = 60'000;        // queue.abandon_seconds: no heartbeat for this long -> removed
  Millis tick_ms = 200;              // queue.tick_ms: admission loop period
  Millis lease_ms = 3'000;           // queue.lease_ms: leader lease (failover time)
  Millis broadcast_ms = 1'000;       // queue.broadcast_ms: at most one shared position push per socket per this (0 = every tick)
  bool background = true;            // queue.background=off: jobs only run when driven (tests)
  std::int64_t max_places_per_ip = 0;  // queue.max_places_per_ip: places one IP may take per event (0 = off)
  std::int64_t max_renewals = 2;       // queue.max_renewals: shopper-session renewals per admission
  std::string admission_key;         // queue.admission_secret or derived from auth.jwt_secret
};
// Throws std::invalid_argument("setting queue.x: …").
Settings load_settings(const Config& config);

struct Metrics {
  metrics::Registry* registry = nullptr;
  metrics::Counter* admissions = nullptr;
  metrics::Counter* abandonments = nullptr;
  metrics::Counter* joins = nullptr;
  metrics::Counter* renewals = nullptr;
  metrics::Counter* ip_refusals = nullptr;
  metrics::Histogram* broadcast_lag = nullptr;
  metrics::Gauge* live_ws = nullptr;   // queue_live_clients{transport="websocket"} on this replica
  metrics::Gauge* live_sse = nullptr;  // queue_live_clients{transport="sse"}
  void set_counts(const std::string& event, std::int64_t waiting, std::int64_t active) const;
  void set_rate(const std::string& event, double rate, bool paused) const;
};

struct State {
  app::ServiceContext ctx;
  Settings settings;
  std::shared_ptr<common::Authenticator> authenticator;
  std::shared_ptr<AdmissionTokenCodec> tokens;
  std::shared_ptr<Line> line;
  std::shared_ptr<Live> live;
  Metrics metrics;
};

}  // namespace tiketi::queue
