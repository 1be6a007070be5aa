#include "services/queue/storage/line.hpp"

#include <sodium.h>

#include <chrono>
#include <map>
#include <mutex>

#include "services/queue/storage/scripts.hpp"

namespace tiketi::queue {
namespace {

using Strings = std::vector<std::string>;

Standing standing_from(const coord::Reply& r) {
  const auto& a = r.array();
  Standing s;
  const auto kind = a.at(0).integer();
  if (kind == 1) {
    s.place = Place::admitted;
    s.session_expires_at = a.at(1).integer();
  } else if (kind == 3) {
    s.place = Place::refused;
  } else if (kind == 0) {
    s.place = Place::waiting;
    s.rank = a.at(1).integer();
    s.seq = a.at(2).integer();
    s.joined_now = a.size() > 3 && a[3].integer() == 1;
    s.active = a.size() > 4 ? a[4].integer() : -1;
  }
  return s;
}

// Fisher–Yates with libsodium's CSPRNG: nobody can predict (or grind for) the order at opening.
void shuffle(std::vector<std::int64_t>& v) {
  for (std::size_t n = v.size(); n > 1; --n) {
    const auto j = static_cast<std::size_t>(randombytes_uniform(static_cast<std::uint32_t>(n)));
    std::swap(v[n - 1], v[j]);
  }
}

}  // namespace

struct Line::Cache {
  struct Entry {
    std::optional<QueueSettings> value;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mutex;
  std::map<std::string, Entry> entries;
  void drop(const std::string& event) {
    std::lock_guard lock(mutex);
    entries.erase(event);
  }
};

Line::Line(coord::CoordinatorPtr coord, std::string ns)
    : coord_(std::move(coord)), ns_(std::move(ns)), cache_(std::make_shared<Cache>()) {}

std::string Line::key(const std::string& event, std::string_view what) const {
  std::string k;
  k.reserve(ns_.size() + event.size() + what.size() + 10);
  k.append(ns_).append("queue:{").append(event).append("}:").append(what);
  return k;
}

Task<Standing> Line::join(std::string event, std::string user, Millis now, bool direct,
                          std::int64_t max_active, Millis session_ms, std::string ip, std::int64_t ip_cap) {
  Strings keys{key(event, "line"), key(event, "seq"),  key(event, "seen"),
               key(event, "active"), key(event, "ips"), key(event, "renewals")};
  Strings args{user,
               std::to_string(now),
               direct ? "1" : "0",
               std::to_string(max_active),
               std::to_string(session_ms),
               std::move(ip),
               std::to_string(ip_cap)};
  auto r = co_await coord_->eval(scripts::join(), std::move(keys), std::move(args));
  co_return standing_from(r);
}

Task<Standing> Line::status(std::string event, std::string user, Millis now) {
  Strings keys{key(event, "line"), key(event, "seen"), key(event, "active")};
  Strings args{user, std::to_string(now)};
  auto r = co_await coord_->eval(scripts::status(), std::move(keys), std::move(args));
  co_return standing_from(r);
}

Task<Line::Renewal> Line::renew(std::string event, std::string user, Millis now, Millis session_ms,
                                std::int64_t max_renewals) {
  Strings keys{key(event, "active"), key(event, "renewals")};
  Strings args{std::move(user), std::to_string(now), std::to_string(session_ms), std::to_string(max_renewals)};
  auto r = co_await coord_->eval(scripts::renew(), std::move(keys), std::move(args));
  const auto& a = r.array();
  Renewal out;
  const auto kind = a.at(0).integer();
  if (kind == 1) {
    out.result = Renewal::Result::renewed;
    out.expires_at = a.at(1).integer();
    out.used = a.at(2).integer();
  } else if (kind == 3) {
    out.result = Renewal::Result::limit;
    out.expires_at = a.at(1).integer();
  }
  co_return out;
}

Task<bool> Line::leave(std::string event, std::string user) {
  Strings keys{key(event, "line"), key(event, "seen"), key(event, "active"), key(event, "renewals")};
  Strings args{user};
  auto r = co_await coord_->eval(scripts::leave(), std::move(keys), std::move(args));
  co_return r.integer() > 0;
}

Task<AdmitStep> Line::admit(std::string event, Millis now, std::int64_t n, std::int64_t max_active,
                            Millis session_ms, std::int64_t fencing_token) {
  Strings keys{key(event, "line"), key(event, "active"), key(event, "seen"),
               key(event, "head"), key(event, "fence"),  key(event, "renewals")};
  Strings args{std::to_string(now), std::to_string(n), std::to_string(max_active), std::to_string(session_ms),
               std::to_string(fencing_token)};
  auto r = co_await coord_->eval(scripts::admit(), std::move(keys), std::move(args));
  const auto& a = r.array();
  AdmitStep step;
  if (a.at(0).integer() < 0) {
    step.fenced = true;
    co_return step;
  }
  step.expired = a.at(1).integer();
  step.head = a.at(2).integer();
  step.waiting = a.at(3).integer();
  step.active = a.at(4).integer();
  step.admitted.reserve((a.size() - 5) / 2);
  for (std::size_t j = 5; j + 1 < a.size(); j += 2) {
    step.admitted.push_back(Admitted{a[j].string(), a[j + 1].integer()});
  }
  co_return step;
}

Task<std::int64_t> Line::sweep_abandoned(std::string event, Millis cutoff, std::int64_t limit) {
  Strings keys{key(event, "line"), key(event, "seen")};
  Strings args{std::to_string(cutoff), std::to_string(limit)};
  auto r = co_await coord_->eval(scripts::sweep(), std::move(keys), std::move(args));
  co_return r.integer();
}

Task<bool> Line::open(std::string event, bool shuffle_line) {
  Strings args;
  if (shuffle_line) {
    // Everyone in line now joined before the opening; later joiners get higher sequences than all
    // of these, so permuting these sequences among these users shuffles exactly the pre-queue.
    auto members = co_await coord_->zrange(key(event, "line"), 0, -1);
    std::vector<std::int64_t> scores;
    scores.reserve(members.size());
    for (const auto& m : members) {
      scores.push_back(static_cast<std::int64_t>(m.score));
    }
    shuffle(scores);
    args.reserve(members.size() * 2);
    for (std::size_t j = 0; j < members.size(); ++j) {
      args.push_back(std::move(members[j].member));
      args.push_back(std::to_string(scores[j]));
    }
  }
  Strings keys{key(event, "line"), key(event, "opened")};
  auto r = co_await coord_->eval(scripts::open(), std::move(keys), std::move(args));
  co_return r.integer() >= 0;
}

Task<bool> Line::opened(std::string event) {
  auto v = co_await coord_->get(key(event, "opened"));
  co_return v.has_value();
}

Task<std::int64_t> Line::waiting(std::string event) { co_return co_await coord_->zcard(key(event, "line")); }

Task<std::int64_t> Line::active(std::string event, Millis now) {
  Strings keys{key(event, "active")};
  Strings args{std::to_string(now)};
  auto r = co_await coord_->eval(scripts::count_active(), std::move(keys), std::move(args));
  co_return r.integer();
}

Task<std::int64_t> Line::head(std::string event) {
  auto v = co_await coord_->get(key(event, "head"));
  co_return v ? std::stoll(*v) : 0;
}

Task<std::optional<QueueSettings>> Line::raw_settings(std::string event) {
  auto v = co_await coord_->get(key(event, "settings"));
  if (!v) {
    co_return std::nullopt;
  }
  co_return settings_from_json(*v);
}

Task<std::optional<QueueSettings>> Line::settings(std::string event) {
  auto cache = cache_;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache->mutex);
    auto it = cache->entries.find(event);
    if (it != cache->entries.end() && now - it->second.at < std::chrono::milliseconds(kSettingsCacheMs)) {
      co_return it->second.value;
    }
  }
  std::optional<QueueSettings> out;
  auto s = co_await raw_settings(event);
  if (s) {
    auto o = co_await overrides(event);
    out = apply(std::move(*s), o);
  }
  {
    std::lock_guard lock(cache->mutex);
    if (cache->entries.size() > 10'000) {
      cache->entries.clear();  // bounded: unknown event ids cannot grow it without limit
    }
    cache->entries[event] = Cache::Entry{out, now};
  }
  co_return out;
}

Task<void> Line::put_settings(QueueSettings s) {
  cache_->drop(s.event_id);
  co_await coord_->set(key(s.event_id, "settings"), to_json(s));
  cache_->drop(s.event_id);
  co_await coord_->zadd(ns_ + "queue:events", s.event_id, static_cast<double>(s.sale_start));
}

Task<AdminOverrides> Line::overrides(std::string event) {
  auto v = co_await coord_->get(key(event, "admin"));
  co_return v ? overrides_from_json(*v) : AdminOverrides{};
}

Task<void> Line::put_overrides(std::string event, AdminOverrides o) {
  cache_->drop(event);
  co_await coord_->set(key(event, "admin"), to_json(o));
  cache_->drop(event);  // a read that raced the write must not keep the old overrides
}

Task<std::vector<std::string>> Line::events() {
  auto members = co_await coord_->zrange(ns_ + "queue:events", 0, -1);
  std::vector<std::string> out;
  out.reserve(members.size());
  for (auto& m : members) {
    out.push_back(std::move(m.member));
  }
  co_return out;
}

}  // namespace tiketi::queue
