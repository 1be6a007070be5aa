// One suite, two adapters: every Coordinator behaviour the services rely on, run against the
// in-process store (ManualClock) and Redis (TIKETI_TEST_REDIS_URL, real time for TTLs).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <set>

#include "coord/memory/memory_state.hpp"
#include "coord/tests/coord_fixture.hpp"

namespace tiketi::coord {
namespace {

using namespace std::chrono_literals;
using testing::Loop;

class CoordinatorConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ns_ = testing::random_namespace();
    if (GetParam() == "memory") {
      coord_ = make_memory_coordinator(loop_.ex(), MemoryOptions{clock_});
      return;
    }
    TIKETI_REDIS_URL_OR_SKIP(url);
    coord_ = loop_.run(open_redis(loop_.ex(), RedisOptions{url}));
  }
  void TearDown() override {
    if (coord_) {
      coord_->close();
    }
  }

  bool memory() const { return GetParam() == "memory"; }
  std::string k(const std::string& name) const { return ns_ + name; }

  // Lets `d` pass: the ManualClock for memory, real time for Redis (server-side expiry).
  Task<void> pass(std::chrono::milliseconds d) {
    if (memory()) {
      clock_->advance(d.count());
      co_return;
    }
    co_await testing::real_wait(d);
  }

  template <class T>
  T run(Task<T> t) {
    return loop_.run(std::move(t));
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  Loop loop_;
  CoordinatorPtr coord_;
  std::string ns_;
};

TEST_P(CoordinatorConformance, KeyValueWithTtl) {
  run([&]() -> Task<void> {
    EXPECT_FALSE((co_await coord_->get(k("missing"))).has_value());
    co_await coord_->set(k("a"), "1");
    EXPECT_EQ(co_await coord_->get(k("a")), "1");
    co_await coord_->set(k("a"), "2");
    EXPECT_EQ(co_await coord_->get(k("a")), "2");

    co_await coord_->set(k("ttl"), "x", 100ms);
    EXPECT_EQ(co_await coord_->get(k("ttl")), "x");
    co_await pass(250ms);
    EXPECT_FALSE((co_await coord_->get(k("ttl"))).has_value());

    EXPECT_TRUE(co_await coord_->expire(k("a"), 100ms));
    EXPECT_FALSE(co_await coord_->expire(k("nope"), 100ms));
    co_await pass(250ms);
    EXPECT_FALSE((co_await coord_->get(k("a"))).has_value());

    co_await coord_->set(k("d"), "v");
    EXPECT_TRUE(co_await coord_->del(k("d")));
    EXPECT_FALSE(co_await coord_->del(k("d")));
  }());
}

TEST_P(CoordinatorConformance, SetNxOnlyWhenAbsent) {
  run([&]() -> Task<void> {
    EXPECT_TRUE(co_await coord_->set_nx(k("n"), "first", 100ms));
    EXPECT_FALSE(co_await coord_->set_nx(k("n"), "second"));
    EXPECT_EQ(co_await coord_->get(k("n")), "first");
    co_await pass(250ms);
    EXPECT_TRUE(co_await coord_->set_nx(k("n"), "third"));
    EXPECT_EQ(co_await coord_->get(k("n")), "third");
  }());
}

TEST_P(CoordinatorConformance, Incr) {
  run([&]() -> Task<void> {
    EXPECT_EQ(co_await coord_->incr(k("c")), 1);
    EXPECT_EQ(co_await coord_->incr(k("c"), 5), 6);
    EXPECT_EQ(co_await coord_->incr(k("c"), -2), 4);
    EXPECT_EQ(co_await coord_->get(k("c")), "4");
    co_await coord_->set(k("text"), "abc");
    bool threw = false;
    try {
      co_await coord_->incr(k("text"));
    } catch (const std::exception&) {
      threw = true;
    }
    EXPECT_TRUE(threw) << "incr of a non-integer must fail";
  }());
}

// Lists via functions: g++ 12 rejects initializer_lists of std::string inside coroutines.
template <class... A>
std::vector<std::string> strs(A&&... a) {
  std::vector<std::string> v;
  (v.emplace_back(std::forward<A>(a)), ...);
  return v;
}

std::vector<std::pair<std::string, std::string>> fields(std::string k1, std::string v1, std::string k2 = {},
                                                        std::string v2 = {}) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back(std::move(k1), std::move(v1));
  if (!k2.empty()) {
    f.emplace_back(std::move(k2), std::move(v2));
  }
  return f;
}

std::vector<std::string> members(const std::vector<ScoredMember>& v) {
  std::vector<std::string> out;
  for (const auto& m : v) {
    out.push_back(m.member);
  }
  return out;
}

TEST_P(CoordinatorConformance, SortedSets) {
  run([&]() -> Task<void> {
    const auto z = k("z");
    EXPECT_TRUE(co_await coord_->zadd(z, "a", 3));
    EXPECT_TRUE(co_await coord_->zadd(z, "b", 1));
    EXPECT_TRUE(co_await coord_->zadd(z, "d", 2));
    EXPECT_TRUE(co_await coord_->zadd(z, "c", 2));  // tie with d: ordered by member
    EXPECT_EQ(members(co_await coord_->zrange(z, 0, -1)), (strs("b", "c", "d", "a")));
    EXPECT_EQ(members(co_await coord_->zrange(z, 1, 2)), (strs("c", "d")));
    EXPECT_EQ(members(co_await coord_->zrange(z, -2, -1)), (strs("d", "a")));
    EXPECT_EQ(co_await coord_->zrank(z, "d"), 2);
    EXPECT_EQ(co_await coord_->zrank(z, "b"), 0);
    EXPECT_FALSE((co_await coord_->zrank(z, "zz")).has_value());
    EXPECT_EQ(co_await coord_->zscore(z, "a"), 3.0);
    EXPECT_FALSE((co_await coord_->zscore(z, "zz")).has_value());
    EXPECT_EQ(co_await coord_->zcard(z), 4);

    // NX never moves an existing member; a plain zadd does (and reports no new member).
    EXPECT_FALSE(co_await coord_->zadd(z, "a", 0.5, true));
    EXPECT_EQ(co_await coord_->zscore(z, "a"), 3.0);
    EXPECT_FALSE(co_await coord_->zadd(z, "a", 2.5));
    EXPECT_EQ(co_await coord_->zrank(z, "a"), 3);
    EXPECT_EQ(co_await coord_->zscore(z, "a"), 2.5);

    auto by_score = co_await coord_->zrange_by_score(z, 2, 2.5);
    EXPECT_EQ(members(by_score), (strs("c", "d", "a")));
    EXPECT_EQ(by_score[2].score, 2.5);
    EXPECT_EQ(members(co_await coord_->zrange_by_score(z, 2, 3, 2)), (strs("c", "d")));
    EXPECT_EQ(members(co_await coord_->zrange_by_score(z, -INFINITY, 1)), (strs("b")));

    EXPECT_TRUE(co_await coord_->zrem(z, "d"));
    EXPECT_FALSE(co_await coord_->zrem(z, "d"));
    auto popped = co_await coord_->zpop_min(z, 2);
    EXPECT_EQ(members(popped), (strs("b", "c")));
    EXPECT_EQ(popped[0].score, 1.0);
    EXPECT_EQ(co_await coord_->zcard(z), 1);
    EXPECT_EQ(members(co_await coord_->zpop_min(z, 5)), (strs("a")));
    EXPECT_EQ(co_await coord_->zcard(z), 0);
    EXPECT_TRUE((co_await coord_->zpop_min(z, 1)).empty());
  }());
}

TEST_P(CoordinatorConformance, PubSubDelivers) {
  auto got = std::make_shared<std::promise<std::string>>();
  auto count = std::make_shared<std::atomic<int>>(0);
  auto sub = run(coord_->subscribe(k("chan"), [got, count](const std::string& m) {
    if ((*count)++ == 0) {
      got->set_value(m);
    }
  }));
  auto other =
      run(coord_->subscribe(k("other"), [](const std::string&) { ADD_FAILURE() << "wrong channel"; }));
  EXPECT_EQ(run(coord_->publish(k("chan"), "hello")), 1);
  auto fut = got->get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), "hello");
  EXPECT_EQ(run(coord_->publish(k("nobody"), "x")), 0);
  sub.reset();
  other.reset();
  if (memory()) {
    // Redis unsubscribes asynchronously, so the count is only exact in-process.
    EXPECT_EQ(run(coord_->publish(k("chan"), "late")), 0);
  }
}

TEST_P(CoordinatorConformance, Leases) {
  run([&]() -> Task<void> {
    const auto name = k("leader");
    auto a = co_await coord_->acquire_lease(name, "A", 200ms);
    EXPECT_TRUE(a.has_value());
    if (!a) {
      co_return;
    }
    EXPECT_EQ(a->owner, "A");
    EXPECT_FALSE((co_await coord_->acquire_lease(name, "B", 200ms)).has_value()) << "exclusive";

    // Acquiring again as the holder renews and keeps the token.
    auto again = co_await coord_->acquire_lease(name, "A", 200ms);
    EXPECT_TRUE(again.has_value());
    EXPECT_EQ(again->fencing_token, a->fencing_token);

    Lease forged = *a;
    forged.owner = "B";
    EXPECT_FALSE(co_await coord_->renew_lease(forged, 200ms)) << "renew by a non-owner";
    co_await coord_->release_lease(forged);  // release by a non-owner does nothing
    EXPECT_FALSE((co_await coord_->acquire_lease(name, "B", 200ms)).has_value());
    EXPECT_TRUE(co_await coord_->renew_lease(*a, 200ms));

    co_await pass(400ms);
    auto b = co_await coord_->acquire_lease(name, "B", 200ms);
    EXPECT_TRUE(b.has_value()) << "expiry lets another owner in";
    if (!b) {
      co_return;
    }
    EXPECT_GT(b->fencing_token, a->fencing_token);
    EXPECT_FALSE(co_await coord_->renew_lease(*a, 200ms)) << "the old holder lost it";

    co_await coord_->release_lease(*b);
    auto a2 = co_await coord_->acquire_lease(name, "A", 200ms);
    EXPECT_TRUE(a2.has_value()) << "release frees at once";
    if (a2) {
      EXPECT_GT(a2->fencing_token, b->fencing_token);
    }
  }());
}

TEST_P(CoordinatorConformance, StreamsWithConsumerGroups) {
  run([&]() -> Task<void> {
    const auto s = k("stream");
    co_await coord_->create_group(s, "g");
    co_await coord_->create_group(s, "g");  // idempotent
    co_await coord_->create_group(s, "audit");
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) {
      ids.push_back(co_await coord_->xadd(s, fields("n", std::to_string(i), "kind", "test")));
    }
    EXPECT_LT(ids[0], ids[1]);

    auto c1 = co_await coord_->read_group(s, "g", "c1", 2, 0ms);
    auto c2 = co_await coord_->read_group(s, "g", "c2", 10, 0ms);
    EXPECT_EQ(c1.size(), 2u);
    EXPECT_EQ(c2.size(), 2u);
    if (c1.size() != 2 || c2.size() != 2) {
      co_return;
    }
    EXPECT_EQ(c1[0].id, ids[0]);
    EXPECT_EQ(c1[0].field("n"), "0");
    EXPECT_EQ(c1[1].field("kind"), "test");
    EXPECT_EQ(c2[0].field("n"), "2");
    EXPECT_EQ(c2[1].id, ids[3]);
    EXPECT_TRUE((co_await coord_->read_group(s, "g", "c1", 10, 0ms)).empty()) << "each entry to one consumer";
    EXPECT_EQ((co_await coord_->read_group(s, "audit", "x", 10, 0ms)).size(), 4u) << "every group sees all";

    EXPECT_EQ(co_await coord_->pending_count(s, "g"), 4);
    co_await coord_->ack(s, "g", c1[0].id);
    EXPECT_EQ(co_await coord_->pending_count(s, "g"), 3);

    // Nothing has been idle for a minute; after 200 ms everything unacked is claimable.
    EXPECT_TRUE((co_await coord_->claim_stale(s, "g", "c3", 60'000ms, 10)).empty());
    co_await pass(200ms);
    auto claimed = co_await coord_->claim_stale(s, "g", "c3", 100ms, 10);
    EXPECT_EQ(claimed.size(), 3u);
    if (claimed.size() != 3) {
      co_return;
    }
    EXPECT_EQ(claimed[0].id, ids[1]);
    EXPECT_EQ(claimed[2].field("n"), "3");
    // Claiming resets the idle time.
    EXPECT_TRUE((co_await coord_->claim_stale(s, "g", "c4", 100ms, 10)).empty());
    for (const auto& e : claimed) {
      co_await coord_->ack(s, "g", e.id);
    }
    EXPECT_EQ(co_await coord_->pending_count(s, "g"), 0);
  }());
}

TEST_P(CoordinatorConformance, BlockingReadIsWokenByXadd) {
  const auto s = k("blocking");
  run(coord_->create_group(s, "g"));
  const auto start = std::chrono::steady_clock::now();
  auto reader = boost::asio::co_spawn(loop_.ioc(), coord_->read_group(s, "g", "c", 10, 10'000ms),
                                      boost::asio::use_future);
  run(coord_->xadd(s, fields("n", "1")));
  auto entries = reader.get();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].field("n"), "1");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "woken by xadd, not by the timeout";

  // With nothing to read, a blocking read ends at its deadline with nothing.
  EXPECT_TRUE(run(coord_->read_group(s, "g", "c", 10, 50ms)).empty());
}

// The "join queue" operation: first join gets the next sequence number, rejoining keeps the place.
Script join_queue_script() {
  Script s;
  s.name = "test.join_queue";
  s.lua = R"lua(
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], 'NX', seq, ARGV[1])
end
return redis.call('ZRANK', KEYS[1], ARGV[1])
)lua";
  s.native = [](MemoryState& m, const std::vector<std::string>& keys, const std::vector<std::string>& args) {
    if (!m.zscore(keys[0], args[0])) {
      auto seq = m.incr(keys[1]);
      m.zadd(keys[0], args[0], static_cast<double>(seq), true);
    }
    return Reply{*m.zrank(keys[0], args[0])};
  };
  return s;
}

TEST_P(CoordinatorConformance, EvalScriptSameAnswerOnBothAdapters) {
  const Script script = join_queue_script();
  run([&]() -> Task<void> {
    auto join = [&](std::string user) -> Task<std::int64_t> {
      co_return (co_await coord_->eval(script, strs(k("q"), k("q:seq")), strs(std::move(user)))).integer();
    };
    EXPECT_EQ(co_await join("u1"), 0);
    EXPECT_EQ(co_await join("u2"), 1);
    EXPECT_EQ(co_await join("u1"), 0) << "rejoining keeps the place";
    EXPECT_EQ(co_await join("u3"), 2);
    EXPECT_EQ(co_await coord_->zscore(k("q"), "u3"), 3.0);
  }());
}

TEST_P(CoordinatorConformance, ScriptRepliesKeepTheirShape) {
  Script s;
  s.name = "test.shape";
  s.lua = "return {1, 'two', {3}}";
  s.native = [](MemoryState&, const std::vector<std::string>&, const std::vector<std::string>&) {
    return Reply{ReplyArray{Reply{std::int64_t{1}}, Reply{std::string("two")},
                            Reply{ReplyArray{Reply{std::int64_t{3}}}}}};
  };
  auto r = run(coord_->eval(s, {}, {}));
  ASSERT_EQ(r.array().size(), 3u);
  EXPECT_EQ(r.array()[0].integer(), 1);
  EXPECT_EQ(r.array()[1].string(), "two");
  EXPECT_EQ(r.array()[2].array()[0].integer(), 3);
}

TEST_P(CoordinatorConformance, ConcurrentIncrAndEvalAreExact) {
  constexpr int kN = 500;
  const Script script = join_queue_script();
  std::vector<std::future<std::int64_t>> incrs;
  std::vector<std::future<Reply>> joins;
  for (int i = 0; i < kN; ++i) {
    incrs.push_back(boost::asio::co_spawn(loop_.ioc(), coord_->incr(k("counter")), boost::asio::use_future));
    joins.push_back(boost::asio::co_spawn(
        loop_.ioc(), coord_->eval(script, {k("cq"), k("cq:seq")}, {"user" + std::to_string(i)}),
        boost::asio::use_future));
  }
  std::set<std::int64_t> counts;
  std::set<std::int64_t> ranks;
  for (auto& f : incrs) {
    counts.insert(f.get());
  }
  for (auto& f : joins) {
    ranks.insert(f.get().integer());
  }
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(kN)) << "every incr saw a distinct value";
  EXPECT_EQ(*counts.rbegin(), kN);
  EXPECT_EQ(run(coord_->get(k("counter"))), std::to_string(kN));
  EXPECT_EQ(run(coord_->zcard(k("cq"))), kN);
  EXPECT_EQ(run(coord_->get(k("cq:seq"))), std::to_string(kN));
  // Each join is atomic and takes the next sequence number, so it sees exactly the earlier joiners.
  EXPECT_EQ(ranks.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(*ranks.rbegin(), kN - 1);
}

TEST_P(CoordinatorConformance, Ping) { EXPECT_TRUE(run(coord_->ping())); }

INSTANTIATE_TEST_SUITE_P(Adapters, CoordinatorConformance, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

TEST(CoordinatorOpen, RejectsBadUrls) {
  Loop loop;
  EXPECT_THROW(loop.run(open(loop.ex(), "mysql://x")), std::invalid_argument);
  EXPECT_THROW(loop.run(open(loop.ex(), "redis://host:notaport")), std::invalid_argument);
  EXPECT_EQ(loop.run(open(loop.ex(), ""))->kind(), "memory");
}

TEST(CoordinatorOpen, UnreachableRedisFails) {
  Loop loop;
  // Port 1 on loopback: nothing listens there.
  EXPECT_THROW(loop.run(open(loop.ex(), "redis://127.0.0.1:1")), std::runtime_error);
}

}  // namespace
}  // namespace tiketi::coord

namespace tiketi::coord {
namespace {

// The server drops every client connection; the adapter reconnects and later commands succeed.
TEST(RedisAdapter, ReconnectsAfterConnectionLoss) {
  TIKETI_REDIS_URL_OR_SKIP(url);
  if (std::system("command -v redis-cli >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "redis-cli not installed";
  }
  Loop loop;
  const std::string key = testing::random_namespace() + "reconnect";
  // Named connections, so that only this test's connections are dropped (other runs may share
  // the server).
  std::string name = key;
  std::replace(name.begin(), name.end(), ':', '-');
  RedisOptions opts;
  opts.url = url;
  opts.client_name = name;
  auto coord = loop.run(open_redis(loop.ex(), opts));
  EXPECT_EQ(loop.run(coord->incr(key)), 1);
  const std::string cli = "redis-cli -u " + std::string(url);
  const std::string kill =
      cli + " CLIENT LIST | grep 'name=" + name + " ' | sed 's/^id=\\([0-9]*\\) .*/\\1/' | xargs -r -n1 " +
      cli + " CLIENT KILL ID | grep -c '^1$'";  // the filter form replies with the number killed
  FILE* out = popen(kill.c_str(), "r");
  ASSERT_NE(out, nullptr);
  int killed = 0;
  EXPECT_EQ(std::fscanf(out, "%d", &killed), 1);
  pclose(out);
  ASSERT_GE(killed, 2) << "the command and subscriber connections were dropped";
  // A command racing the drop may fail with an exception; within a few tries the reconnect wins.
  std::optional<std::int64_t> value;
  for (int attempt = 0; attempt < 5 && !value; ++attempt) {
    try {
      value = loop.run(coord->incr(key));
    } catch (const std::runtime_error&) {
    }
  }
  ASSERT_TRUE(value.has_value()) << "no reconnect";
  EXPECT_EQ(*value, 2);
  EXPECT_TRUE(loop.run(coord->ping()));
  // Pub/sub survives too: the subscriber connection resubscribes after its reconnect.
  auto got = std::make_shared<std::promise<std::string>>();
  auto fired = std::make_shared<std::atomic<bool>>(false);
  auto sub = loop.run(coord->subscribe(key + ":chan", [got, fired](const std::string& m) {
    if (!fired->exchange(true)) {
      got->set_value(m);
    }
  }));
  EXPECT_EQ(loop.run(coord->publish(key + ":chan", "after")), 1);
  auto fut = got->get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), "after");
  coord->close();
}

}  // namespace
}  // namespace tiketi::coord
