// The list of service modules: this list is the wiring. `--services` picks which of them start, in
// this order, and they stop in reverse.
#include "app/service.hpp"
#include "services/auth/service.hpp"
#include "services/event/service.hpp"
#include "services/notification/service.hpp"
#include "services/payment/service.hpp"
#include "services/queue/service.hpp"
#include "services/reservation/service.hpp"

namespace tiketi::app {

const std::vector<std::pair<std::string, ServiceFactory>>& service_catalog() {
  static const std::vector<std::pair<std::string, ServiceFactory>> catalog{
      {"auth", make_auth_service},       {"event", make_event_service},
      {"queue", make_queue_service},     {"reservation", make_reservation_service},
      {"payment", make_payment_service}, {"notification", make_notification_service},
  };
  return catalog;
}

}  // namespace tiketi::app
