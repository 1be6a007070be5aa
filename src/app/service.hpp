#pragma once
// A service module: name, routes, migrations, background jobs, health checks. The registry starts
// the selected modules in order and stops them in reverse. A service never knows which shape it
// runs in: it only sees the ports in its ServiceContext.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coord/coordinator.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/task.hpp"
#include "net/client.hpp"
#include "net/hub.hpp"
#include "net/router.hpp"
#include "store/database.hpp"

namespace tiketi::metrics {
class Registry;
}

namespace tiketi::app {

struct HealthCheck {
  std::string name;  // "db", "redis", ...
  std::function<Task<bool>()> check;
};

struct ServiceContext {
  const Config* config = nullptr;
  store::DatabasePtr db;        // this service's own database/schema
  coord::CoordinatorPtr coord;  // shared coordination
  ClockPtr clock;
  metrics::Registry* metrics = nullptr;
  net::HttpClient* client = nullptr;  // calls to other services (in-process when local)
  net::Hub* hub = nullptr;            // WebSocket fan-out
  Executor executor;                  // for background jobs
  LogContext log;                     // service name filled in
  std::string instance_id;            // unique per process (leases, consumer names)
};

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string name() const = 0;
  virtual std::vector<store::Migration> migrations() const = 0;
  virtual void routes(net::Router& router) = 0;
  // Start background jobs (spawned on ctx.executor); called after migrations and before listening.
  virtual Task<void> start(ServiceContext& ctx) = 0;
  // Stop background jobs; called in reverse order on shutdown.
  virtual Task<void> stop() = 0;
  virtual std::vector<HealthCheck> health_checks() { return {}; }
};
using ServicePtr = std::unique_ptr<Service>;

// The list of modules is the wiring (services.cpp): name -> factory.
using ServiceFactory = std::function<ServicePtr()>;
const std::vector<std::pair<std::string, ServiceFactory>>& service_catalog();

}  // namespace tiketi::app
