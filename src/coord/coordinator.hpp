#pragma once
// The coordination port: what Redis does in the scaled shape and memory does in the embedded one.
// Every operation is atomic on its own; multi-step atomic work goes through Script.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/task.hpp"

namespace tiketi::coord {

using Ttl = std::chrono::milliseconds;

struct ScoredMember {
  std::string member;
  double score;
};

struct Lease {
  std::string name;
  std::string owner;
  std::int64_t fencing_token;  // strictly increasing per lease name across all holders
  std::int64_t expires_at_ms;
};

struct StreamEntry {
  std::string id;  // "1700000000000-0"
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::string> field(std::string_view name) const;
};

// A script result: nil, integer, bulk string, or an array of those (like Redis replies).
struct Reply;
using ReplyArray = std::vector<Reply>;
struct Reply {
  std::variant<std::monostate, std::int64_t, std::string, ReplyArray> v;
  bool is_nil() const { return std::holds_alternative<std::monostate>(v); }
  std::int64_t integer() const;
  const std::string& string() const;
  const ReplyArray& array() const;
};

class MemoryState;  // the in-process store, visible to a Script's native implementation

// An atomic multi-step operation: Lua for Redis (EVALSHA, loaded once) and an equivalent native
// function for the in-process store (run under its lock). Both must behave the same; the port
// conformance suite runs each script against both adapters.
struct Script {
  std::string name;
  std::string lua;
  std::function<Reply(MemoryState&, const std::vector<std::string>& keys,
                      const std::vector<std::string>& args)>
      native;
};

class Subscription {
 public:
  virtual ~Subscription() = default;  // unsubscribes
};
using SubscriptionPtr = std::unique_ptr<Subscription>;

class Coordinator {
 public:
  virtual ~Coordinator() = default;
  virtual std::string kind() const = 0;  // "memory" or "redis"

  // Key/value with optional TTL (0 = none).
  virtual Task<std::optional<std::string>> get(std::string key) = 0;
  virtual Task<void> set(std::string key, std::string value, Ttl ttl = Ttl{0}) = 0;
  virtual Task<bool> set_nx(std::string key, std::string value, Ttl ttl = Ttl{0}) = 0;
  virtual Task<bool> del(std::string key) = 0;
  virtual Task<bool> expire(std::string key, Ttl ttl) = 0;
  virtual Task<std::int64_t> incr(std::string key, std::int64_t by = 1) = 0;

  // Sorted sets.
  virtual Task<bool> zadd(std::string key, std::string member, double score, bool only_if_new = false) = 0;
  virtual Task<std::optional<std::int64_t>> zrank(std::string key, std::string member) = 0;
  virtual Task<std::optional<double>> zscore(std::string key, std::string member) = 0;
  virtual Task<bool> zrem(std::string key, std::string member) = 0;
  virtual Task<std::int64_t> zcard(std::string key) = 0;
  virtual Task<std::vector<ScoredMember>> zrange(std::string key, std::int64_t start, std::int64_t stop) = 0;
  virtual Task<std::vector<ScoredMember>> zrange_by_score(std::string key, double min, double max,
                                                          std::int64_t limit = -1) = 0;
  virtual Task<std::vector<ScoredMember>> zpop_min(std::string key, std::int64_t count) = 0;

  // Pub/sub. The callback runs on the coordinator's executor; keep it short.
  virtual Task<std::int64_t> publish(std::string channel, std::string message) = 0;
  virtual Task<SubscriptionPtr> subscribe(std::string channel,
                                          std::function<void(const std::string& message)> on_message) = 0;

  // Leases for leader election. acquire succeeds when free or expired (or already ours, renewing);
  // the fencing token increases on every change of holder.
  virtual Task<std::optional<Lease>> acquire_lease(std::string name, std::string owner, Ttl ttl) = 0;
  virtual Task<bool> renew_lease(const Lease& lease, Ttl ttl) = 0;
  virtual Task<void> release_lease(const Lease& lease) = 0;

  // Streams with consumer groups.
  virtual Task<std::string> xadd(std::string stream,
                                 std::vector<std::pair<std::string, std::string>> fields) = 0;
  virtual Task<void> create_group(std::string stream, std::string group) = 0;  // idempotent, from the start
  // New entries for this consumer (blocks up to `block`), then pending ones can be claimed.
  virtual Task<std::vector<StreamEntry>> read_group(std::string stream, std::string group,
                                                    std::string consumer, std::int64_t count, Ttl block) = 0;
  virtual Task<void> ack(std::string stream, std::string group, std::string id) = 0;
  // Entries delivered to some consumer but not acked for longer than min_idle move to `consumer`.
  virtual Task<std::vector<StreamEntry>> claim_stale(std::string stream, std::string group,
                                                     std::string consumer, Ttl min_idle,
                                                     std::int64_t count) = 0;
  virtual Task<std::int64_t> pending_count(std::string stream, std::string group) = 0;

  // Atomic multi-step operation.
  virtual Task<Reply> eval(const Script& script, std::vector<std::string> keys,
                           std::vector<std::string> args) = 0;

  virtual Task<bool> ping() = 0;
  virtual void close() = 0;
};
using CoordinatorPtr = std::shared_ptr<Coordinator>;

// "" -> in-process; "redis://host:port[/db]" -> Redis. Throws on a bad URL or unreachable server.
Task<CoordinatorPtr> open(Executor ex, const std::string& url);

// The in-process adapter. TTLs, lease expiry and stream idle times follow `clock` (SystemClock
// when null), so tests drive them with a ManualClock.
struct MemoryOptions {
  ClockPtr clock;
};
CoordinatorPtr make_memory_coordinator(Executor ex, MemoryOptions opts = {});

// The Redis adapter. Commands share one pipelined connection; SUBSCRIBE uses a second one and every
// blocking XREADGROUP borrows a connection of its own from a small pool, so a blocked reader never
// stalls other commands. Commands in flight when the connection drops fail with std::runtime_error;
// new ones wait up to `reconnect_wait` for the reconnect.
struct RedisOptions {
  std::string url;  // redis://[:password@]host:port[/db]
  ClockPtr clock;   // lease expires_at_ms; SystemClock when null
  Ttl connect_timeout{2'000};
  Ttl reconnect_wait{2'000};
  std::string client_name;  // CLIENT SETNAME on every connection ("" = none); shows in CLIENT LIST
};
// Throws std::invalid_argument on a bad URL and std::runtime_error when the server is unreachable.
Task<CoordinatorPtr> open_redis(Executor ex, RedisOptions opts);

}  // namespace tiketi::coord
