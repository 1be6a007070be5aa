// The Redis Coordinator. Three kinds of connections:
// - one shared connection for ordinary commands: hiredis pipelines them (many in flight, replies in
//   order), which is what makes one connection fast;
// - one subscriber connection (a connection in SUBSCRIBE mode can run nothing else);
// - a pool of connections for blocking XREADGROUP: a blocked read would hold up every reply queued
//   behind it on the shared connection, so each blocking reader borrows a connection of its own
//   and returns it afterwards. (Re-issuing a short BLOCK on the shared connection would still stall
//   it for that long.)
#include <boost/asio/post.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <unordered_map>

#include "coord/redis/connection.hpp"

namespace tiketi::coord {
namespace {

namespace asio = boost::asio;
using redis::Connection;
using redis::ConnectionPtr;
using redis::RedisError;

// Lease value "<token>|<owner>"; the token counter lives beside it so it survives expiry.
const Script kAcquireLease{"lease.acquire", R"lua(
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '|', 1, true)
  if string.sub(v, sep + 1) ~= ARGV[1] then
    return false
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(v, 1, sep - 1))
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
return token
)lua",
                           nullptr};

const Script kRenewLease{"lease.renew", R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua",
                         nullptr};

const Script kReleaseLease{"lease.release", R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua",
                           nullptr};

// Argument lists are built by these (not braced lists) because g++ 12 rejects an
// initializer_list of std::string inside a coroutine ("array used as initializer").
template <class... A>
std::vector<std::string> argv(A&&... a) {
  std::vector<std::string> v;
  v.reserve(sizeof...(a));
  (v.emplace_back(std::forward<A>(a)), ...);
  return v;
}
template <class... A>
void append(std::vector<std::string>& v, A&&... a) {
  (v.emplace_back(std::forward<A>(a)), ...);
}

std::string lease_key(const std::string& name) { return "lease:{" + name + "}"; }
std::string fence_key(const std::string& name) { return "lease:{" + name + "}:token"; }
std::string lease_value(const Lease& l) { return std::to_string(l.fencing_token) + "|" + l.owner; }

std::string num(double d) {
  if (std::isinf(d)) {
    return d > 0 ? "+inf" : "-inf";
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that round-trips
  return std::string(buf, end);
}

double parse_double(const std::string& s) {
  if (s == "inf" || s == "+inf") {
    return INFINITY;
  }
  if (s == "-inf") {
    return -INFINITY;
  }
  return std::stod(s);
}

std::vector<ScoredMember> scored_pairs(const Reply& r) {
  std::vector<ScoredMember> out;
  if (r.is_nil()) {
    return out;
  }
  const auto& a = r.array();
  for (std::size_t i = 0; i + 1 < a.size(); i += 2) {
    out.push_back({a[i].string(), parse_double(a[i + 1].string())});
  }
  return out;
}

// [[id, [f, v, f, v]], ...]; entries whose fields are nil (deleted) are skipped.
std::vector<StreamEntry> stream_entries(const Reply& r) {
  std::vector<StreamEntry> out;
  if (r.is_nil()) {
    return out;
  }
  for (const auto& e : r.array()) {
    const auto& pair = e.array();
    if (pair.size() < 2 || pair[1].is_nil()) {
      continue;
    }
    StreamEntry entry;
    entry.id = pair[0].string();
    const auto& f = pair[1].array();
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      entry.fields.emplace_back(f[i].string(), f[i + 1].string());
    }
    out.push_back(std::move(entry));
  }
  return out;
}

struct SubscriberState {
  std::function<void(const std::string&)> on_message;
  std::atomic<bool> alive{true};
};

class RedisCoordinator;

class RedisSubscription final : public Subscription {
 public:
  RedisSubscription(std::weak_ptr<RedisCoordinator> owner, std::string channel, std::uint64_t id,
                    std::shared_ptr<SubscriberState> sub)
      : owner_(std::move(owner)), channel_(std::move(channel)), id_(id), sub_(std::move(sub)) {}
  ~RedisSubscription() override;

 private:
  std::weak_ptr<RedisCoordinator> owner_;
  std::string channel_;
  std::uint64_t id_;
  std::shared_ptr<SubscriberState> sub_;
};

class RedisCoordinator final : public Coordinator, public std::enable_shared_from_this<RedisCoordinator> {
 public:
  RedisCoordinator(Executor ex, RedisOptions opts)
      : ex_(std::move(ex)),
        opts_(std::move(opts)),
        url_(redis::parse_url(opts_.url)),
        clock_(opts_.clock ? opts_.clock : std::make_shared<SystemClock>()) {}

  Connection::Options conn_options() const {
    Connection::Options o;
    o.url = url_;
    o.url.client_name = opts_.client_name;
    o.connect_timeout = opts_.connect_timeout;
    o.reconnect_wait = opts_.reconnect_wait;
    return o;
  }

  Task<void> start() {
    main_ = co_await Connection::open(ex_, conn_options());
    auto o = conn_options();
    std::weak_ptr<RedisCoordinator> weak = weak_from_this();
    o.on_push = [weak](const Reply& r) {
      if (auto self = weak.lock()) {
        self->on_push(r);
      }
    };
    o.on_connected = [weak] {
      if (auto self = weak.lock()) {
        self->resubscribe();
      }
    };
    sub_ = co_await Connection::open(ex_, std::move(o));
  }

  std::string kind() const override { return "redis"; }

  Task<Reply> cmd(std::vector<std::string> args) { return main_->command(std::move(args)); }

  Task<std::optional<std::string>> get(std::string key) override {
    auto r = co_await cmd(argv("GET", std::move(key)));
    if (r.is_nil()) {
      co_return std::nullopt;
    }
    co_return r.string();
  }
  Task<void> set(std::string key, std::string value, Ttl ttl) override {
    auto args = argv("SET", std::move(key), std::move(value));
    if (ttl.count() > 0) {
      append(args, "PX", std::to_string(ttl.count()));
    }
    co_await cmd(std::move(args));
  }
  Task<bool> set_nx(std::string key, std::string value, Ttl ttl) override {
    auto args = argv("SET", std::move(key), std::move(value), "NX");
    if (ttl.count() > 0) {
      append(args, "PX", std::to_string(ttl.count()));
    }
    co_return !(co_await cmd(std::move(args))).is_nil();
  }
  Task<bool> del(std::string key) override {
    co_return (co_await cmd(argv("DEL", std::move(key)))).integer() > 0;
  }
  Task<bool> expire(std::string key, Ttl ttl) override {
    co_return (co_await cmd(argv("PEXPIRE", std::move(key), std::to_string(ttl.count())))).integer() > 0;
  }
  Task<std::int64_t> incr(std::string key, std::int64_t by) override {
    co_return (co_await cmd(argv("INCRBY", std::move(key), std::to_string(by)))).integer();
  }

  Task<bool> zadd(std::string key, std::string member, double score, bool only_if_new) override {
    auto args = argv("ZADD", std::move(key));
    if (only_if_new) {
      args.push_back("NX");
    }
    args.push_back(num(score));
    args.push_back(std::move(member));
    co_return (co_await cmd(std::move(args))).integer() > 0;
  }
  Task<std::optional<std::int64_t>> zrank(std::string key, std::string member) override {
    auto r = co_await cmd(argv("ZRANK", std::move(key), std::move(member)));
    if (r.is_nil()) {
      co_return std::nullopt;
    }
    co_return r.integer();
  }
  Task<std::optional<double>> zscore(std::string key, std::string member) override {
    auto r = co_await cmd(argv("ZSCORE", std::move(key), std::move(member)));
    if (r.is_nil()) {
      co_return std::nullopt;
    }
    co_return parse_double(r.string());
  }
  Task<bool> zrem(std::string key, std::string member) override {
    co_return (co_await cmd(argv("ZREM", std::move(key), std::move(member)))).integer() > 0;
  }
  Task<std::int64_t> zcard(std::string key) override {
    co_return (co_await cmd(argv("ZCARD", std::move(key)))).integer();
  }
  Task<std::vector<ScoredMember>> zrange(std::string key, std::int64_t start, std::int64_t stop) override {
    co_return scored_pairs(co_await cmd(
        argv("ZRANGE", std::move(key), std::to_string(start), std::to_string(stop), "WITHSCORES")));
  }
  Task<std::vector<ScoredMember>> zrange_by_score(std::string key, double min, double max,
                                                  std::int64_t limit) override {
    auto args = argv("ZRANGEBYSCORE", std::move(key), num(min), num(max), "WITHSCORES");
    if (limit >= 0) {
      append(args, "LIMIT", "0", std::to_string(limit));
    }
    co_return scored_pairs(co_await cmd(std::move(args)));
  }
  Task<std::vector<ScoredMember>> zpop_min(std::string key, std::int64_t count) override {
    co_return scored_pairs(co_await cmd(argv("ZPOPMIN", std::move(key), std::to_string(count))));
  }

  // ---- pub/sub ----
  Task<std::int64_t> publish(std::string channel, std::string message) override {
    co_return (co_await cmd(argv("PUBLISH", std::move(channel), std::move(message)))).integer();
  }

  Task<SubscriptionPtr> subscribe(std::string channel,
                                  std::function<void(const std::string& message)> on_message) override {
    auto sub = std::make_shared<SubscriberState>();
    sub->on_message = std::move(on_message);
    std::uint64_t id = 0;
    bool send = false;
    {
      std::lock_guard lock(sub_mu_);
      auto& ch = channels_[channel];
      id = ++next_sub_id_;
      send = ch.subs.empty();
      ch.subs.emplace(id, sub);
    }
    // Return only once the server confirmed, so a publish right after subscribe is seen.
    std::function<void(Connection::Callback)> wait_confirmed = [this, channel,
                                                                send](Connection::Callback done) {
      bool confirmed = false;
      {
        std::lock_guard lock(sub_mu_);
        auto& ch = channels_[channel];
        confirmed = ch.confirmed;
        if (!confirmed) {
          ch.waiters.push_back(done);
        }
      }
      if (confirmed) {
        done(nullptr, Reply{});
      }
      if (send) {
        sub_->submit_push(argv("SUBSCRIBE", channel));
      }
    };
    // A named function object: g++ 12 mishandles lambda temporaries inside a co_await expression.
    co_await redis::await_callback(std::move(wait_confirmed));
    co_return std::make_unique<RedisSubscription>(weak_from_this(), channel, id, sub);
  }

  void unsubscribe(const std::string& channel, std::uint64_t id) {
    std::lock_guard lock(sub_mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) {
      return;
    }
    it->second.subs.erase(id);
    if (it->second.subs.empty()) {
      channels_.erase(it);
      sub_->submit_push(argv("UNSUBSCRIBE", channel));
    }
  }

  // Runs on the subscriber connection's strand.
  void on_push(const Reply& r) {
    if (!std::holds_alternative<ReplyArray>(r.v) || r.array().size() < 3) {
      return;
    }
    const auto& a = r.array();
    const std::string& kind = a[0].string();
    const std::string& channel = a[1].string();
    if (kind == "message") {
      std::vector<std::shared_ptr<SubscriberState>> targets;
      {
        std::lock_guard lock(sub_mu_);
        auto it = channels_.find(channel);
        if (it == channels_.end()) {
          return;
        }
        for (auto& [id, s] : it->second.subs) {
          targets.push_back(s);
        }
      }
      auto message = std::make_shared<const std::string>(a[2].string());
      for (auto& s : targets) {
        asio::post(ex_, [s, message] {
          if (s->alive) {
            s->on_message(*message);
          }
        });
      }
    } else if (kind == "subscribe") {
      std::vector<Connection::Callback> waiters;
      {
        std::lock_guard lock(sub_mu_);
        auto it = channels_.find(channel);
        if (it == channels_.end()) {
          return;
        }
        it->second.confirmed = true;
        waiters.swap(it->second.waiters);
      }
      for (auto& w : waiters) {
        w(nullptr, Reply{});
      }
    } else if (kind == "unsubscribe") {
      // A channel dropped and subscribed again before the server answered: hiredis forgets the
      // channel on this reply, so subscribe once more (its confirmation releases the waiters).
      bool again = false;
      {
        std::lock_guard lock(sub_mu_);
        auto it = channels_.find(channel);
        if (it != channels_.end()) {
          it->second.confirmed = false;
          again = true;
        }
      }
      if (again) {
        sub_->submit_push(argv("SUBSCRIBE", channel));
      }
    }
  }

  // After a reconnect the server has forgotten our subscriptions.
  void resubscribe() {
    std::lock_guard lock(sub_mu_);
    for (auto& [channel, ch] : channels_) {
      sub_->submit_push(argv("SUBSCRIBE", channel));
    }
  }

  // ---- leases ----
  Task<std::optional<Lease>> acquire_lease(std::string name, std::string owner, Ttl ttl) override {
    auto r = co_await eval(kAcquireLease, argv(lease_key(name), fence_key(name)),
                           argv(owner, std::to_string(ttl.count())));
    if (r.is_nil()) {
      co_return std::nullopt;
    }
    co_return Lease{std::move(name), std::move(owner), r.integer(), clock_->now_ms() + ttl.count()};
  }
  Task<bool> renew_lease(const Lease& lease, Ttl ttl) override {
    auto r = co_await eval(kRenewLease, argv(lease_key(lease.name)),
                           argv(lease_value(lease), std::to_string(ttl.count())));
    co_return r.integer() > 0;
  }
  Task<void> release_lease(const Lease& lease) override {
    co_await eval(kReleaseLease, argv(lease_key(lease.name)), argv(lease_value(lease)));
  }

  // ---- streams ----
  Task<std::string> xadd(std::string stream,
                         std::vector<std::pair<std::string, std::string>> fields) override {
    auto args = argv("XADD", std::move(stream), "*");
    for (auto& [k, v] : fields) {
      args.push_back(std::move(k));
      args.push_back(std::move(v));
    }
    co_return (co_await cmd(std::move(args))).string();
  }
  Task<void> create_group(std::string stream, std::string group) override {
    bool exists = false;
    try {
      co_await cmd(argv("XGROUP", "CREATE", std::move(stream), std::move(group), "0", "MKSTREAM"));
    } catch (const RedisError& e) {
      if (std::string_view(e.what()).rfind("BUSYGROUP", 0) != 0) {
        throw;
      }
      exists = true;
    }
    (void)exists;
  }
  Task<std::vector<StreamEntry>> read_group(std::string stream, std::string group, std::string consumer,
                                            std::int64_t count, Ttl block) override {
    auto args =
        argv("XREADGROUP", "GROUP", std::move(group), std::move(consumer), "COUNT", std::to_string(count));
    if (block.count() > 0) {
      append(args, "BLOCK", std::to_string(block.count()));
    }
    append(args, "STREAMS", std::move(stream), ">");
    Reply r;
    if (block.count() > 0) {
      r = co_await blocking_command(std::move(args));
    } else {
      r = co_await cmd(std::move(args));
    }
    if (r.is_nil() || r.array().empty()) {
      co_return std::vector<StreamEntry>{};
    }
    co_return stream_entries(r.array()[0].array().at(1));
  }
  Task<void> ack(std::string stream, std::string group, std::string id) override {
    co_await cmd(argv("XACK", std::move(stream), std::move(group), std::move(id)));
  }
  Task<std::vector<StreamEntry>> claim_stale(std::string stream, std::string group, std::string consumer,
                                             Ttl min_idle, std::int64_t count) override {
    auto r = co_await cmd(argv("XAUTOCLAIM", std::move(stream), std::move(group), std::move(consumer),
                               std::to_string(min_idle.count()), "0-0", "COUNT", std::to_string(count)));
    co_return stream_entries(r.array().at(1));
  }
  Task<std::int64_t> pending_count(std::string stream, std::string group) override {
    auto r = co_await cmd(argv("XPENDING", std::move(stream), std::move(group)));
    co_return r.array().at(0).integer();
  }

  // ---- scripts ----
  Task<Reply> eval(const Script& script, std::vector<std::string> keys,
                   std::vector<std::string> args) override {
    if (script.lua.empty()) {
      throw std::invalid_argument("script " + script.name + " has no Lua implementation");
    }
    std::string sha;
    {
      std::lock_guard lock(script_mu_);
      if (auto it = shas_.find(script.lua); it != shas_.end()) {
        sha = it->second;
      }
    }
    if (sha.empty()) {
      sha = (co_await cmd(argv("SCRIPT", "LOAD", script.lua))).string();
      std::lock_guard lock(script_mu_);
      shas_[script.lua] = sha;
    }
    auto call = argv("EVALSHA", sha, std::to_string(keys.size()));
    call.insert(call.end(), std::make_move_iterator(keys.begin()), std::make_move_iterator(keys.end()));
    call.insert(call.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    bool noscript = false;
    try {
      co_return co_await cmd(call);
    } catch (const RedisError& e) {
      // The server lost its script cache (restart, SCRIPT FLUSH): send the text once more.
      if (std::string_view(e.what()).rfind("NOSCRIPT", 0) != 0) {
        throw;
      }
      noscript = true;
    }
    if (noscript) {
      {
        std::lock_guard lock(script_mu_);
        shas_.erase(script.lua);
      }
      call[0] = "EVAL";
      call[1] = script.lua;
    }
    co_return co_await cmd(std::move(call));
  }

  Task<bool> ping() override {
    try {
      co_return (co_await cmd(argv("PING"))).string() == "PONG";
    } catch (const std::exception&) {
      co_return false;
    }
  }

  void close() override {
    std::vector<ConnectionPtr> idle;
    {
      std::lock_guard lock(pool_mu_);
      closed_ = true;
      idle.swap(blocking_idle_);
    }
    for (auto& c : idle) {
      c->close();
    }
    if (main_) {
      main_->close();
    }
    if (sub_) {
      sub_->close();
    }
  }

  ~RedisCoordinator() override { close(); }

 private:
  Task<Reply> blocking_command(std::vector<std::string> args) {
    ConnectionPtr c;
    {
      std::lock_guard lock(pool_mu_);
      if (!blocking_idle_.empty()) {
        c = std::move(blocking_idle_.back());
        blocking_idle_.pop_back();
      }
    }
    if (!c) {
      c = co_await Connection::open(ex_, conn_options());
    }
    // On an exception the connection is dropped (closed by its destructor) rather than reused.
    Reply r = co_await c->command(std::move(args));
    std::lock_guard lock(pool_mu_);
    if (!closed_ && blocking_idle_.size() < 16) {
      blocking_idle_.push_back(std::move(c));
    }
    co_return r;
  }

  struct Channel {
    std::map<std::uint64_t, std::shared_ptr<SubscriberState>> subs;
    bool confirmed = false;
    std::vector<Connection::Callback> waiters;
  };

  Executor ex_;
  RedisOptions opts_;
  redis::Url url_;
  ClockPtr clock_;
  ConnectionPtr main_;
  ConnectionPtr sub_;
  std::mutex pool_mu_;
  std::vector<ConnectionPtr> blocking_idle_;
  bool closed_ = false;
  std::mutex script_mu_;
  std::unordered_map<std::string, std::string> shas_;  // lua text -> sha1
  std::mutex sub_mu_;
  std::unordered_map<std::string, Channel> channels_;
  std::uint64_t next_sub_id_ = 0;
};

RedisSubscription::~RedisSubscription() {
  sub_->alive = false;
  if (auto owner = owner_.lock()) {
    owner->unsubscribe(channel_, id_);
  }
}

}  // namespace

Task<CoordinatorPtr> open_redis(Executor ex, RedisOptions opts) {
  auto c = std::make_shared<RedisCoordinator>(std::move(ex), std::move(opts));
  co_await c->start();
  co_return c;
}

}  // namespace tiketi::coord
