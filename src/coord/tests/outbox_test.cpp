// The transactional outbox end to end on real store adapters: SQLite always, PostgreSQL when
// TIKETI_TEST_POSTGRES_URL is set; the stream is the in-process one (ManualClock) or Redis when
// TIKETI_TEST_REDIS_URL is set.
#include <filesystem>
#include <future>
#include <set>

#include "coord/outbox.hpp"
#include "coord/tests/coord_fixture.hpp"

namespace tiketi::coord {
namespace {

using namespace std::chrono_literals;
using testing::Loop;

struct Shape {
  std::string db;     // "sqlite" | "postgres"
  std::string coord;  // "memory" | "redis"
};

std::vector<store::Migration> migrations() {
  store::Migration items;
  items.version = 2;
  items.name = "items";
  items.sql =
      "CREATE TABLE items (id TEXT PRIMARY KEY); CREATE TABLE handled (event_id TEXT NOT NULL, note TEXT)";
  return {outbox_migration(1), items};
}

// Not "i" + std::to_string(i): g++ 12 -O3 reports a false -Wrestrict on that concatenation.
std::string fmt_item(int i) {
  std::string s = std::to_string(i);
  s.insert(s.begin(), 'i');
  return s;
}

template <class... V>
store::Params params(V&&... v) {
  store::Params out;
  (out.push_back(store::p(std::forward<V>(v))), ...);
  return out;
}

class OutboxTest : public ::testing::TestWithParam<Shape> {
 protected:
  void SetUp() override {
    ns_ = testing::random_namespace();
    ns_.pop_back();  // no ':' in a schema name
    const Shape shape = GetParam();
    store::OpenOptions o;
    o.schema = "ob_" + ns_;
    if (shape.db == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("tiketi-outbox-" + ns_);
      std::filesystem::create_directories(dir_);
      o.url = "sqlite:" + dir_.string();
    } else {
      const char* url = std::getenv("TIKETI_TEST_POSTGRES_URL");
      if (url == nullptr || *url == '\0') {
        if (testing::require_servers()) {
          FAIL() << "TIKETI_TEST_POSTGRES_URL is not set but TIKETI_REQUIRE_SERVERS=1";
        }
        GTEST_SKIP() << "TIKETI_TEST_POSTGRES_URL not set; skipping PostgreSQL";
      }
      o.url = url;
      o.pool_size = 4;
    }
    if (shape.coord == "memory") {
      coord_ = make_memory_coordinator(loop_.ex(), MemoryOptions{clock_});
    } else {
      TIKETI_REDIS_URL_OR_SKIP(redis_url);
      coord_ = loop_.run(open_redis(loop_.ex(), RedisOptions{redis_url}));
    }
    db_ = loop_.run(store::open(loop_.ex(), o));
    loop_.run(store::migrate(*db_, migrations()));
    // Topics carry the run's namespace so Redis streams of different runs never mix.
    topic_a_ = ns_ + ".a";
    topic_b_ = ns_ + ".b";
  }

  void TearDown() override {
    if (db_ && GetParam().db == "postgres") {
      loop_.run(db_->exec("DROP SCHEMA IF EXISTS \"ob_" + ns_ + "\" CASCADE"));
    }
    if (db_) {
      db_->close();
    }
    if (coord_) {
      coord_->close();
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  bool memory() const { return GetParam().coord == "memory"; }

  template <class T>
  T run(Task<T> t) {
    return loop_.run(std::move(t));
  }

  Task<void> pass(std::chrono::milliseconds d) {
    if (memory()) {
      clock_->advance(d.count());
      co_return;
    }
    co_await testing::real_wait(d);
  }

  // Commits an item row and its event together; returns the event id.
  std::string add_item(const std::string& item, const std::string& topic) {
    std::string id;
    std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
      co_await tx.exec("INSERT INTO items (id) VALUES ($1)", params(item));
      id = co_await Outbox::add(tx, *clock_, topic, item, "{\"item\":\"" + item + "\"}", "trace-" + item);
    };
    run(db_->transaction(std::move(fn)));
    clock_->advance(1);  // distinct created_at keeps the expected order exact
    return id;
  }

  std::int64_t count(const std::string& sql) { return run(db_->exec(sql)).one().i64(0); }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  Loop loop_;
  CoordinatorPtr coord_;
  store::DatabasePtr db_;
  std::filesystem::path dir_;
  std::string ns_;
  std::string topic_a_;
  std::string topic_b_;
};

TEST_P(OutboxTest, EventCommitsWithStateAndRollsBackWithIt) {
  add_item("kept", topic_a_);
  std::function<Task<void>(store::Tx&)> failing = [&](store::Tx& tx) -> Task<void> {
    co_await tx.exec("INSERT INTO items (id) VALUES ($1)", params("lost"));
    co_await Outbox::add(tx, *clock_, topic_a_, "lost", "{}");
    throw std::runtime_error("business rule failed");
  };
  EXPECT_THROW(run(db_->transaction(std::move(failing))), std::runtime_error);
  EXPECT_EQ(count("SELECT COUNT(*) FROM items"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 1);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  EXPECT_EQ(run(relay.publish_pending()), 1);
}

TEST_P(OutboxTest, RelayPublishesEachEventOnceInOrder) {
  run(coord_->create_group(stream_for_topic(topic_a_), "check"));
  const auto e1 = add_item("i1", topic_a_);
  const auto e2 = add_item("i2", topic_b_);
  const auto e3 = add_item("i3", topic_a_);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  EXPECT_EQ(run(relay.publish_pending()), 3);
  EXPECT_EQ(run(relay.publish_pending()), 0) << "published rows are not sent again";
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 0);

  auto entries = run(coord_->read_group(stream_for_topic(topic_a_), "check", "t", 10, 0ms));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].field("id"), e1);
  EXPECT_EQ(entries[1].field("id"), e3);
  EXPECT_EQ(entries[0].field("topic"), topic_a_);
  EXPECT_EQ(entries[0].field("key"), "i1");
  EXPECT_EQ(entries[0].field("payload"), "{\"item\":\"i1\"}");
  EXPECT_EQ(entries[0].field("trace_id"), "trace-i1");
  EXPECT_EQ(entries[0].field("created_at"), std::to_string(clock_->now_ms() - 3));
  run(coord_->create_group(stream_for_topic(topic_b_), "check"));
  auto b = run(coord_->read_group(stream_for_topic(topic_b_), "check", "t", 10, 0ms));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].field("id"), e2);
}

// A handler that records each event it sees in the consumer's own table.
EventHandler recording_handler(std::shared_ptr<std::atomic<int>> calls,
                               std::shared_ptr<std::atomic<int>> fail_first = nullptr) {
  return [calls, fail_first](store::Tx& tx, const Event& ev) -> Task<void> {
    ++*calls;
    co_await tx.exec("INSERT INTO handled (event_id, note) VALUES ($1, $2)", params(ev.id, ev.key));
    if (fail_first && (*fail_first)-- > 0) {
      throw std::runtime_error("transient failure");
    }
  };
}

TEST_P(OutboxTest, ConsumerDedupesARedeliveredEvent) {
  const auto id = add_item("i1", topic_a_);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  run(relay.publish_pending());

  auto calls = std::make_shared<std::atomic<int>>(0);
  Consumer consumer(db_, coord_, "mailer", "m1", LogContext{"test"});
  consumer.on(topic_a_, recording_handler(calls));
  EXPECT_EQ(run(consumer.poll_once()), 1);
  EXPECT_EQ(calls->load(), 1);

  // The same event arrives again (a relay that crashed before marking it published).
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("id", id);
  fields.emplace_back("topic", topic_a_);
  fields.emplace_back("key", "i1");
  fields.emplace_back("payload", "{}");
  fields.emplace_back("created_at", "1");
  fields.emplace_back("trace_id", "");
  run(coord_->xadd(stream_for_topic(topic_a_), std::move(fields)));
  EXPECT_EQ(run(consumer.poll_once()), 1) << "the duplicate is acked";
  EXPECT_EQ(calls->load(), 1) << "but the handler does not run again";
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM processed_events"), 1);
  EXPECT_EQ(run(coord_->pending_count(stream_for_topic(topic_a_), "mailer")), 0);

  // Another group handles the same event independently.
  auto other_calls = std::make_shared<std::atomic<int>>(0);
  Consumer other(db_, coord_, "audit", "a1", LogContext{"test"});
  other.on(topic_a_, recording_handler(other_calls));
  run(other.poll_once());
  EXPECT_EQ(other_calls->load(), 1);
}

TEST_P(OutboxTest, FailedHandlerRollsBackAndIsRetried) {
  add_item("i1", topic_a_);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  run(relay.publish_pending());
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto fail_first = std::make_shared<std::atomic<int>>(1);
  Consumer consumer(db_, coord_, "mailer", "m1", LogContext{"test"});
  consumer.set_options(ConsumerOptions{100ms, 100ms, 64});
  consumer.on(topic_a_, recording_handler(calls, fail_first));
  EXPECT_EQ(run(consumer.poll_once()), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 0) << "the handler's writes rolled back";
  EXPECT_EQ(count("SELECT COUNT(*) FROM processed_events"), 0);
  EXPECT_EQ(run(coord_->pending_count(stream_for_topic(topic_a_), "mailer")), 1) << "left unacked";
  run(pass(200ms));
  EXPECT_EQ(run(consumer.poll_once()), 1);
  EXPECT_EQ(calls->load(), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 1);
  EXPECT_EQ(run(coord_->pending_count(stream_for_topic(topic_a_), "mailer")), 0);
}

TEST_P(OutboxTest, CrashedConsumersEntryIsClaimedByAnother) {
  const auto stream = stream_for_topic(topic_a_);
  run(coord_->create_group(stream, "mailer"));
  const auto id = add_item("i1", topic_a_);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  run(relay.publish_pending());
  // "dead" takes the entry and never acks it.
  ASSERT_EQ(run(coord_->read_group(stream, "mailer", "dead", 10, 0ms)).size(), 1u);

  auto calls = std::make_shared<std::atomic<int>>(0);
  Consumer survivor(db_, coord_, "mailer", "alive", LogContext{"test"});
  survivor.set_options(ConsumerOptions{100ms, 100ms, 64});
  survivor.on(topic_a_, recording_handler(calls));
  EXPECT_EQ(run(survivor.poll_once()), 0) << "not idle long enough yet";
  run(pass(200ms));
  EXPECT_EQ(run(survivor.poll_once()), 1);
  EXPECT_EQ(calls->load(), 1);
  EXPECT_EQ(run(db_->exec("SELECT event_id FROM handled")).one().str(0), id);
  EXPECT_EQ(run(coord_->pending_count(stream, "mailer")), 0);
}

TEST_P(OutboxTest, TwoRelaysPublishEachRowOnce) {
  const auto stream = stream_for_topic(topic_a_);
  run(coord_->create_group(stream, "watch"));
  OutboxRelay r1(db_, coord_, clock_, LogContext{"test"});
  OutboxRelay r2(db_, coord_, clock_, LogContext{"test"});
  // A long poll interval: progress comes from notify(), which is what a writer calls after commit.
  auto run1 = boost::asio::co_spawn(loop_.ioc(), r1.run(60'000), boost::asio::use_future);
  auto run2 = boost::asio::co_spawn(loop_.ioc(), r2.run(60'000), boost::asio::use_future);
  constexpr int kEvents = 20;
  std::set<std::string> expected;
  for (int i = 0; i < kEvents; ++i) {
    expected.insert(add_item(fmt_item(i), topic_a_));
    r1.notify();
    r2.notify();
  }
  std::set<std::string> seen;
  int entries = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen.size() < expected.size() && std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : run(coord_->read_group(stream, "watch", "t", 100, 2'000ms))) {
      seen.insert(*e.field("id"));
      ++entries;
    }
  }
  r1.stop();
  r2.stop();
  run1.get();
  run2.get();
  EXPECT_EQ(seen, expected);
  // Anything published twice would be in the stream by now that both relays have stopped.
  entries += static_cast<int>(run(coord_->read_group(stream, "watch", "t", 100, 0ms)).size());
  EXPECT_EQ(entries, kEvents);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 0);
}

TEST_P(OutboxTest, ConsumerRunHandlesUntilStopped) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto got = std::make_shared<std::promise<void>>();
  Consumer consumer(db_, coord_, "mailer", "m1", LogContext{"test"});
  consumer.set_options(ConsumerOptions{50ms, 30'000ms, 64});
  consumer.on(topic_a_, [calls, got](store::Tx&, const Event&) -> Task<void> {
    if (++*calls == 1) {
      got->set_value();
    }
    co_return;
  });
  consumer.on(topic_b_, recording_handler(std::make_shared<std::atomic<int>>(0)));
  auto running = boost::asio::co_spawn(loop_.ioc(), consumer.run(), boost::asio::use_future);
  add_item("i1", topic_a_);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  run(relay.publish_pending());
  ASSERT_EQ(got->get_future().wait_for(10s), std::future_status::ready);
  consumer.stop();
  EXPECT_EQ(running.wait_for(10s), std::future_status::ready) << "run() returns after stop()";
  running.get();
  EXPECT_EQ(calls->load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OutboxTest,
                         ::testing::Values(Shape{"sqlite", "memory"}, Shape{"sqlite", "redis"},
                                           Shape{"postgres", "memory"}, Shape{"postgres", "redis"}),
                         [](const auto& info) { return info.param.db + "_" + info.param.coord; });

}  // namespace
}  // namespace tiketi::coord
