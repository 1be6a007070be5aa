// Public reads: cached per request target at the current catalogue version, with ETag/304.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "services/event/dto/api.hpp"
#include "services/event/handlers/handlers.hpp"

namespace tiketi::event::handlers {
namespace {

bool etag_matches(std::string_view header, const std::string& etag) {
  // If-None-Match: "a", W/"b", or *; weak comparison is what a GET needs.
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto comma = header.find(',', pos);
    auto part = header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    while (!part.empty() && part.back() == ' ') {
      part.remove_suffix(1);
    }
    if (part.starts_with("W/")) {
      part.remove_prefix(2);
    }
    if (part == "*" || part == etag) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    pos = comma + 1;
  }
  return false;
}

net::Response respond(const net::Request& req, const ResponseCache::Entry& e) {
  if (auto inm = req.header("if-none-match"); inm && etag_matches(*inm, e.etag)) {
    net::Response r;
    r.status = 304;
    r.header("ETag", e.etag);
    r.header("Cache-Control", "no-cache");
    return r;
  }
  auto r = net::Response::json(200, e.body);
  r.header("ETag", e.etag);
  // Browsers and CDNs revalidate every time: changes show at once and 304s keep it cheap.
  r.header("Cache-Control", "no-cache");
  return r;
}

// Serves from the cache, or renders with `load` (which throws ApiError for 4xx) and caches.
template <class Load>
Task<net::Response> cached(EventState& s, net::Request& req, Load load) {
  const std::string& key = req.target;
  if (auto hit = s.cache.get(key)) {
    co_return respond(req, *hit);
  }
  const auto version = s.cache.version();
  std::string body = co_await load();
  auto entry = s.cache.put(key, version, std::move(body));
  co_return respond(req, *entry);
}

bool visible(const Event& e) { return e.status != EventStatus::draft; }

}  // namespace

Task<net::Response> events_list(EventState& s, net::Request& req) {
  auto q = parse_event_list_query(req.query, false);
  co_return co_await cached(s, req, [&]() -> Task<std::string> {
    auto page = co_await s.store->list_events(q, false);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& it : page.items) {
      items.push_back(summary_json(it, s.image_settings.public_base_url));
    }
    nlohmann::json body{
        {"items", std::move(items)},
        {"next_cursor", page.next ? nlohmann::json(encode_cursor(*page.next)) : nlohmann::json()}};
    co_return body.dump();
  });
}

Task<net::Response> event_get(EventState& s, net::Request& req) {
  const std::string id = req.param("id");
  co_return co_await cached(s, req, [&]() -> Task<std::string> {
    auto row = co_await s.store->find_event(id);
    if (!row || !visible(row->event)) {
      throw errors::not_found("event");
    }
    auto types = co_await s.store->ticket_types(id);
    co_return detail_json(*row, types, s.image_settings.public_base_url).dump();
  });
}

Task<net::Response> event_seating_get(EventState& s, net::Request& req) {
  const std::string id = req.param("id");
  co_return co_await cached(s, req, [&]() -> Task<std::string> {
    auto row = co_await s.store->find_event(id);
    if (!row || !visible(row->event)) {
      throw errors::not_found("event");
    }
    auto plan = co_await s.store->plan(id);
    if (!plan) {
      throw errors::not_found("seating plan");
    }
    co_return plan_json(*plan).dump();
  });
}

Task<net::Response> news_list(EventState& s, net::Request& req) {
  auto q = parse_page_query(req.query, "news");
  co_return co_await cached(s, req, [&]() -> Task<std::string> {
    auto page = co_await s.store->list_news(q.limit, q.after);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& n : page.items) {
      items.push_back(to_json(n));
    }
    nlohmann::json body{
        {"items", std::move(items)},
        {"next_cursor", page.next ? nlohmann::json(encode_cursor(*page.next)) : nlohmann::json()}};
    co_return body.dump();
  });
}

Task<net::Response> news_get(EventState& s, net::Request& req) {
  const std::string id = req.param("id");
  co_return co_await cached(s, req, [&]() -> Task<std::string> {
    auto n = co_await s.store->find_news(id);
    if (!n) {
      throw errors::not_found("news");
    }
    co_return to_json(*n).dump();
  });
}

}  // namespace tiketi::event::handlers
