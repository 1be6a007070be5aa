#include "coord/memory/memory_state.hpp"

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>
#include <variant>

namespace tiketi::coord {
namespace {

// An order-statistics tree so that zrank (queue position) is O(log n), not a walk of the set.
using ScoreKey = std::pair<double, std::string>;
using RankedSet = __gnu_pbds::tree<ScoreKey, __gnu_pbds::null_type, std::less<ScoreKey>,
                                   __gnu_pbds::rb_tree_tag, __gnu_pbds::tree_order_statistics_node_update>;

struct ZSet {
  RankedSet ordered;
  std::unordered_map<std::string, double> scores;
};

struct StreamId {
  std::int64_t ms = 0;
  std::int64_t seq = 0;
  auto operator<=>(const StreamId&) const = default;
  std::string text() const { return std::to_string(ms) + "-" + std::to_string(seq); }
};

StreamId parse_id(const std::string& s) {
  StreamId id;
  auto dash = s.find('-');
  auto ms = s.substr(0, dash);
  std::from_chars(ms.data(), ms.data() + ms.size(), id.ms);
  if (dash != std::string::npos) {
    auto seq = s.substr(dash + 1);
    std::from_chars(seq.data(), seq.data() + seq.size(), id.seq);
  }
  return id;
}

struct PendingEntry {
  std::string consumer;
  Millis delivered_at = 0;
  std::int64_t deliveries = 0;
};

struct Group {
  StreamId last_delivered;
  std::map<StreamId, PendingEntry> pending;
};

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Stream {
  std::map<StreamId, Fields> entries;
  StreamId last_id;
  std::map<std::string, Group> groups;
};

struct Entry {
  std::variant<std::string, ZSet, Stream> value;
  Millis expires_at = 0;  // 0 = never
};

struct LeaseState {
  std::string owner;
  std::int64_t token = 0;
  Millis expires_at = 0;
};

struct Subscriber {
  std::uint64_t id;
  MemoryState::Deliver deliver;
};

[[noreturn]] void wrong_type() {
  throw MemoryError("WRONGTYPE Operation against a key holding the wrong kind of value");
}

}  // namespace

struct MemoryState::Data {
  ClockPtr clock;
  std::unordered_map<std::string, Entry> keys;
  std::unordered_map<std::string, LeaseState> leases;
  std::unordered_map<std::string, std::int64_t> fencing;
  std::unordered_map<std::string, std::vector<Subscriber>> subscribers;
  std::unordered_map<std::string, std::vector<std::pair<std::uint64_t, std::function<void()>>>> waiters;
  std::uint64_t next_id = 1;

  Millis now() const { return clock->now_ms(); }

  // The live entry for key, dropping it first when expired.
  Entry* find(const std::string& key) {
    auto it = keys.find(key);
    if (it == keys.end()) {
      return nullptr;
    }
    if (it->second.expires_at != 0 && it->second.expires_at <= now()) {
      keys.erase(it);
      return nullptr;
    }
    return &it->second;
  }

  template <class T>
  T* find_as(const std::string& key) {
    Entry* e = find(key);
    if (e == nullptr) {
      return nullptr;
    }
    T* v = std::get_if<T>(&e->value);
    if (v == nullptr) {
      wrong_type();
    }
    return v;
  }

  template <class T>
  T& get_or_create(const std::string& key) {
    if (T* v = find_as<T>(key)) {
      return *v;
    }
    auto& e = keys[key];
    e = Entry{T{}, 0};
    return std::get<T>(e.value);
  }

  Stream& stream_with_group(const std::string& stream, const std::string& group, Group*& g) {
    Stream* s = find_as<Stream>(stream);
    if (s == nullptr) {
      throw MemoryError("NOGROUP No such key '" + stream + "' or consumer group '" + group + "'");
    }
    auto it = s->groups.find(group);
    if (it == s->groups.end()) {
      throw MemoryError("NOGROUP No such key '" + stream + "' or consumer group '" + group + "'");
    }
    g = &it->second;
    return *s;
  }
};

MemoryState::MemoryState(ClockPtr clock) : d_(std::make_unique<Data>()) {
  d_->clock = clock ? std::move(clock) : std::make_shared<SystemClock>();
}
MemoryState::~MemoryState() = default;

Millis MemoryState::now_ms() const { return d_->now(); }

// ---- key/value ----

std::optional<std::string> MemoryState::get(const std::string& key) {
  if (auto* s = d_->find_as<std::string>(key)) {
    return *s;
  }
  return std::nullopt;
}

void MemoryState::set(const std::string& key, std::string value, Ttl ttl) {
  d_->keys[key] = Entry{std::move(value), ttl.count() > 0 ? d_->now() + ttl.count() : 0};
}

bool MemoryState::set_nx(const std::string& key, std::string value, Ttl ttl) {
  if (d_->find(key) != nullptr) {
    return false;
  }
  set(key, std::move(value), ttl);
  return true;
}

bool MemoryState::del(const std::string& key) {
  if (d_->find(key) == nullptr) {
    return false;
  }
  d_->keys.erase(key);
  return true;
}

bool MemoryState::exists(const std::string& key) { return d_->find(key) != nullptr; }

bool MemoryState::expire(const std::string& key, Ttl ttl) {
  Entry* e = d_->find(key);
  if (e == nullptr) {
    return false;
  }
  if (ttl.count() <= 0) {
    // Like PEXPIRE with a non-positive time: the key is gone.
    d_->keys.erase(key);
    return true;
  }
  e->expires_at = d_->now() + ttl.count();
  return true;
}

std::int64_t MemoryState::pttl(const std::string& key) {
  Entry* e = d_->find(key);
  if (e == nullptr) {
    return -2;
  }
  return e->expires_at == 0 ? -1 : e->expires_at - d_->now();
}

std::int64_t MemoryState::incr(const std::string& key, std::int64_t by) {
  Entry* e = d_->find(key);
  if (e == nullptr) {
    d_->keys[key] = Entry{std::to_string(by), 0};
    return by;
  }
  auto* s = std::get_if<std::string>(&e->value);
  if (s == nullptr) {
    wrong_type();
  }
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc{} || ptr != s->data() + s->size()) {
    throw MemoryError("ERR value is not an integer or out of range");
  }
  v += by;
  *s = std::to_string(v);
  return v;
}

// ---- sorted sets ----

bool MemoryState::zadd(const std::string& key, const std::string& member, double score, bool only_if_new) {
  ZSet& z = d_->get_or_create<ZSet>(key);
  auto it = z.scores.find(member);
  if (it != z.scores.end()) {
    if (!only_if_new && it->second != score) {
      z.ordered.erase({it->second, member});
      it->second = score;
      z.ordered.insert({score, member});
    }
    return false;  // like ZADD: counts only new members
  }
  z.scores.emplace(member, score);
  z.ordered.insert({score, member});
  return true;
}

std::optional<std::int64_t> MemoryState::zrank(const std::string& key, const std::string& member) {
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return std::nullopt;
  }
  auto it = z->scores.find(member);
  if (it == z->scores.end()) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(z->ordered.order_of_key({it->second, member}));
}

std::optional<double> MemoryState::zscore(const std::string& key, const std::string& member) {
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return std::nullopt;
  }
  auto it = z->scores.find(member);
  if (it == z->scores.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool MemoryState::zrem(const std::string& key, const std::string& member) {
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return false;
  }
  auto it = z->scores.find(member);
  if (it == z->scores.end()) {
    return false;
  }
  z->ordered.erase({it->second, member});
  z->scores.erase(it);
  if (z->scores.empty()) {
    d_->keys.erase(key);  // Redis deletes empty sets
  }
  return true;
}

std::int64_t MemoryState::zcard(const std::string& key) {
  ZSet* z = d_->find_as<ZSet>(key);
  return z == nullptr ? 0 : static_cast<std::int64_t>(z->scores.size());
}

std::vector<ScoredMember> MemoryState::zrange(const std::string& key, std::int64_t start, std::int64_t stop) {
  std::vector<ScoredMember> out;
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return out;
  }
  const auto n = static_cast<std::int64_t>(z->ordered.size());
  if (start < 0) {
    start = std::max<std::int64_t>(0, n + start);
  }
  if (stop < 0) {
    stop = n + stop;
  }
  stop = std::min(stop, n - 1);
  if (start > stop) {
    return out;
  }
  auto it = z->ordered.find_by_order(static_cast<std::size_t>(start));
  for (std::int64_t i = start; i <= stop && it != z->ordered.end(); ++i, ++it) {
    out.push_back({it->second, it->first});
  }
  return out;
}

std::vector<ScoredMember> MemoryState::zrange_by_score(const std::string& key, double min, double max,
                                                       std::int64_t limit) {
  std::vector<ScoredMember> out;
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return out;
  }
  for (auto it = z->ordered.lower_bound({min, std::string{}}); it != z->ordered.end(); ++it) {
    if (it->first > max || (limit >= 0 && static_cast<std::int64_t>(out.size()) >= limit)) {
      break;
    }
    out.push_back({it->second, it->first});
  }
  return out;
}

std::int64_t MemoryState::zcount(const std::string& key, double min, double max) {
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return 0;
  }
  std::int64_t n = 0;
  for (auto it = z->ordered.lower_bound({min, std::string{}}); it != z->ordered.end() && it->first <= max; ++it) {
    ++n;
  }
  return n;
}

std::vector<ScoredMember> MemoryState::zpop_min(const std::string& key, std::int64_t count) {
  std::vector<ScoredMember> out;
  ZSet* z = d_->find_as<ZSet>(key);
  if (z == nullptr) {
    return out;
  }
  while (count-- > 0 && !z->ordered.empty()) {
    auto it = z->ordered.begin();
    out.push_back({it->second, it->first});
    z->scores.erase(it->second);
    z->ordered.erase(it);
  }
  if (z->scores.empty()) {
    d_->keys.erase(key);
  }
  return out;
}

// ---- pub/sub ----

std::uint64_t MemoryState::add_subscriber(const std::string& channel, Deliver deliver) {
  auto id = d_->next_id++;
  d_->subscribers[channel].push_back({id, std::move(deliver)});
  return id;
}

void MemoryState::remove_subscriber(const std::string& channel, std::uint64_t id) {
  auto it = d_->subscribers.find(channel);
  if (it == d_->subscribers.end()) {
    return;
  }
  std::erase_if(it->second, [id](const Subscriber& s) { return s.id == id; });
  if (it->second.empty()) {
    d_->subscribers.erase(it);
  }
}

std::int64_t MemoryState::publish(const std::string& channel, const std::string& message) {
  auto it = d_->subscribers.find(channel);
  if (it == d_->subscribers.end()) {
    return 0;
  }
  for (auto& s : it->second) {
    s.deliver(message);
  }
  return static_cast<std::int64_t>(it->second.size());
}

// ---- leases ----

std::optional<Lease> MemoryState::acquire_lease(const std::string& name, const std::string& owner, Ttl ttl) {
  const Millis now = d_->now();
  auto& l = d_->leases[name];
  if (l.token != 0 && l.expires_at > now && l.owner != owner) {
    return std::nullopt;
  }
  if (l.token == 0 || l.expires_at <= now || l.owner != owner) {
    // A change of holder (or a holder coming back after expiry) gets a new token.
    l.token = ++d_->fencing[name];
    l.owner = owner;
  }
  l.expires_at = now + ttl.count();
  return Lease{name, owner, l.token, l.expires_at};
}

bool MemoryState::renew_lease(const Lease& lease, Ttl ttl) {
  auto it = d_->leases.find(lease.name);
  const Millis now = d_->now();
  if (it == d_->leases.end() || it->second.owner != lease.owner || it->second.token != lease.fencing_token ||
      it->second.expires_at <= now) {
    return false;
  }
  it->second.expires_at = now + ttl.count();
  return true;
}

void MemoryState::release_lease(const Lease& lease) {
  auto it = d_->leases.find(lease.name);
  if (it != d_->leases.end() && it->second.owner == lease.owner && it->second.token == lease.fencing_token) {
    d_->leases.erase(it);
  }
}

// ---- streams ----

std::string MemoryState::xadd(const std::string& stream,
                              std::vector<std::pair<std::string, std::string>> fields) {
  Stream& s = d_->get_or_create<Stream>(stream);
  StreamId id{d_->now(), 0};
  if (id <= s.last_id) {
    id = StreamId{s.last_id.ms, s.last_id.seq + 1};
  }
  s.last_id = id;
  s.entries.emplace(id, std::move(fields));
  auto w = d_->waiters.find(stream);
  if (w != d_->waiters.end()) {
    auto wake = std::move(w->second);
    d_->waiters.erase(w);
    for (auto& [wid, fn] : wake) {
      fn();
    }
  }
  return id.text();
}

std::int64_t MemoryState::xlen(const std::string& stream) {
  Stream* s = d_->find_as<Stream>(stream);
  return s == nullptr ? 0 : static_cast<std::int64_t>(s->entries.size());
}

void MemoryState::create_group(const std::string& stream, const std::string& group) {
  Stream& s = d_->get_or_create<Stream>(stream);
  s.groups.try_emplace(group);
}

std::vector<StreamEntry> MemoryState::read_group(const std::string& stream, const std::string& group,
                                                 const std::string& consumer, std::int64_t count) {
  Group* g = nullptr;
  Stream& s = d_->stream_with_group(stream, group, g);
  std::vector<StreamEntry> out;
  const Millis now = d_->now();
  for (auto it = s.entries.upper_bound(g->last_delivered);
       it != s.entries.end() && static_cast<std::int64_t>(out.size()) < count; ++it) {
    g->last_delivered = it->first;
    g->pending[it->first] = PendingEntry{consumer, now, 1};
    out.push_back({it->first.text(), it->second});
  }
  return out;
}

bool MemoryState::ack(const std::string& stream, const std::string& group, const std::string& id) {
  Group* g = nullptr;
  d_->stream_with_group(stream, group, g);
  return g->pending.erase(parse_id(id)) > 0;
}

std::vector<StreamEntry> MemoryState::claim_stale(const std::string& stream, const std::string& group,
                                                  const std::string& consumer, Ttl min_idle,
                                                  std::int64_t count) {
  Group* g = nullptr;
  Stream& s = d_->stream_with_group(stream, group, g);
  std::vector<StreamEntry> out;
  const Millis now = d_->now();
  for (auto it = g->pending.begin();
       it != g->pending.end() && static_cast<std::int64_t>(out.size()) < count;) {
    if (now - it->second.delivered_at < min_idle.count()) {
      ++it;
      continue;
    }
    auto entry = s.entries.find(it->first);
    if (entry == s.entries.end()) {
      // Deleted from the stream: like XAUTOCLAIM, drop it from the pending list.
      it = g->pending.erase(it);
      continue;
    }
    it->second.consumer = consumer;
    it->second.delivered_at = now;
    ++it->second.deliveries;
    out.push_back({entry->first.text(), entry->second});
    ++it;
  }
  return out;
}

std::int64_t MemoryState::pending_count(const std::string& stream, const std::string& group) {
  Group* g = nullptr;
  d_->stream_with_group(stream, group, g);
  return static_cast<std::int64_t>(g->pending.size());
}

std::uint64_t MemoryState::add_stream_waiter(const std::string& stream, std::function<void()> wake) {
  auto id = d_->next_id++;
  d_->waiters[stream].emplace_back(id, std::move(wake));
  return id;
}

void MemoryState::remove_stream_waiter(const std::string& stream, std::uint64_t id) {
  auto it = d_->waiters.find(stream);
  if (it == d_->waiters.end()) {
    return;
  }
  std::erase_if(it->second, [id](const auto& w) { return w.first == id; });
  if (it->second.empty()) {
    d_->waiters.erase(it);
  }
}

}  // namespace tiketi::coord
