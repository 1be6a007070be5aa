// Admin CRUD. Every change invalidates the public cache; inventory is frozen once published.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/event/dto/api.hpp"
#include "services/event/handlers/handlers.hpp"

namespace tiketi::event::handlers {
namespace {

using nlohmann::json;

net::Response ok(json j, int status = 200) { return net::Response::json(status, j.dump()); }

Task<Event> load_event(EventState& s, const std::string& id) {
  auto row = co_await s.store->find_event(id);
  if (!row) {
    throw errors::not_found("event");
  }
  co_return row->event;
}

void require_draft(const Event& e, std::string_view what) {
  if (e.status != EventStatus::draft) {
    throw ApiError(409, "inventory_locked",
                   "The event is published: " + std::string(what) + " would change what is on sale.");
  }
}

Task<void> require_venue(EventState& s, const Event& e) {
  if (!e.venue_id) {
    co_return;
  }
  // Named results only: g++ 12 mishandles temporaries of co_await inside conditions.
  const std::string venue_id = *e.venue_id;
  auto venue = co_await s.store->find_venue(venue_id);
  if (!venue) {
    throw errors::validation({{"venue_id", "must name an existing venue"}});
  }
}

// Events may only point at images that were uploaded (POST /api/v1/admin/images).
Task<void> require_images(EventState& s, const Event& e) {
  const std::vector<std::string> ids = e.image_ids;
  auto missing = co_await s.store->unknown_images(ids);
  if (!missing.empty()) {
    throw errors::validation({{"image_ids", "names an image that was never uploaded: " + missing.front()}});
  }
}

}  // namespace

Task<net::Response> admin_events_list(EventState& s, net::Request& req) {
  auto q = parse_event_list_query(req.query, true);
  auto page = co_await s.store->list_events(q, true);
  json items = json::array();
  for (const auto& it : page.items) {
    items.push_back(summary_json(it, s.image_settings.public_base_url));
  }
  co_return ok(
      {{"items", std::move(items)}, {"next_cursor", page.next ? json(encode_cursor(*page.next)) : json()}});
}

Task<net::Response> admin_event_create(EventState& s, net::Request& req) {
  auto in = parse_event_body(req.body, nullptr);
  Event& e = in.event;
  co_await require_venue(s, e);
  co_await require_images(s, e);
  const Millis now = s.ctx.clock->now_ms();
  e.id = ids::uuid_v7(now);
  e.status = EventStatus::draft;
  e.created_at = now;
  e.updated_at = now;
  co_await s.store->insert_event(e);
  co_await s.invalidate();
  auto row = co_await s.store->find_event(e.id);
  co_return ok(detail_json(*row, {}, s.image_settings.public_base_url), 201);
}

Task<net::Response> admin_event_get(EventState& s, net::Request& req) {
  auto row = co_await s.store->find_event(req.param("id"));
  if (!row) {
    throw errors::not_found("event");
  }
  auto types = co_await s.store->ticket_types(row->event.id);
  co_return ok(detail_json(*row, types, s.image_settings.public_base_url));
}

Task<net::Response> admin_event_update(EventState& s, net::Request& req) {
  Event base = co_await load_event(s, req.param("id"));
  auto in = parse_event_body(req.body, &base);
  if (base.status != EventStatus::draft && touches_inventory(in.changed)) {
    require_draft(base, "changing the venue, times, limits or waiting room");
  }
  co_await require_venue(s, in.event);
  if (in.changed.count("image_ids") != 0) {
    co_await require_images(s, in.event);
  }
  in.event.updated_at = s.ctx.clock->now_ms();
  co_await s.store->update_event(in.event);
  co_await s.invalidate();
  auto row = co_await s.store->find_event(in.event.id);
  auto types = co_await s.store->ticket_types(in.event.id);
  co_return ok(detail_json(*row, types, s.image_settings.public_base_url));
}

Task<net::Response> admin_event_delete(EventState& s, net::Request& req) {
  Event e = co_await load_event(s, req.param("id"));
  require_draft(e, "deleting it");
  co_await s.store->delete_event(e.id);
  co_await s.invalidate();
  co_return net::Response::no_content();
}

Task<net::Response> admin_event_publish(EventState& s, net::Request& req) {
  auto out = co_await s.store->publish(req.param("id"), req.log.trace_id);
  co_await s.invalidate();
  auto row = co_await s.store->find_event(out.event.id);
  auto types = co_await s.store->ticket_types(out.event.id);
  auto j = detail_json(*row, types, s.image_settings.public_base_url);
  j["outbox_event_id"] = out.outbox_event_id;
  co_return ok(std::move(j));
}

Task<net::Response> admin_seating_put(EventState& s, net::Request& req) {
  Event e = co_await load_event(s, req.param("id"));
  require_draft(e, "replacing the seating plan");
  auto spec = parse_plan_body(req.body);
  auto plan = generate_plan(e.id, spec);  // 400 seating_plan_too_large before any allocation
  co_await s.store->replace_plan(plan);
  co_await s.invalidate();
  co_return ok({{"event_id", e.id},
                {"seat_count", plan.seats.size()},
                {"sections", plan.sections.size()},
                {"categories", plan.categories.size()}});
}

Task<net::Response> admin_ticket_types_list(EventState& s, net::Request& req) {
  Event e = co_await load_event(s, req.param("id"));
  json items = json::array();
  auto types = co_await s.store->ticket_types(e.id);
  for (const auto& t : types) {
    items.push_back(to_json(t));
  }
  co_return ok({{"items", std::move(items)}});
}

Task<net::Response> admin_ticket_type_create(EventState& s, net::Request& req) {
  Event e = co_await load_event(s, req.param("id"));
  require_draft(e, "adding a ticket type");
  auto t = parse_ticket_type_body(req.body, nullptr);
  t.id = ids::uuid_v7(s.ctx.clock->now_ms());
  t.event_id = e.id;
  co_await s.store->insert_ticket_type(t);
  co_await s.invalidate();
  co_return ok(to_json(t), 201);
}

Task<net::Response> admin_ticket_type_update(EventState& s, net::Request& req) {
  Event e = co_await load_event(s, req.param("id"));
  const std::string tid = req.param("ticket_type_id");
  std::optional<TicketType> base;
  auto types = co_await s.store->ticket_types(e.id);
  for (auto& t : types) {
    if (t.id == tid) {
      base = t;
    }
  }
  if (!base) {
    throw errors::not_found("ticket type");
  }
  require_draft(e, "changing a ticket type");
  auto t = parse_ticket_type_body(req.body, &*base);
  co_await s.store->update_ticket_type(t);
  co_await s.invalidate();
  co_return ok(to_json(t));
}

Task<net::Response> admin_ticket_type_delete(EventState& s, net::Request& req) {
  Event e = co_await load_event(s, req.param("id"));
  require_draft(e, "removing a ticket type");
  const bool deleted = co_await s.store->delete_ticket_type(e.id, req.param("ticket_type_id"));
  if (!deleted) {
    throw errors::not_found("ticket type");
  }
  co_await s.invalidate();
  co_return net::Response::no_content();
}

Task<net::Response> admin_venues_list(EventState& s, net::Request&) {
  json items = json::array();
  auto venues = co_await s.store->list_venues();
  for (const auto& v : venues) {
    items.push_back(to_json(v));
  }
  co_return ok({{"items", std::move(items)}});
}

Task<net::Response> admin_venue_create(EventState& s, net::Request& req) {
  auto v = parse_venue_body(req.body, nullptr);
  const Millis now = s.ctx.clock->now_ms();
  v.id = ids::uuid_v7(now);
  v.created_at = now;
  v.updated_at = now;
  co_await s.store->insert_venue(v);
  co_await s.invalidate();
  co_return ok(to_json(v), 201);
}

Task<net::Response> admin_venue_get(EventState& s, net::Request& req) {
  auto v = co_await s.store->find_venue(req.param("id"));
  if (!v) {
    throw errors::not_found("venue");
  }
  co_return ok(to_json(*v));
}

Task<net::Response> admin_venue_update(EventState& s, net::Request& req) {
  auto base = co_await s.store->find_venue(req.param("id"));
  if (!base) {
    throw errors::not_found("venue");
  }
  auto v = parse_venue_body(req.body, &*base);
  v.updated_at = s.ctx.clock->now_ms();
  co_await s.store->update_venue(v);
  co_await s.invalidate();
  co_return ok(to_json(v));
}

Task<net::Response> admin_venue_delete(EventState& s, net::Request& req) {
  const bool deleted = co_await s.store->delete_venue(req.param("id"));
  if (!deleted) {
    throw errors::not_found("venue");
  }
  co_await s.invalidate();
  co_return net::Response::no_content();
}

Task<net::Response> admin_news_create(EventState& s, net::Request& req) {
  auto n = parse_news_body(req.body, nullptr);
  const Millis now = s.ctx.clock->now_ms();
  n.id = ids::uuid_v7(now);
  n.author_id = req.principal ? req.principal->user_id : "";
  n.published_at = now;
  n.updated_at = now;
  co_await s.store->insert_news(n);
  co_await s.invalidate();
  co_return ok(to_json(n), 201);
}

Task<net::Response> admin_news_update(EventState& s, net::Request& req) {
  auto base = co_await s.store->find_news(req.param("id"));
  if (!base) {
    throw errors::not_found("news");
  }
  auto n = parse_news_body(req.body, &*base);
  n.updated_at = s.ctx.clock->now_ms();
  co_await s.store->update_news(n);
  co_await s.invalidate();
  co_return ok(to_json(n));
}

Task<net::Response> admin_news_delete(EventState& s, net::Request& req) {
  const bool deleted = co_await s.store->delete_news(req.param("id"));
  if (!deleted) {
    throw errors::not_found("news");
  }
  co_await s.invalidate();
  co_return net::Response::no_content();
}

}  // namespace tiketi::event::handlers
