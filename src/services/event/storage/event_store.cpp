#include "services/event/storage/event_store.hpp"

#include <nlohmann/json.hpp>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "services/event/domain/validation.hpp"
#include "services/event/dto/payloads.hpp"
#include "services/event/storage/sql.hpp"

namespace tiketi::event {
namespace {

// g++ 12 rejects braced lists of non-trivial values inside coroutines: build Params with this.
template <class... V>
store::Params P(V&&... v) {
  store::Params out;
  out.reserve(sizeof...(v));
  (out.push_back(store::p(std::forward<V>(v))), ...);
  return out;
}

std::string image_ids_text(const std::vector<std::string>& ids) { return nlohmann::json(ids).dump(); }

std::vector<std::string> image_ids_from(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

Venue venue_from(const store::Row& r) {
  return Venue{r.str("id"),   r.str("name"),       r.str("address"),
               r.str("city"), r.i64("created_at"), r.i64("updated_at")};
}

EventRow event_from(const store::Row& r) {
  EventRow out;
  Event& e = out.event;
  e.id = r.str("id");
  e.title = r.str("title");
  e.description = r.str("description");
  e.category = r.str("category");
  e.artist = r.str("artist");
  e.venue_id = r.opt_str("venue_id");
  e.performance_start = r.i64("performance_start");
  e.performance_end = r.i64("performance_end");
  e.sale_start = r.i64("sale_start");
  e.sale_end = r.i64("sale_end");
  e.status = parse_status(r.str("status")).value_or(EventStatus::draft);
  e.per_user_limit = r.i64("per_user_limit");
  e.hold_minutes = r.i64("hold_minutes");
  e.waiting_room.enabled = r.i64("waiting_room_enabled") != 0;
  e.waiting_room.admission_per_minute = r.i64("admission_per_minute");
  e.waiting_room.max_active = r.i64("max_active");
  e.image_ids = image_ids_from(r.str("image_ids"));
  e.sold_out = r.i64("sold_out") != 0;
  e.published_at = r.opt_i64("published_at");
  e.next_transition_at = r.opt_i64("next_transition_at");
  e.created_at = r.i64("created_at");
  e.updated_at = r.i64("updated_at");
  out.venue_name = r.opt_str("venue_name");
  return out;
}

TicketType ticket_type_from(const store::Row& r) {
  TicketType t;
  t.id = r.str("id");
  t.event_id = r.str("event_id");
  t.name = r.str("name");
  t.kind = parse_ticket_kind(r.str("kind")).value_or(TicketKind::seated);
  t.category = r.str("category");
  t.quota = r.opt_i64("quota");
  t.price = r.i64("price");
  t.sort_order = r.i64("sort_order");
  return t;
}

News news_from(const store::Row& r) {
  return News{r.str("id"),        r.str("title"),        r.str("body"),      r.i64("pinned") != 0,
              r.str("author_id"), r.i64("published_at"), r.i64("updated_at")};
}

std::string search_text(const Event& e) { return ascii_lower(e.title + "\n" + e.artist); }

store::Params event_params(const Event& e) {
  return P(e.id, e.title, e.description, e.category, e.artist, search_text(e), e.venue_id,
           e.performance_start, e.performance_end, e.sale_start, e.sale_end, std::string(to_string(e.status)),
           e.per_user_limit, e.hold_minutes, e.waiting_room.enabled, e.waiting_room.admission_per_minute,
           e.waiting_room.max_active, image_ids_text(e.image_ids), e.sold_out, e.published_at,
           e.next_transition_at);
}

// Reads shared by Database (own implicit transaction) and Tx (inside publish).
template <class X>
Task<std::optional<EventRow>> find_event_in(X& x, std::string id) {
  auto res = co_await x.exec(sql::kFindEvent, P(id));
  if (res.empty()) {
    co_return std::nullopt;
  }
  co_return event_from(res.rows.front());
}

template <class X>
Task<std::vector<TicketType>> ticket_types_in(X& x, std::string event_id) {
  auto res = co_await x.exec(sql::kListTicketTypes, P(event_id));
  std::vector<TicketType> out;
  out.reserve(res.rows.size());
  for (const auto& r : res.rows) {
    out.push_back(ticket_type_from(r));
  }
  co_return out;
}

template <class X>
Task<std::optional<SeatingPlan>> plan_in(X& x, std::string event_id) {
  SeatingPlan plan;
  plan.event_id = event_id;
  auto cats = co_await x.exec(sql::kListCategories, P(event_id));
  for (const auto& r : cats.rows) {
    plan.categories.push_back(PriceCategory{r.str("code"), r.str("name"), r.str("color")});
  }
  if (plan.categories.empty()) {
    co_return std::nullopt;
  }
  auto sections = co_await x.exec(sql::kListSections, P(event_id));
  for (const auto& r : sections.rows) {
    plan.sections.push_back(Section{r.str("code"), r.str("name"), r.i64("x"), r.i64("y")});
  }
  auto seats = co_await x.exec(sql::kListSeats, P(event_id));
  plan.seats.reserve(seats.rows.size());
  for (const auto& r : seats.rows) {
    plan.seats.push_back(Seat{r.str("id"), r.str("section"), r.str("row_label"), r.i64("number"), r.i64("x"),
                              r.i64("y"), r.str("category")});
  }
  co_return plan;
}

std::string placeholders(std::size_t first, std::size_t count) {
  std::string s = "(";
  for (std::size_t i = 0; i < count; ++i) {
    s.append(i == 0 ? "$" : ", $").append(std::to_string(first + i));
  }
  return s + ")";
}

// Fills EventRow::image_keys for every image id the rows mention, in one query.
template <class X>
Task<void> attach_image_keys(X& x, std::vector<EventRow*> rows) {
  store::Params ids;
  for (auto* r : rows) {
    for (const auto& id : r->event.image_ids) {
      ids.push_back(store::p(id));
    }
  }
  if (ids.empty()) {
    co_return;
  }
  const std::string text = "SELECT id, storage_key FROM images WHERE id IN " + placeholders(1, ids.size());
  auto res = co_await x.exec(text, std::move(ids));
  for (const auto& r : res.rows) {
    const std::string id = r.str("id");
    for (auto* row : rows) {
      for (const auto& want : row->event.image_ids) {
        if (want == id) {
          row->image_keys[id] = r.str("storage_key");
        }
      }
    }
  }
}

}  // namespace

EventStore::EventStore(store::DatabasePtr db, ClockPtr clock)
    : db_(std::move(db)), clock_(std::move(clock)) {}

// ---- venues ----

Task<void> EventStore::insert_venue(Venue v) {
  co_await db_->exec(sql::kInsertVenue, P(v.id, v.name, v.address, v.city, v.created_at, v.updated_at));
}

Task<bool> EventStore::update_venue(Venue v) {
  auto r = co_await db_->exec(sql::kUpdateVenue, P(v.id, v.name, v.address, v.city, v.updated_at));
  co_return r.affected > 0;
}

Task<std::optional<Venue>> EventStore::find_venue(std::string id) {
  auto r = co_await db_->exec(sql::kFindVenue, P(id));
  if (r.empty()) {
    co_return std::nullopt;
  }
  co_return venue_from(r.rows.front());
}

Task<std::vector<Venue>> EventStore::list_venues() {
  std::vector<Venue> out;
  auto res = co_await db_->exec(sql::kListVenues);
  for (const auto& r : res.rows) {
    out.push_back(venue_from(r));
  }
  co_return out;
}

Task<bool> EventStore::delete_venue(std::string id) {
  bool deleted = false;
  co_await db_->transaction([&](store::Tx& tx) -> Task<void> {
    auto in_use = co_await tx.exec(sql::kVenueInUse, P(id));
    if (!in_use.empty()) {
      throw ApiError(409, "venue_in_use", "Events still take place at this venue.");
    }
    auto res = co_await tx.exec(sql::kDeleteVenue, P(id));
    deleted = res.affected > 0;
  });
  co_return deleted;
}

// ---- events ----

Task<void> EventStore::insert_event(Event e) {
  auto params = event_params(e);
  params.push_back(store::p(e.created_at));
  params.push_back(store::p(e.updated_at));
  co_await db_->exec(sql::kInsertEvent, std::move(params));
}

Task<bool> EventStore::update_event(Event e) {
  auto params = event_params(e);
  params.push_back(store::p(e.updated_at));
  auto r = co_await db_->exec(sql::kUpdateEvent, std::move(params));
  co_return r.affected > 0;
}

Task<std::optional<EventRow>> EventStore::find_event(std::string id) {
  auto row = co_await find_event_in(*db_, id);
  if (row) {
    auto types = co_await ticket_types_in(*db_, id);
    row->price = price_range(types);
    std::vector<EventRow*> rows{&*row};
    co_await attach_image_keys(*db_, std::move(rows));
  }
  co_return row;
}

Task<EventPage> EventStore::list_events(EventListQuery q, bool admin) {
  std::string where;
  store::Params params;
  auto add = [&](const std::string& cond) { where += (where.empty() ? " WHERE " : " AND ") + cond; };
  auto next = [&](store::Value v) {
    params.push_back(std::move(v));
    std::string ph(1, '$');
    ph.append(std::to_string(params.size()));
    return ph;
  };
  std::vector<EventStatus> statuses = q.statuses;
  if (statuses.empty() && !admin) {
    statuses = {EventStatus::scheduled, EventStatus::on_sale, EventStatus::closed};
  }
  if (!statuses.empty()) {
    std::string in;
    for (auto s : statuses) {
      in += (in.empty() ? "" : ", ") + next(std::string(to_string(s)));
    }
    add("e.status IN (" + in + ")");
  }
  if (q.category) {
    add("e.category = " + next(*q.category));
  }
  if (q.from) {
    add("e.performance_start >= " + next(*q.from));
  }
  if (q.to) {
    add("e.performance_start < " + next(*q.to));
  }
  if (q.q) {
    add("e.search_text LIKE " + next(like_pattern(ascii_lower(*q.q))) + " ESCAPE '\\'");
  }
  const bool by_date = q.sort == "date";
  const char* key_col = by_date ? "e.performance_start" : "e.created_at";
  if (q.after) {
    const std::string k = next(q.after->key);
    const std::string id = next(q.after->id);
    const char* cmp = by_date ? ">" : "<";
    add(std::string("(") + key_col + " " + cmp + " " + k + " OR (" + key_col + " = " + k + " AND e.id " +
        cmp + " " + id + "))");
  }
  std::string text = std::string(sql::kListEventsHead) + where + " ORDER BY " + key_col +
                     (by_date ? ", e.id" : " DESC, e.id DESC") + " LIMIT " + next(q.limit + 1);
  auto res = co_await db_->exec(text, std::move(params));

  EventPage page;
  for (const auto& r : res.rows) {
    page.items.push_back(event_from(r));
  }
  if (static_cast<std::int64_t>(page.items.size()) > q.limit) {
    page.items.pop_back();
    const Event& last = page.items.back().event;
    page.next = Cursor{q.sort, by_date ? last.performance_start : last.created_at, last.id};
  }
  if (!page.items.empty()) {
    store::Params ids;
    for (const auto& it : page.items) {
      ids.push_back(store::p(it.event.id));
    }
    auto prices = co_await db_->exec(
        std::string(sql::kPriceRanges) + placeholders(1, ids.size()) + " GROUP BY event_id", std::move(ids));
    for (const auto& r : prices.rows) {
      for (auto& it : page.items) {
        if (it.event.id == r.str("event_id")) {
          it.price = PriceRange{r.i64("min_price"), r.i64("max_price")};
        }
      }
    }
    std::vector<EventRow*> rows;
    for (auto& it : page.items) {
      rows.push_back(&it);
    }
    co_await attach_image_keys(*db_, std::move(rows));
  }
  co_return page;
}

Task<bool> EventStore::delete_event(std::string id) {
  bool deleted = false;
  co_await db_->transaction([&](store::Tx& tx) -> Task<void> {
    co_await tx.exec(sql::kDeleteSeats, P(id));
    co_await tx.exec(sql::kDeleteSections, P(id));
    co_await tx.exec(sql::kDeleteCategories, P(id));
    co_await tx.exec(sql::kDeleteTicketTypes, P(id));
    auto res = co_await tx.exec(sql::kDeleteEvent, P(id));
    deleted = res.affected > 0;
  });
  co_return deleted;
}

// ---- ticket types ----

Task<std::vector<TicketType>> EventStore::ticket_types(std::string event_id) {
  co_return co_await ticket_types_in(*db_, event_id);
}

Task<void> EventStore::insert_ticket_type(TicketType t) {
  co_await db_->exec(sql::kInsertTicketType, P(t.id, t.event_id, t.name, std::string(to_string(t.kind)),
                                               t.category, t.quota, t.price, t.sort_order));
}

Task<bool> EventStore::update_ticket_type(TicketType t) {
  auto r =
      co_await db_->exec(sql::kUpdateTicketType, P(t.id, t.event_id, t.name, std::string(to_string(t.kind)),
                                                   t.category, t.quota, t.price, t.sort_order));
  co_return r.affected > 0;
}

Task<bool> EventStore::delete_ticket_type(std::string event_id, std::string id) {
  auto r = co_await db_->exec(sql::kDeleteTicketType, P(id, event_id));
  co_return r.affected > 0;
}

// ---- seating plan ----

Task<void> EventStore::replace_plan(SeatingPlan plan) {
  // Build the batched statements before the transaction: a retry re-runs only the I/O.
  std::vector<std::pair<std::string, store::Params>> batches;
  for (std::size_t start = 0; start < plan.seats.size(); start += kSeatBatch) {
    const std::size_t n = std::min(kSeatBatch, plan.seats.size() - start);
    std::string text = sql::kInsertSeatsHead;
    store::Params params;
    params.reserve(n * 9);
    for (std::size_t i = 0; i < n; ++i) {
      const Seat& s = plan.seats[start + i];
      text += (i == 0 ? "" : ", ") + placeholders(params.size() + 1, 9);
      params.push_back(store::p(plan.event_id));
      params.push_back(store::p(s.id));
      params.push_back(store::p(s.section));
      params.push_back(store::p(s.row));
      params.push_back(store::p(s.number));
      params.push_back(store::p(s.x));
      params.push_back(store::p(s.y));
      params.push_back(store::p(s.category));
      params.push_back(store::p(static_cast<std::int64_t>(start + i)));
    }
    batches.emplace_back(std::move(text), std::move(params));
  }
  co_await db_->transaction([&](store::Tx& tx) -> Task<void> {
    co_await tx.exec(sql::kDeleteSeats, P(plan.event_id));
    co_await tx.exec(sql::kDeleteSections, P(plan.event_id));
    co_await tx.exec(sql::kDeleteCategories, P(plan.event_id));
    for (std::size_t i = 0; i < plan.categories.size(); ++i) {
      const auto& c = plan.categories[i];
      co_await tx.exec(sql::kInsertCategory,
                       P(plan.event_id, c.code, c.name, c.color, static_cast<std::int64_t>(i)));
    }
    for (std::size_t i = 0; i < plan.sections.size(); ++i) {
      const auto& s = plan.sections[i];
      co_await tx.exec(sql::kInsertSection,
                       P(plan.event_id, s.code, s.name, s.x, s.y, static_cast<std::int64_t>(i)));
    }
    for (const auto& [text, params] : batches) {
      co_await tx.exec(text, params);
    }
  });
}

Task<std::optional<SeatingPlan>> EventStore::plan(std::string event_id) {
  co_return co_await plan_in(*db_, event_id);
}

// ---- news ----

Task<void> EventStore::insert_news(News n) {
  co_await db_->exec(sql::kInsertNews,
                     P(n.id, n.title, n.body, n.pinned, n.author_id, n.published_at, n.updated_at));
}

Task<bool> EventStore::update_news(News n) {
  auto r = co_await db_->exec(sql::kUpdateNews, P(n.id, n.title, n.body, n.pinned, n.updated_at));
  co_return r.affected > 0;
}

Task<std::optional<News>> EventStore::find_news(std::string id) {
  auto r = co_await db_->exec(sql::kFindNews, P(id));
  if (r.empty()) {
    co_return std::nullopt;
  }
  co_return news_from(r.rows.front());
}

Task<NewsPage> EventStore::list_news(std::int64_t limit, std::optional<Cursor> after) {
  store::Result res;
  if (after) {
    res = co_await db_->exec(sql::kListNewsAfter, P(limit + 1, after->key, after->id));
  } else {
    res = co_await db_->exec(sql::kListNewsFirst, P(limit + 1));
  }
  NewsPage page;
  for (const auto& r : res.rows) {
    page.items.push_back(news_from(r));
  }
  if (static_cast<std::int64_t>(page.items.size()) > limit) {
    page.items.pop_back();
    page.next = Cursor{"news", page.items.back().published_at, page.items.back().id};
  }
  co_return page;
}

Task<bool> EventStore::delete_news(std::string id) {
  auto res = co_await db_->exec(sql::kDeleteNews, P(id));
  co_return res.affected > 0;
}

Task<std::vector<std::string>> EventStore::unknown_images(std::vector<std::string> ids) {
  std::vector<std::string> missing;
  if (ids.empty()) {
    co_return missing;
  }
  store::Params params;
  for (const auto& id : ids) {
    params.push_back(store::p(id));
  }
  const std::string text = "SELECT id FROM images WHERE id IN " + placeholders(1, params.size());
  auto res = co_await db_->exec(text, std::move(params));
  for (const auto& id : ids) {
    bool found = false;
    for (const auto& r : res.rows) {
      found = found || r.str("id") == id;
    }
    if (!found) {
      missing.push_back(id);
    }
  }
  co_return missing;
}

Task<void> EventStore::insert_image(ImageMeta m) {
  co_await db_->exec(
      "INSERT INTO images (id, content_type, size, storage_key, created_at) VALUES ($1, $2, $3, $4, $5)",
      P(m.id, m.content_type, m.size, m.storage_key, m.created_at));
}

// ---- publish and automation ----

Task<PublishOutcome> EventStore::publish(std::string event_id, std::string trace_id) {
  PublishOutcome out;
  const Millis now = clock_->now_ms();
  co_await db_->transaction([&](store::Tx& tx) -> Task<void> {
    auto row = co_await find_event_in(tx, event_id);
    if (!row) {
      throw errors::not_found("event");
    }
    Event e = row->event;
    if (e.status != EventStatus::draft) {
      throw ApiError(409, "event_not_draft", "This event is already published.");
    }
    bool venue_exists = false;
    if (e.venue_id) {
      auto venue = co_await tx.exec(sql::kFindVenue, P(*e.venue_id));
      venue_exists = !venue.empty();
    }
    auto types = co_await ticket_types_in(tx, e.id);
    auto plan = co_await plan_in(tx, e.id);
    auto problems = validate_publish(PublishCheck{&e, venue_exists, &types, plan ? &*plan : nullptr, now});
    if (!problems.empty()) {
      throw ApiError(409, "event_not_publishable", "The event is not ready to be published.",
                     std::move(problems));
    }
    // Publishing makes it scheduled; if the sale has already started it goes straight on sale.
    e.status = EventStatus::scheduled;
    e.status = due_status(e, now);
    e.next_transition_at = next_transition_at(e);
    e.published_at = now;
    e.updated_at = now;
    auto r = co_await tx.exec(
        sql::kTransitionStatus,
        P(e.id, std::string(to_string(e.status)), e.next_transition_at, now, now, std::string("draft")));
    if (r.affected != 1) {
      throw ApiError(409, "event_not_draft", "This event is already published.");
    }
    auto payload = published_payload(e, types, plan ? &*plan : nullptr, now);
    out.outbox_event_id =
        co_await coord::Outbox::add(tx, *clock_, "event.published", e.id, std::move(payload), trace_id);
    out.event = e;
  });
  co_return out;
}

Task<std::vector<AppliedTransition>> EventStore::apply_due_transitions(Millis now, std::int64_t batch) {
  std::vector<AppliedTransition> applied;
  auto due = co_await db_->exec(sql::kDueEvents, P(now, batch));
  for (const auto& r : due.rows) {
    Event e = event_from(r).event;
    auto t = due_transition(e, now);
    std::optional<AppliedTransition> done;
    co_await db_->transaction([&](store::Tx& tx) -> Task<void> {
      done.reset();  // the body may run again after a retryable error
      Event next = e;
      if (t) {
        next.status = t->to;
      }
      next.next_transition_at = next_transition_at(next);
      auto res = co_await tx.exec(sql::kTransitionStatus,
                                  P(e.id, std::string(to_string(next.status)), next.next_transition_at,
                                    std::optional<Millis>{}, now, std::string(to_string(e.status))));
      if (res.affected != 1 || !t) {
        co_return;  // someone else moved it first, or only the due time needed refreshing
      }
      auto id = co_await coord::Outbox::add(tx, *clock_, "event.status_changed", e.id,
                                            status_changed_payload(next, *t, now));
      done = AppliedTransition{e.id, *t, id};
    });
    if (done) {
      applied.push_back(std::move(*done));
    }
  }
  co_return applied;
}

Task<std::optional<AppliedTransition>> EventStore::mark_sold_out(store::Tx& tx, std::string event_id, Millis now,
                                                                  std::string trace_id) {
  auto row = co_await find_event_in(tx, event_id);
  if (!row) {
    co_return std::nullopt;  // not ours (or deleted): nothing to close
  }
  Event e = row->event;
  if (e.status == EventStatus::draft || e.status == EventStatus::cancelled) {
    co_return std::nullopt;
  }
  auto flag = co_await tx.exec(sql::kMarkSoldOut, P(e.id, now));
  (void)flag;
  e.sold_out = true;
  // Only a sale in progress closes early; a late message for an ended event changes nothing, and
  // one that (impossibly) precedes the sale start leaves the flag for the scheduler.
  if (e.status != EventStatus::on_sale) {
    co_return std::nullopt;
  }
  const Transition t{EventStatus::on_sale, EventStatus::closed};
  Event next = e;
  next.status = EventStatus::closed;
  next.next_transition_at = next_transition_at(next);
  auto res = co_await tx.exec(sql::kTransitionStatus,
                              P(e.id, std::string(to_string(next.status)), next.next_transition_at,
                                std::optional<Millis>{}, now, std::string(to_string(e.status))));
  if (res.affected != 1) {
    co_return std::nullopt;
  }
  auto id = co_await coord::Outbox::add(tx, *clock_, "event.status_changed", e.id,
                                        status_changed_payload(next, t, now), trace_id);
  co_return AppliedTransition{e.id, t, id};
}

}  // namespace tiketi::event
