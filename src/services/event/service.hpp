#pragma once
// The event service: catalogue with filters and cursor pagination, venues and seating plans, ticket
// types, news, admin CRUD, publish -> event.published (outbox), status automation.
#include "app/service.hpp"
#include "core/clock.hpp"
#include "store/database.hpp"

namespace tiketi::app {
ServicePtr make_event_service();
}  // namespace tiketi::app

namespace tiketi::event {

// For tests: one pass of the event service's consumer (inventory.sold_out); returns events handled.
Task<int> consume_once(app::Service& service);

struct SeedResult {
  bool created = false;  // false: the demo data was already there
  int events = 0;
};
// `tiketi seed --demo`: a venue with a 2,000-seat plan in four sections and three price categories,
// an on-sale event with its waiting room on (published: event.published goes to the outbox), a
// general-admission event, and news. Idempotent (fixed ids). The database must be migrated.
Task<SeedResult> seed_demo(store::Database& db, const Clock& clock);

}  // namespace tiketi::event
