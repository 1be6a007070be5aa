#pragma once
// The in-process coordination store. One mutex guards everything; the memory coordinator takes it
// around each port operation, and a Script's native function runs with it held, calling these
// methods directly — so a script is atomic exactly like a Lua script on Redis.
//
// One key space like Redis: a key holds a string, a sorted set or a stream; del/expire work on any.
// Expiry is lazy: an expired key is dropped when it is next touched.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coord/coordinator.hpp"
#include "core/clock.hpp"

namespace tiketi::coord {

// Thrown for Redis-style errors (wrong type, not an integer, unknown group), same text as Redis.
struct MemoryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class MemoryState {
 public:
  explicit MemoryState(ClockPtr clock);
  ~MemoryState();
  MemoryState(const MemoryState&) = delete;
  MemoryState& operator=(const MemoryState&) = delete;

  // Every method below expects this mutex to be held by the caller.
  std::mutex& mutex() { return mutex_; }
  Millis now_ms() const;

  // Key/value.
  std::optional<std::string> get(const std::string& key);
  void set(const std::string& key, std::string value, Ttl ttl = Ttl{0});
  bool set_nx(const std::string& key, std::string value, Ttl ttl = Ttl{0});
  bool del(const std::string& key);
  bool exists(const std::string& key);
  bool expire(const std::string& key, Ttl ttl);
  std::int64_t pttl(const std::string& key);  // -2 missing, -1 no expiry, like PTTL
  std::int64_t incr(const std::string& key, std::int64_t by = 1);

  // Sorted sets (ties ordered by member, like Redis).
  bool zadd(const std::string& key, const std::string& member, double score, bool only_if_new = false);
  std::optional<std::int64_t> zrank(const std::string& key, const std::string& member);
  std::optional<double> zscore(const std::string& key, const std::string& member);
  bool zrem(const std::string& key, const std::string& member);
  std::int64_t zcard(const std::string& key);
  std::vector<ScoredMember> zrange(const std::string& key, std::int64_t start, std::int64_t stop);
  std::vector<ScoredMember> zrange_by_score(const std::string& key, double min, double max,
                                            std::int64_t limit = -1);
  std::vector<ScoredMember> zpop_min(const std::string& key, std::int64_t count);
  // Members with min <= score <= max, like ZCOUNT; counts without copying them out.
  std::int64_t zcount(const std::string& key, double min, double max);

  // Pub/sub. `deliver` is called with the lock held: it must only hand the message off (post).
  using Deliver = std::function<void(const std::string& message)>;
  std::uint64_t add_subscriber(const std::string& channel, Deliver deliver);
  void remove_subscriber(const std::string& channel, std::uint64_t id);
  std::int64_t publish(const std::string& channel, const std::string& message);

  // Leases: the fencing token counter per name survives expiry and release.
  std::optional<Lease> acquire_lease(const std::string& name, const std::string& owner, Ttl ttl);
  bool renew_lease(const Lease& lease, Ttl ttl);
  void release_lease(const Lease& lease);

  // Streams with consumer groups.
  std::string xadd(const std::string& stream, std::vector<std::pair<std::string, std::string>> fields);
  std::int64_t xlen(const std::string& stream);
  void create_group(const std::string& stream, const std::string& group);
  // New entries only (like XREADGROUP ... >); never blocks.
  std::vector<StreamEntry> read_group(const std::string& stream, const std::string& group,
                                      const std::string& consumer, std::int64_t count);
  bool ack(const std::string& stream, const std::string& group, const std::string& id);
  std::vector<StreamEntry> claim_stale(const std::string& stream, const std::string& group,
                                       const std::string& consumer, Ttl min_idle, std::int64_t count);
  std::int64_t pending_count(const std::string& stream, const std::string& group);
  // Called (with the lock held) on the next xadd to `stream`, then forgotten.
  std::uint64_t add_stream_waiter(const std::string& stream, std::function<void()> wake);
  void remove_stream_waiter(const std::string& stream, std::uint64_t id);

 private:
  struct Data;
  std::mutex mutex_;
  std::unique_ptr<Data> d_;
};

}  // namespace tiketi::coord
