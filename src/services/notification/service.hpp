#pragma once
// The notification service: consumes reservation.* / payment.* events, renders per-language templates
// and sends email (SMTP, or .eml files in the embedded default) with retries and a per-(event,
// recipient) delivery log, so a fan gets each email once. Admin: GET /api/v1/admin/notifications.
#include "app/service.hpp"

namespace tiketi::app {
ServicePtr make_notification_service();
}  // namespace tiketi::app

namespace tiketi::notification {

struct NotificationState;
class Sender;

// For tests: the running state and sender of a started notification service (nullptr otherwise),
// and its event consumer (to drive it with poll_once()).
NotificationState* state_of(app::Service& service);
Sender* sender_of(app::Service& service);
Task<int> poll_events_once(app::Service& service);

}  // namespace tiketi::notification
