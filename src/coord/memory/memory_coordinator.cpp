// The in-process Coordinator: every operation takes MemoryState's lock, does its work synchronously
// and returns. Only read_group waits, on a channel that xadd signals (no polling).
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "coord/memory/memory_state.hpp"

namespace tiketi::coord {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using WakeChannel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

struct SubscriberState {
  std::function<void(const std::string&)> on_message;
  std::atomic<bool> alive{true};
};

class MemorySubscription final : public Subscription {
 public:
  MemorySubscription(std::shared_ptr<MemoryState> state, std::string channel, std::uint64_t id,
                     std::shared_ptr<SubscriberState> sub)
      : state_(std::move(state)), channel_(std::move(channel)), id_(id), sub_(std::move(sub)) {}
  ~MemorySubscription() override {
    // Messages already posted are dropped through the alive flag.
    sub_->alive = false;
    std::lock_guard lock(state_->mutex());
    state_->remove_subscriber(channel_, id_);
  }

 private:
  std::shared_ptr<MemoryState> state_;
  std::string channel_;
  std::uint64_t id_;
  std::shared_ptr<SubscriberState> sub_;
};

class MemoryCoordinator final : public Coordinator {
 public:
  MemoryCoordinator(Executor ex, MemoryOptions opts)
      : ex_(std::move(ex)), state_(std::make_shared<MemoryState>(std::move(opts.clock))) {}

  std::string kind() const override { return "memory"; }

  // Runs fn under the lock and returns its result.
  template <class F>
  auto locked(F&& fn) {
    std::lock_guard lock(state_->mutex());
    return fn(*state_);
  }

  Task<std::optional<std::string>> get(std::string key) override {
    co_return locked([&](MemoryState& s) { return s.get(key); });
  }
  Task<void> set(std::string key, std::string value, Ttl ttl) override {
    locked([&](MemoryState& s) { s.set(key, std::move(value), ttl); });
    co_return;
  }
  Task<bool> set_nx(std::string key, std::string value, Ttl ttl) override {
    co_return locked([&](MemoryState& s) { return s.set_nx(key, std::move(value), ttl); });
  }
  Task<bool> del(std::string key) override {
    co_return locked([&](MemoryState& s) { return s.del(key); });
  }
  Task<bool> expire(std::string key, Ttl ttl) override {
    co_return locked([&](MemoryState& s) { return s.expire(key, ttl); });
  }
  Task<std::int64_t> incr(std::string key, std::int64_t by) override {
    co_return locked([&](MemoryState& s) { return s.incr(key, by); });
  }

  Task<bool> zadd(std::string key, std::string member, double score, bool only_if_new) override {
    co_return locked([&](MemoryState& s) { return s.zadd(key, member, score, only_if_new); });
  }
  Task<std::optional<std::int64_t>> zrank(std::string key, std::string member) override {
    co_return locked([&](MemoryState& s) { return s.zrank(key, member); });
  }
  Task<std::optional<double>> zscore(std::string key, std::string member) override {
    co_return locked([&](MemoryState& s) { return s.zscore(key, member); });
  }
  Task<bool> zrem(std::string key, std::string member) override {
    co_return locked([&](MemoryState& s) { return s.zrem(key, member); });
  }
  Task<std::int64_t> zcard(std::string key) override {
    co_return locked([&](MemoryState& s) { return s.zcard(key); });
  }
  Task<std::vector<ScoredMember>> zrange(std::string key, std::int64_t start, std::int64_t stop) override {
    co_return locked([&](MemoryState& s) { return s.zrange(key, start, stop); });
  }
  Task<std::vector<ScoredMember>> zrange_by_score(std::string key, double min, double max,
                                                  std::int64_t limit) override {
    co_return locked([&](MemoryState& s) { return s.zrange_by_score(key, min, max, limit); });
  }
  Task<std::vector<ScoredMember>> zpop_min(std::string key, std::int64_t count) override {
    co_return locked([&](MemoryState& s) { return s.zpop_min(key, count); });
  }

  Task<std::int64_t> publish(std::string channel, std::string message) override {
    co_return locked([&](MemoryState& s) { return s.publish(channel, message); });
  }
  Task<SubscriptionPtr> subscribe(std::string channel,
                                  std::function<void(const std::string& message)> on_message) override {
    auto sub = std::make_shared<SubscriberState>();
    sub->on_message = std::move(on_message);
    auto deliver = [ex = ex_, sub](const std::string& message) {
      asio::post(ex, [sub, message] {
        if (sub->alive) {
          sub->on_message(message);
        }
      });
    };
    auto id = locked([&](MemoryState& s) { return s.add_subscriber(channel, deliver); });
    co_return std::make_unique<MemorySubscription>(state_, channel, id, sub);
  }

  Task<std::optional<Lease>> acquire_lease(std::string name, std::string owner, Ttl ttl) override {
    co_return locked([&](MemoryState& s) { return s.acquire_lease(name, owner, ttl); });
  }
  Task<bool> renew_lease(const Lease& lease, Ttl ttl) override {
    co_return locked([&](MemoryState& s) { return s.renew_lease(lease, ttl); });
  }
  Task<void> release_lease(const Lease& lease) override {
    locked([&](MemoryState& s) { s.release_lease(lease); });
    co_return;
  }

  Task<std::string> xadd(std::string stream,
                         std::vector<std::pair<std::string, std::string>> fields) override {
    co_return locked([&](MemoryState& s) { return s.xadd(stream, std::move(fields)); });
  }
  Task<void> create_group(std::string stream, std::string group) override {
    locked([&](MemoryState& s) { s.create_group(stream, group); });
    co_return;
  }

  Task<std::vector<StreamEntry>> read_group(std::string stream, std::string group, std::string consumer,
                                            std::int64_t count, Ttl block) override {
    auto ex = co_await asio::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + block;
    for (;;) {
      std::shared_ptr<WakeChannel> wake;
      std::uint64_t waiter = 0;
      {
        std::lock_guard lock(state_->mutex());
        auto entries = state_->read_group(stream, group, consumer, count);
        if (!entries.empty() || closed_ || std::chrono::steady_clock::now() >= deadline) {
          co_return entries;
        }
        wake = std::make_shared<WakeChannel>(ex, 1);
        // xadd calls this with the lock held; posting keeps the reader from resuming inside it.
        waiter = state_->add_stream_waiter(
            stream, [wake, ex] { asio::post(ex, [wake] { wake->try_send(boost::system::error_code{}); }); });
      }
      asio::steady_timer timer(ex, deadline);
      co_await (wake->async_receive(asio::as_tuple(asio::use_awaitable)) ||
                timer.async_wait(asio::as_tuple(asio::use_awaitable)));
      std::lock_guard lock(state_->mutex());
      state_->remove_stream_waiter(stream, waiter);
    }
  }

  Task<void> ack(std::string stream, std::string group, std::string id) override {
    locked([&](MemoryState& s) { s.ack(stream, group, id); });
    co_return;
  }
  Task<std::vector<StreamEntry>> claim_stale(std::string stream, std::string group, std::string consumer,
                                             Ttl min_idle, std::int64_t count) override {
    co_return locked([&](MemoryState& s) { return s.claim_stale(stream, group, consumer, min_idle, count); });
  }
  Task<std::int64_t> pending_count(std::string stream, std::string group) override {
    co_return locked([&](MemoryState& s) { return s.pending_count(stream, group); });
  }

  Task<Reply> eval(const Script& script, std::vector<std::string> keys,
                   std::vector<std::string> args) override {
    if (!script.native) {
      throw std::invalid_argument("script " + script.name + " has no native implementation");
    }
    co_return locked([&](MemoryState& s) { return script.native(s, keys, args); });
  }

  Task<bool> ping() override { co_return !closed_; }
  void close() override { closed_ = true; }

 private:
  Executor ex_;
  std::shared_ptr<MemoryState> state_;
  std::atomic<bool> closed_{false};
};

}  // namespace

CoordinatorPtr make_memory_coordinator(Executor ex, MemoryOptions opts) {
  return std::make_shared<MemoryCoordinator>(std::move(ex), std::move(opts));
}

}  // namespace tiketi::coord
