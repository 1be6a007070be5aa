#include "services/reservation/live_seats.hpp"

#include <limits>

#include <nlohmann/json.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/hub.hpp"
#include "services/reservation/seat_cache.hpp"

namespace tiketi::reservation {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

// On the wire between replicas: {"r":1} resync, {"s":[[seat, status, version(, hold expiry)], …]}
// seats, {} quota only (nothing for the seat viewers; the seat map re-reads its quotas).
std::string encode(const InventoryChange& c) {
  json j = json::object();
  if (c.resync) {
    j["r"] = 1;
  } else if (!c.seats.empty()) {
    json s = json::array();
    for (const auto& ch : c.seats) {
      if (ch.status == SeatStatus::held) {
        s.push_back(json::array({ch.seat_id, static_cast<int>(ch.status), ch.version, ch.hold_expires_at}));
      } else {
        s.push_back(json::array({ch.seat_id, static_cast<int>(ch.status), ch.version}));
      }
    }
    j["s"] = std::move(s);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Task<void> publish_on(coord::CoordinatorPtr coord, std::string channel, std::string message) {
  co_await coord->publish(std::move(channel), std::move(message));
}

Task<void> sleep_ms(Millis ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::string resync_json(const std::string& event_id) {
  return json{{"type", "resync"}, {"eventId", event_id}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

SeatFeed::SeatFeed(coord::CoordinatorPtr coord, net::Hub* hub, SeatMapCache* cache, ClockPtr clock,
                   LogContext log, SeatFeedOptions opts)
    : coord_(std::move(coord)),
      hub_(hub),
      cache_(cache),
      clock_(std::move(clock)),
      log_(std::move(log)),
      opts_(opts) {}

SeatFeed::~SeatFeed() { stop(); }

std::string SeatFeed::channel(const std::string& event_id) { return "reservation:seats:" + event_id; }
std::string SeatFeed::topic(const std::string& event_id) { return "seats:" + event_id; }

void SeatFeed::publish(Executor ex, const InventoryChange& change) {
  // The seat map learns the change from the channel like every other replica (the in-process
  // coordinator delivers it here too); a lost delivery is repaired by its periodic reload.
  if (!coord_) {
    on_message(change.event_id, encode(change));
    return;
  }
  asio::co_spawn(ex, publish_on(coord_, channel(change.event_id), encode(change)), [log = log_](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        // Viewers on other replicas miss this change until the seat changes again or they reload;
        // the caches there still age out within reservation.seat_cache_ms.
        log::warn(log, "seat change not published", {lf("error", ex.what())});
      }
    }
  });
}

void SeatFeed::on_message(const std::string& event_id, const std::string& message) {
  apply(event_id, message);
  ++received_;  // after the pending set has it (tests wait on this counter)
}

void SeatFeed::apply(const std::string& event_id, const std::string& message) {
  auto j = json::parse(message, nullptr, false);
  if (!j.is_object()) {
    return;
  }
  const bool resync = j.contains("r");
  auto s = j.find("s");
  std::vector<SeatChange> changes;
  if (!resync && s != j.end() && s->is_array()) {
    changes.reserve(s->size());
    for (const auto& ch : *s) {
      if (!ch.is_array() || (ch.size() != 3 && ch.size() != 4) || !ch[0].is_string() ||
          !ch[1].is_number_integer() || !ch[2].is_number_integer() || (ch.size() == 4 && !ch[3].is_number_integer())) {
        continue;
      }
      const int st = ch[1].get<int>();
      if (st < 0 || st > 2) {
        continue;
      }
      SeatChange c;
      c.seat_id = ch[0].get<std::string>();
      c.status = static_cast<SeatStatus>(st);
      c.version = ch[2].get<std::int64_t>();
      // Without an expiry (an older replica) a hold counts until the sweeper releases it.
      c.hold_expires_at = ch.size() == 4 ? ch[3].get<std::int64_t>() : std::numeric_limits<Millis>::max();
      changes.push_back(std::move(c));
    }
  }
  // The seat map first: every change a tick sends to the sockets is already in the map that tick.
  if (cache_ != nullptr) {
    if (resync) {
      cache_->invalidate(event_id);
    } else if (!changes.empty()) {
      cache_->apply(event_id, changes);
    } else if (s == j.end()) {
      cache_->quotas_changed(event_id);
    }
  }
  std::lock_guard lock(mu_);
  auto it = events_.find(event_id);
  if (it == events_.end()) {
    return;
  }
  Entry& e = it->second;
  if (resync) {
    e.resync = true;
    e.pending.clear();
    return;
  }
  if (e.resync) {
    return;
  }
  for (auto& c : changes) {
    Pending& p = e.pending[c.seat_id];
    if (c.version >= p.version) {  // a late message never overwrites a newer status
      p.version = c.version;
      p.status = c.status;
    }
  }
  if (e.pending.size() > opts_.max_seats_per_message) {
    e.resync = true;  // bounded memory: too much to tell, the viewers reload instead
    e.pending.clear();
  }
}

Task<bool> SeatFeed::watch(const std::string& event_id) {
  const Millis now = clock_->now_ms();
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(mu_);
      Entry& e = events_[event_id];
      e.last_used = now;
      if (e.sub || !coord_) {
        co_return false;
      }
      if (!e.subscribing) {
        e.subscribing = true;
        break;
      }
    }
    // Another caller is subscribing: wait for it so that nobody reads before the channel listens.
    if (attempt > 1'000) {
      throw std::runtime_error("seat feed: subscription did not complete");
    }
    co_await sleep_ms(2);
  }
  std::weak_ptr<SeatFeed> weak = weak_from_this();
  std::function<void(const std::string&)> cb = [weak, event_id](const std::string& m) {
    if (auto self = weak.lock()) {
      self->on_message(event_id, m);
    }
  };
  std::string ch = channel(event_id);
  coord::SubscriptionPtr sub;
  std::exception_ptr failure;
  try {
    sub = co_await coord_->subscribe(std::move(ch), std::move(cb));
  } catch (...) {
    failure = std::current_exception();
  }
  std::lock_guard lock(mu_);
  Entry& e = events_[event_id];
  e.subscribing = false;
  if (failure) {
    std::rethrow_exception(failure);
  }
  e.sub = std::move(sub);
  // Whatever was cached before this replica listened may have missed a change.
  if (cache_ != nullptr) {
    cache_->invalidate(event_id);
  }
  co_return true;
}

Task<void> SeatFeed::serve(net::WebSocketPtr ws, std::string event_id) {
  const bool fresh = co_await watch(event_id);
  const std::string t = topic(event_id);
  if (hub_ != nullptr) {
    hub_->subscribe(t, ws);
  }
  if (fresh) {
    // The first viewer on this replica: a change committed between the handshake and the
    // subscription above reached nobody here, so the client reloads once to be sure.
    ws->send_text(resync_json(event_id));
  }
  int frames = 0;
  while (auto msg = co_await ws->read()) {
    // Viewers have nothing to say; a client that floods is cut off.
    if (++frames > 1'000) {
      ws->close(1008, "unexpected messages");
      break;
    }
  }
  if (hub_ != nullptr) {
    hub_->unsubscribe(t, *ws);
  }
  std::lock_guard lock(mu_);
  if (auto it = events_.find(event_id); it != events_.end()) {
    it->second.last_used = clock_->now_ms();
  }
}

int SeatFeed::flush() {
  const Millis now = clock_->now_ms();
  std::vector<std::pair<std::string, net::WebSocket::Message>> out;
  std::vector<std::string> dropped_ids;
  std::vector<coord::SubscriptionPtr> dropped;
  {
    std::lock_guard lock(mu_);
    for (auto it = events_.begin(); it != events_.end();) {
      const std::string& id = it->first;
      Entry& e = it->second;
      const bool viewers = hub_ != nullptr && hub_->subscribers(topic(id)) > 0;
      if (e.resync) {
        e.resync = false;
        e.pending.clear();
        if (viewers) {
          out.emplace_back(id, std::make_shared<const std::string>(resync_json(id)));
        }
      } else if (!e.pending.empty()) {
        json seats = json::array();
        for (auto& [seat, p] : e.pending) {
          auto& sent = e.sent[seat];  // 0 when new: every write makes version >= 1
          if (p.version <= sent) {
            continue;  // already announced (a duplicate or late delivery)
          }
          sent = p.version;
          if (viewers) {
            seats.push_back({{"id", seat}, {"status", to_string(p.status)}});
          }
        }
        e.pending.clear();
        if (viewers && !seats.empty()) {
          json msg{{"type", "seats"}, {"eventId", id}, {"seq", ++e.seq}, {"at", now}, {"seats", std::move(seats)}};
          out.emplace_back(id, std::make_shared<const std::string>(
                                   msg.dump(-1, ' ', false, json::error_handler_t::replace)));
        }
      }
      // Nobody here views the event any more: stop listening (and forget its cached map, which
      // would no longer be invalidated).
      if (!viewers && !e.subscribing && e.sub && now - e.last_used > opts_.idle_ms) {
        dropped.push_back(std::move(e.sub));
        dropped_ids.push_back(id);
        it = events_.erase(it);
        continue;
      }
      ++it;
    }
  }
  // Before the sockets get this tick's message: every change in it (applied to the seat map as it
  // arrived) is in every GET /seats answered from now on.
  if (cache_ != nullptr) {
    cache_->tick("");
    for (const auto& id : dropped_ids) {
      cache_->drop(id);
    }
  }
  int sent = 0;
  for (auto& [id, msg] : out) {
    if (hub_->publish(topic(id), std::move(msg)) > 0) {
      ++sent;
      ++messages_;
    }
  }
  dropped.clear();  // unsubscribes, outside the lock
  return sent;
}

Task<void> SeatFeed::run() {
  while (!stopped_) {
    co_await sleep_ms(opts_.tick_ms);
    try {
      flush();
    } catch (const std::exception& e) {
      log::warn(log_, "seat feed tick failed", {lf("error", e.what())});
    }
  }
}

void SeatFeed::stop() {
  stopped_ = true;
  std::map<std::string, Entry> gone;
  {
    std::lock_guard lock(mu_);
    gone.swap(events_);
  }
}

std::size_t SeatFeed::watched() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, e] : events_) {
    n += e.sub ? 1 : 0;
  }
  return n;
}

std::size_t SeatFeed::pending_seats(const std::string& event_id) const {
  std::lock_guard lock(mu_);
  auto it = events_.find(event_id);
  return it == events_.end() ? 0 : it->second.pending.size();
}

}  // namespace tiketi::reservation
