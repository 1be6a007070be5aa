#include "services/reservation/seat_cache.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/error.hpp"
#include "services/reservation/storage/reservation_store.hpp"

namespace tiketi::reservation {
namespace {

std::string etag_of(const std::string& body) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return "W/\"" + std::string(buf) + "\"";
}

}  // namespace

SeatMapCache::SeatMapCache(ReservationStore& store, ClockPtr clock, Millis max_age_ms)
    : store_(store), clock_(std::move(clock)), max_age_ms_(max_age_ms) {}

void SeatMapCache::invalidate(const std::string& event_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(event_id);
  if (it != entries_.end()) {
    ++it->second.generation;
  }
}

Task<SeatSnapshot> SeatMapCache::get(const std::string& event_id) {
  std::uint64_t wanted = 0;  // any snapshot built from this generation on is fresh for this reader
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(event_id); it != entries_.end()) {
      wanted = it->second.generation;
    }
  }
  std::uint64_t generation = 0;
  for (int spins = 0;; ++spins) {
    const Millis now = clock_->now_ms();
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(event_id);
      if (it != entries_.end()) {
        const Entry& e = it->second;
        // Held seats turn available when their hold expires, so even an unchanged map ages out.
        if (e.has_snapshot && e.built_generation >= wanted && now - e.built_at < max_age_ms_ &&
            now >= e.built_at) {
          co_return e.snapshot;
        }
      }
      if (it == entries_.end() || !it->second.building || spins > 5'000) {
        if (entries_.size() > 1'000) {
          entries_.clear();  // bounded: ids come from requests
        }
        Entry& e = entries_[event_id];
        e.building = true;
        generation = e.generation;
        break;
      }
    }
    // Someone is building: wait for it rather than read the whole map a second time.
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(1));
    co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  struct Done {
    SeatMapCache* self;
    const std::string& id;
    ~Done() {
      std::lock_guard lock(self->mu_);
      if (auto it = self->entries_.find(id); it != self->entries_.end()) {
        it->second.building = false;
      }
    }
  } done{this, event_id};
  const Millis now = clock_->now_ms();
  auto ev = co_await store_.find_event(event_id);
  if (!ev) {
    throw errors::not_found("event");
  }
  auto seats = co_await store_.seat_map(event_id);
  auto quotas = co_await store_.quotas(event_id);
  using nlohmann::json;
  json js = json::array();
  std::int64_t counts[3] = {0, 0, 0};
  for (const auto& s : seats) {
    ++counts[static_cast<int>(s.status)];
    js.push_back({{"id", s.seat_id},
                  {"label", s.label},
                  {"ticketTypeId", s.ticket_type_id},
                  {"price", s.price},
                  {"status", to_string(s.status)}});
  }
  json jq = json::array();
  for (const auto& q : quotas) {
    jq.push_back({{"ticketTypeId", q.ticket_type_id},
                  {"name", q.name},
                  {"price", q.price},
                  {"quota", q.quota},
                  {"available", q.quota - q.used}});
  }
  json body{{"eventId", event_id},
            {"onSale", ev->on_sale(now)},
            {"summary", {{"available", counts[0]}, {"held", counts[1]}, {"sold", counts[2]}}},
            {"seats", std::move(js)},
            {"quotas", std::move(jq)}};
  SeatSnapshot snap;
  auto text = std::make_shared<std::string>(body.dump(-1, ' ', false, json::error_handler_t::replace));
  snap.etag = etag_of(*text);
  snap.body = std::move(text);
  ++builds_;
  std::lock_guard lock(mu_);
  Entry& e = entries_[event_id];
  // An invalidation that raced with this build leaves it older than the entry's generation: later
  // readers rebuild, readers that arrived before that invalidation may still use it.
  if (!e.has_snapshot || generation >= e.built_generation) {
    e.snapshot = snap;
    e.built_at = now;
    e.built_generation = generation;
    e.has_snapshot = true;
  }
  co_return snap;
}

}  // namespace tiketi::reservation
