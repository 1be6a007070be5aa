#include "services/reservation/seat_cache.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/error.hpp"

namespace tiketi::reservation {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxEntries = 256;              // events with a map in memory (ids come from requests)
constexpr std::size_t kMaxBufferedDuringLoad = 200'000;  // changes kept while a load runs

struct Fnv {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
  }
  void add(const std::string& s) {
    add(s.data(), s.size());
    add("\0", 1);
  }
};

std::string json_str(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// Each seat's JSON object is `head` + status + `tail`: {"id":…,"label":…,"price":…,"status":"` and
// `","ticketTypeId":…}` (the key order nlohmann::json used for this document before).
struct SeatMapCache::Static {
  std::vector<std::string> head;
  std::vector<std::string> tail;
  std::unordered_map<std::string, std::uint32_t> index;
  std::size_t bytes = 0;
  std::uint64_t hash = 0;
};

SeatMapCache::SeatMapCache(ReservationStore& store, ClockPtr clock, Millis max_age_ms, Millis reload_ms)
    : store_(store), clock_(std::move(clock)), max_age_ms_(max_age_ms), reload_ms_(reload_ms) {}

bool SeatMapCache::apply_one(Entry& e, const SeatChange& c) {
  auto it = e.seats->index.find(c.seat_id);
  if (it == e.seats->index.end()) {
    return false;
  }
  const std::uint32_t i = it->second;
  if (c.version <= e.version[i]) {
    return false;  // a late or duplicated delivery never regresses a seat
  }
  e.version[i] = c.version;
  e.status[i] = static_cast<std::uint8_t>(c.status);
  e.expires[i] = c.status == SeatStatus::held ? c.hold_expires_at : 0;
  return true;
}

void SeatMapCache::apply(const std::string& event_id, const std::vector<SeatChange>& changes) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(event_id);
  if (it == entries_.end()) {
    return;  // nobody read this map here: the first read loads it
  }
  Entry& e = it->second;
  if (e.loading) {
    if (e.during_load.size() + changes.size() > kMaxBufferedDuringLoad) {
      e.reload = true;  // too much to replay: read everything again
      ++e.reload_gen;
      e.during_load.clear();
    } else {
      e.during_load.insert(e.during_load.end(), changes.begin(), changes.end());
    }
  }
  if (!e.loaded) {
    return;
  }
  bool changed = false;
  for (const auto& c : changes) {
    if (e.seats->index.count(c.seat_id) == 0) {
      e.reload = true;  // a seat this map does not know: the inventory changed under it
      ++e.reload_gen;
      continue;
    }
    changed = apply_one(e, c) || changed;
  }
  if (changed) {
    ++e.applied_gen;
  }
}

void SeatMapCache::quotas_changed(const std::string& event_id) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(event_id); it != entries_.end()) {
    it->second.quotas_dirty = true;
    ++it->second.applied_gen;
  }
}

void SeatMapCache::invalidate(const std::string& event_id) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(event_id); it != entries_.end()) {
    it->second.reload = true;
    ++it->second.reload_gen;
  }
}

void SeatMapCache::tick(const std::string& event_id) {
  std::lock_guard lock(mu_);
  if (event_id.empty()) {
    for (auto& [id, e] : entries_) {
      e.flushed_gen = e.applied_gen;
    }
  } else if (auto it = entries_.find(event_id); it != entries_.end()) {
    it->second.flushed_gen = it->second.applied_gen;
  }
}

void SeatMapCache::drop(const std::string& event_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(event_id);
  if (it == entries_.end()) {
    return;
  }
  if (it->second.busy) {
    it->second.reload = true;  // a reader is on it: reload rather than pull the entry from under it
    ++it->second.reload_gen;
  } else {
    entries_.erase(it);
  }
}

std::optional<std::array<std::int64_t, 3>> SeatMapCache::counts(const std::string& event_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(event_id);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  const Entry& e = it->second;
  const Millis now = clock_->now_ms();
  if (!e.loaded || e.reload || e.loading || now - e.loaded_at >= reload_ms_ || now < e.loaded_at) {
    return std::nullopt;
  }
  std::array<std::int64_t, 3> n{};
  for (std::size_t i = 0; i < e.status.size(); ++i) {
    auto st = static_cast<SeatStatus>(e.status[i]);
    if (st == SeatStatus::held && i < e.expires.size() && e.expires[i] < now) {
      st = SeatStatus::available;
    }
    ++n[static_cast<std::size_t>(st)];
  }
  return n;
}

Task<SeatSnapshot> SeatMapCache::get(const std::string& event_id) {
  for (int spins = 0;; ++spins) {
    bool do_load = false;
    bool do_render = false;
    std::uint64_t reload_gen = 0;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(event_id);
      if (it == entries_.end()) {
        if (entries_.size() >= kMaxEntries) {
          for (auto j = entries_.begin(); j != entries_.end();) {
            j = j->second.busy ? std::next(j) : entries_.erase(j);
          }
        }
        it = entries_.emplace(event_id, Entry{}).first;
      }
      Entry& e = it->second;
      const Millis now = clock_->now_ms();
      const bool loaded = e.loaded && !e.reload && now - e.loaded_at < reload_ms_ && now >= e.loaded_at;
      if (loaded && e.has_snapshot && e.rendered_gen >= e.flushed_gen && now - e.rendered_at < max_age_ms_ &&
          now >= e.rendered_at) {
        co_return e.snapshot;
      }
      if (!e.busy || spins > 5'000) {
        e.busy = true;
        do_load = !loaded;
        do_render = true;
        if (do_load) {
          e.loading = true;
          e.during_load.clear();
          reload_gen = e.reload_gen;
        }
      }
    }
    if (!do_render) {
      // Someone is loading or rendering this map: wait for it rather than do it a second time.
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(1));
      co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      continue;
    }
    std::exception_ptr failure;
    std::optional<SeatSnapshot> snap;
    try {
      if (do_load) {
        co_await load(event_id, reload_gen);
      }
      snap = co_await render(event_id);
    } catch (...) {
      failure = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      if (auto it = entries_.find(event_id); it != entries_.end()) {
        it->second.busy = false;
        it->second.loading = false;
        if (failure && !it->second.loaded) {
          entries_.erase(it);  // unknown event (or the database failed): keep nothing
        }
      }
    }
    if (failure) {
      std::rethrow_exception(failure);
    }
    co_return std::move(*snap);
  }
}

Task<void> SeatMapCache::load(const std::string& event_id, std::uint64_t reload_gen) {
  auto ev = co_await store_.find_event(event_id);
  if (!ev) {
    throw errors::not_found("event");
  }
  const Millis now = clock_->now_ms();
  auto rows = co_await store_.seat_map(event_id);
  auto st = std::make_shared<Static>();
  const std::size_t n = rows.size();
  st->head.reserve(n);
  st->tail.reserve(n);
  st->index.reserve(n);
  std::vector<std::uint8_t> status(n);
  std::vector<Millis> expires(n);
  std::vector<std::int64_t> version(n);
  Fnv h;
  for (std::size_t i = 0; i < n; ++i) {
    auto& s = rows[i];
    std::string head = "{\"id\":" + json_str(s.seat_id) + ",\"label\":" + json_str(s.label) +
                       ",\"price\":" + std::to_string(s.price) + ",\"status\":\"";
    std::string tail = "\",\"ticketTypeId\":" + json_str(s.ticket_type_id) + "}";
    h.add(head);
    h.add(tail);
    st->bytes += head.size() + tail.size() + 10;
    st->head.push_back(std::move(head));
    st->tail.push_back(std::move(tail));
    status[i] = static_cast<std::uint8_t>(s.status);
    expires[i] = s.status == SeatStatus::held ? s.hold_expires_at : 0;
    version[i] = s.version;
    st->index.emplace(std::move(s.seat_id), static_cast<std::uint32_t>(i));
  }
  st->hash = h.h;
  std::lock_guard lock(mu_);
  auto it = entries_.find(event_id);
  if (it == entries_.end()) {
    co_return;  // dropped meanwhile
  }
  Entry& e = it->second;
  e.seats = std::move(st);
  e.status = std::move(status);
  e.expires = std::move(expires);
  e.version = std::move(version);
  // Changes that arrived while the rows were read: whatever the read already saw has the same or a
  // lower version and is skipped.
  for (const auto& c : e.during_load) {
    apply_one(e, c);
  }
  e.during_load.clear();
  e.loading = false;
  e.loaded = true;
  e.loaded_at = now;
  if (e.reload_gen == reload_gen) {
    e.reload = false;  // an invalidation during the read asks for another one
  }
  e.quotas_dirty = true;
  ++e.applied_gen;
  e.flushed_gen = e.applied_gen;  // nothing rendered from before this load may be served
  ++builds_;
}

Task<SeatSnapshot> SeatMapCache::render(const std::string& event_id) {
  bool need_quotas = false;
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(mu_);
    Entry& e = entries_.at(event_id);
    need_quotas = e.quotas_dirty;
    e.quotas_dirty = false;
    gen = e.applied_gen;  // before the quota read: a quota change during it is rendered next time
  }
  std::string quotas_json;
  if (need_quotas) {
    std::vector<QuotaState> quotas;
    std::exception_ptr failure;
    try {
      quotas = co_await store_.quotas(event_id);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      std::lock_guard lock(mu_);
      if (auto it = entries_.find(event_id); it != entries_.end()) {
        it->second.quotas_dirty = true;
      }
      std::rethrow_exception(failure);
    }
    json jq = json::array();
    for (const auto& q : quotas) {
      jq.push_back({{"ticketTypeId", q.ticket_type_id},
                    {"name", q.name},
                    {"price", q.price},
                    {"quota", q.quota},
                    {"available", q.quota - q.used}});
    }
    quotas_json = jq.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  auto ev = co_await store_.find_event(event_id);
  if (!ev) {
    throw errors::not_found("event");
  }
  const Millis now = clock_->now_ms();
  std::shared_ptr<const Static> st;
  std::vector<std::uint8_t> status;
  std::vector<Millis> expires;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(event_id);
    if (it == entries_.end()) {
      throw errors::not_found("event");
    }
    Entry& e = it->second;
    if (need_quotas) {
      e.quotas_json = std::move(quotas_json);
    }
    quotas_json = e.quotas_json;
    st = e.seats;
    status = e.status;
    expires = e.expires;
  }
  // A hold that has run out shows as free (the sweeper announces it later).
  std::int64_t counts[3] = {0, 0, 0};
  for (std::size_t i = 0; i < status.size(); ++i) {
    if (status[i] == static_cast<std::uint8_t>(SeatStatus::held) && expires[i] < now) {
      status[i] = static_cast<std::uint8_t>(SeatStatus::available);
    }
    ++counts[status[i] < 3 ? status[i] : 0];
  }
  const bool on_sale = ev->on_sale(now);
  auto body = std::make_shared<std::string>();
  body->reserve(st->bytes + quotas_json.size() + 256);
  *body += "{\"eventId\":" + json_str(event_id) + ",\"onSale\":" + (on_sale ? "true" : "false") +
           ",\"quotas\":" + quotas_json + ",\"seats\":[";
  for (std::size_t i = 0; i < status.size(); ++i) {
    if (i > 0) {
      *body += ',';
    }
    *body += st->head[i];
    *body += to_string(static_cast<SeatStatus>(status[i]));
    *body += st->tail[i];
  }
  *body += "],\"summary\":{\"available\":" + std::to_string(counts[0]) + ",\"held\":" + std::to_string(counts[1]) +
           ",\"sold\":" + std::to_string(counts[2]) + "}}";
  Fnv h;
  h.add(&st->hash, sizeof st->hash);
  h.add(event_id);
  h.add(quotas_json);
  h.add(on_sale ? "1" : "0", 1);
  h.add(status.data(), status.size());
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.h));
  SeatSnapshot snap;
  snap.etag = "W/\"" + std::string(buf) + "\"";
  snap.body = std::move(body);
  ++renders_;
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(event_id); it != entries_.end()) {
    Entry& e = it->second;
    e.snapshot = snap;
    e.has_snapshot = true;
    e.rendered_at = now;
    e.rendered_gen = gen;
  }
  co_return snap;
}

}  // namespace tiketi::reservation
