#pragma once
// Storage of the event service (schema "event"). Writes that must be atomic with an outgoing event
// (publish, status transitions) take the outbox inside the same transaction.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/task.hpp"
#include "services/event/domain/list_query.hpp"
#include "services/event/domain/model.hpp"
#include "services/event/domain/status.hpp"
#include "store/database.hpp"

namespace tiketi::event {

inline constexpr std::size_t kSeatBatch = 500;  // rows per INSERT: 4,500 parameters, fine on both engines

struct EventRow {
  Event event;
  std::optional<std::string> venue_name;
  std::optional<PriceRange> price;
  std::map<std::string, std::string> image_keys;  // image id -> storage key, for event.image_ids
};

struct EventPage {
  std::vector<EventRow> items;
  std::optional<Cursor> next;
};

struct NewsPage {
  std::vector<News> items;
  std::optional<Cursor> next;
};

struct PublishOutcome {
  Event event;  // as stored after publish
  std::string outbox_event_id;
};

struct AppliedTransition {
  std::string event_id;
  Transition transition;
  std::string outbox_event_id;
};

class EventStore {
 public:
  EventStore(store::DatabasePtr db, ClockPtr clock);

  store::Database& db() { return *db_; }

  // Venues
  Task<void> insert_venue(Venue v);
  Task<bool> update_venue(Venue v);
  Task<std::optional<Venue>> find_venue(std::string id);
  Task<std::vector<Venue>> list_venues();
  // Throws ApiError 409 venue_in_use when an event refers to it.
  Task<bool> delete_venue(std::string id);

  // Events
  Task<void> insert_event(Event e);
  Task<bool> update_event(Event e);
  Task<std::optional<EventRow>> find_event(std::string id);
  Task<EventPage> list_events(EventListQuery q, bool admin);
  // Drafts only; the caller checks the status. Removes plan and ticket types too.
  Task<bool> delete_event(std::string id);

  // Ticket types
  Task<std::vector<TicketType>> ticket_types(std::string event_id);
  Task<void> insert_ticket_type(TicketType t);
  Task<bool> update_ticket_type(TicketType t);
  Task<bool> delete_ticket_type(std::string event_id, std::string id);

  // Seating plan: replaced as a whole, seats inserted in batches, all in one transaction.
  Task<void> replace_plan(SeatingPlan plan);
  // nullopt when the event has no plan.
  Task<std::optional<SeatingPlan>> plan(std::string event_id);

  // News
  Task<void> insert_news(News n);
  Task<bool> update_news(News n);
  Task<std::optional<News>> find_news(std::string id);
  Task<NewsPage> list_news(std::int64_t limit, std::optional<Cursor> after);
  Task<bool> delete_news(std::string id);

  // Images
  Task<void> insert_image(ImageMeta m);
  // The ids among `ids` that name no uploaded image.
  Task<std::vector<std::string>> unknown_images(std::vector<std::string> ids);

  // Validates (validate_publish) and, in one transaction, moves draft -> scheduled/on_sale and
  // writes event.published with the full inventory spec to the outbox. Throws ApiError 404,
  // 409 event_not_draft, or 409 event_not_publishable with the field problems.
  Task<PublishOutcome> publish(std::string event_id, std::string trace_id = {});

  // Status automation: applies every transition due at now (up to `batch`), each in its own
  // transaction with its event.status_changed outbox row. Safe to run twice concurrently: a
  // transition is a conditional update from the status that was read.
  Task<std::vector<AppliedTransition>> apply_due_transitions(Millis now, std::int64_t batch = 100);

  // inventory.sold_out from the reservation service, inside the consumer's transaction: marks the
  // event sold out and, when it is on sale, closes it (on_sale -> closed) with its
  // event.status_changed outbox row. Returns the transition applied, nullopt when none was due
  // (unknown event, already closed or later, or not yet on sale: then only the flag is stored).
  Task<std::optional<AppliedTransition>> mark_sold_out(store::Tx& tx, std::string event_id, Millis now,
                                                       std::string trace_id = {});

 private:
  store::DatabasePtr db_;
  ClockPtr clock_;
};

}  // namespace tiketi::event
