// The list of service modules: this list is the wiring. `--services` picks which of them start.
#include <string>

#include "app/service.hpp"
#include "coord/outbox.hpp"
#include "services/auth/service.hpp"
#include "services/event/service.hpp"
#include "services/payment/service.hpp"
#include "services/queue/service.hpp"
#include "services/reservation/service.hpp"

namespace tiketi::app {
namespace {

// A service whose domain is not built yet: it owns its schema (with the outbox every service uses),
// reports its dependencies in /health/ready, and serves no routes. Replaced one by one as the
// services land (issues 3–8).
class PendingService final : public Service {
 public:
  explicit PendingService(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::vector<store::Migration> migrations() const override { return {coord::outbox_migration(1)}; }
  void routes(net::Router&) override {}
  Task<void> start(ServiceContext&) override { co_return; }
  Task<void> stop() override { co_return; }

 private:
  std::string name_;
};

template <const char* Name>
ServicePtr pending() {
  return std::make_unique<PendingService>(Name);
}

constexpr char kAuth[] = "auth";
constexpr char kEvent[] = "event";
constexpr char kQueue[] = "queue";
constexpr char kReservation[] = "reservation";
constexpr char kPayment[] = "payment";
constexpr char kNotification[] = "notification";

}  // namespace

const std::vector<std::pair<std::string, ServiceFactory>>& service_catalog() {
  static const std::vector<std::pair<std::string, ServiceFactory>> catalog{
      {kAuth, make_auth_service},
      {kEvent, make_event_service},
      {kQueue, make_queue_service},
      {kReservation, make_reservation_service},
      {kPayment, make_payment_service},
      {kNotification, pending<kNotification>},
  };
  return catalog;
}

}  // namespace tiketi::app
