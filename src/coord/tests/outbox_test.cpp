// The transactional outbox end to end on real store adapters: SQLite always, PostgreSQL when
// TIKETI_TEST_POSTGRES_URL is set; the stream is the in-process one (ManualClock) or Redis when
// TIKETI_TEST_REDIS_URL is set.
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "coord/outbox.hpp"
#include "coord/tests/coord_fixture.hpp"
#include "core/testing/servers.hpp"

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
      TIKETI_POSTGRES_URL_OR_SKIP(url);
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

// Delegates to a real Database and counts the transactions begun through it, so a test can tell
// one transaction per batch from one per entry.
class CountingDatabase : public store::Database {
 public:
  explicit CountingDatabase(store::DatabasePtr inner) : inner_(std::move(inner)) {}
  store::Engine engine() const override { return inner_->engine(); }
  const std::string& schema() const override { return inner_->schema(); }
  Task<store::Result> exec(std::string_view sql, store::Params params) override {
    auto r = co_await inner_->exec(sql, std::move(params));
    co_return r;
  }
  Task<void> transaction(std::function<Task<void>(store::Tx&)> fn, int max_attempts) override {
    ++transactions;
    co_await inner_->transaction(std::move(fn), max_attempts);
  }
  Task<std::vector<store::Result>> pipeline(std::vector<std::pair<std::string, store::Params>> stmts) override {
    auto r = co_await inner_->pipeline(std::move(stmts));
    co_return r;
  }
  Task<bool> ping() override {
    auto r = co_await inner_->ping();
    co_return r;
  }
  std::size_t pool_size() const override { return inner_->pool_size(); }
  std::size_t pool_in_use() const override { return inner_->pool_in_use(); }
  void close() override {}
  std::atomic<int> transactions{0};

 private:
  store::DatabasePtr inner_;
};

// The fields the relay writes for an event, for tests that put entries on a stream directly.
std::vector<std::pair<std::string, std::string>> raw_entry(const std::string& id, const std::string& topic,
                                                            const std::string& key) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("id", id);
  fields.emplace_back("topic", topic);
  fields.emplace_back("key", key);
  fields.emplace_back("payload", "{}");
  fields.emplace_back("created_at", "1");
  fields.emplace_back("trace_id", "");
  return fields;
}

TEST_P(OutboxTest, ConsumerCommitsABatchInOneTransactionInStreamOrder) {
  constexpr int kEvents = 12;
  std::vector<std::string> keys;
  for (int i = 0; i < kEvents; ++i) {
    keys.push_back(fmt_item(i));
    add_item(keys.back(), topic_a_);
  }
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  ASSERT_EQ(run(relay.publish_pending()), kEvents);

  auto counting = std::make_shared<CountingDatabase>(db_);
  auto order = std::make_shared<std::vector<std::string>>();
  Consumer consumer(counting, coord_, "mailer", "m1", LogContext{"test"});
  consumer.on(topic_a_, [order](store::Tx& tx, const Event& ev) -> Task<void> {
    order->push_back(ev.key);
    co_await tx.exec("INSERT INTO handled (event_id, note) VALUES ($1, $2)", params(ev.id, ev.key));
  });
  EXPECT_EQ(run(consumer.poll_once()), kEvents);
  EXPECT_EQ(counting->transactions.load(), 1) << "the whole read committed as one transaction";
  EXPECT_EQ(*order, keys) << "handlers ran in stream order";
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), kEvents);
  EXPECT_EQ(count("SELECT COUNT(*) FROM processed_events WHERE consumer_group = 'mailer'"), kEvents);
  EXPECT_EQ(run(coord_->pending_count(stream_for_topic(topic_a_), "mailer")), 0) << "all acked";

  // max_per_transaction splits a read into several transactions, still in order.
  for (int i = 0; i < kEvents; ++i) {
    add_item(fmt_item(100 + i), topic_a_);
  }
  ASSERT_EQ(run(relay.publish_pending()), kEvents);
  consumer.set_options(ConsumerOptions{1'000ms, 30'000ms, 64, 5});
  order->clear();
  EXPECT_EQ(run(consumer.poll_once()), kEvents);
  EXPECT_EQ(counting->transactions.load(), 1 + 3) << "12 entries in transactions of 5, 5 and 2";
  ASSERT_EQ(order->size(), static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_EQ((*order)[static_cast<std::size_t>(i)], fmt_item(100 + i));
  }
  EXPECT_EQ(run(coord_->pending_count(stream_for_topic(topic_a_), "mailer")), 0);
}

TEST_P(OutboxTest, DuplicatesInsideABatchAndAcrossBatchesRunOnce) {
  const auto stream = stream_for_topic(topic_a_);
  const auto first = add_item("i1", topic_a_);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  run(relay.publish_pending());
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto counting = std::make_shared<CountingDatabase>(db_);
  Consumer consumer(counting, coord_, "mailer", "m1", LogContext{"test"});
  consumer.on(topic_a_, recording_handler(calls));
  ASSERT_EQ(run(consumer.poll_once()), 1);

  // One read now holds: a redelivery of an event handled earlier, a new event twice, another new one.
  const auto second = add_item("i2", topic_a_);
  const auto third = add_item("i3", topic_a_);
  run(coord_->xadd(stream, raw_entry(first, topic_a_, "i1")));
  run(coord_->xadd(stream, raw_entry(second, topic_a_, "i2")));
  run(coord_->xadd(stream, raw_entry(second, topic_a_, "i2")));
  run(coord_->xadd(stream, raw_entry(third, topic_a_, "i3")));
  const int before = counting->transactions.load();
  EXPECT_EQ(run(consumer.poll_once()), 4) << "every entry is acked as handled";
  EXPECT_EQ(counting->transactions.load(), before + 1);
  EXPECT_EQ(calls->load(), 3) << "i1 once earlier, i2 and i3 once each now";
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 3);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT event_id) FROM handled"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM processed_events"), 3);
  EXPECT_EQ(run(coord_->pending_count(stream, "mailer")), 0);
}

TEST_P(OutboxTest, ThrowingHandlerInABatchLeavesOnlyThatEventForRetry) {
  const auto stream = stream_for_topic(topic_a_);
  for (int i = 0; i < 5; ++i) {
    add_item(fmt_item(i), topic_a_);
  }
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  ASSERT_EQ(run(relay.publish_pending()), 5);
  auto poisoned = std::make_shared<std::atomic<bool>>(true);
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto counting = std::make_shared<CountingDatabase>(db_);
  Consumer consumer(counting, coord_, "mailer", "m1", LogContext{"test"});
  consumer.set_options(ConsumerOptions{100ms, 100ms, 64});
  consumer.on(topic_a_, [poisoned, calls](store::Tx& tx, const Event& ev) -> Task<void> {
    ++*calls;
    co_await tx.exec("INSERT INTO handled (event_id, note) VALUES ($1, $2)", params(ev.id, ev.key));
    if (ev.key == "i2" && poisoned->load()) {
      throw std::runtime_error("poison");
    }
  });
  EXPECT_EQ(run(consumer.poll_once()), 4) << "the four good events commit";
  // The batch ran i0..i2 and rolled back; then one transaction per entry (i2 fails again).
  EXPECT_EQ(counting->transactions.load(), 1 + 5);
  EXPECT_EQ(calls->load(), 3 + 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 4) << "nothing of the rolled-back batch remains";
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled WHERE note = 'i2'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM processed_events"), 4);
  EXPECT_EQ(run(coord_->pending_count(stream, "mailer")), 1) << "only the poison event is left unacked";

  // Fixed: the retry (a claim once idle) handles it, and nothing else runs again.
  poisoned->store(false);
  run(pass(200ms));
  const int calls_before = calls->load();
  EXPECT_EQ(run(consumer.poll_once()), 1);
  EXPECT_EQ(calls->load(), calls_before + 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 5);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT event_id) FROM handled"), 5);
  EXPECT_EQ(run(coord_->pending_count(stream, "mailer")), 0);
}

// A batch handler gets the new events of one read at once (in stream order, repeats and earlier
// deliveries removed); a single event and the one-by-one fallback after a throw use the per-event
// handler; add_many writes several outbox rows with one statement, published in order.
TEST_P(OutboxTest, BatchHandlerGetsNewEventsInOrderAndFallsBackOneByOne) {
  const auto stream = stream_for_topic(topic_a_);
  std::vector<std::string> ids;
  std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
    std::vector<NewEvent> evs;
    for (int i = 0; i < 6; ++i) {
      evs.push_back(NewEvent{topic_a_, fmt_item(i), "{\"n\":" + std::to_string(i) + "}", "t"});
    }
    ids = co_await Outbox::add_many(tx, *clock_, std::move(evs));
  };
  run(db_->transaction(std::move(fn)));
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND trace_id = 't'"), 6);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  ASSERT_EQ(run(relay.publish_pending()), 6);
  // A repeat of i4 inside the read.
  run(coord_->xadd(stream, raw_entry(ids[4], topic_a_, "i4")));

  auto batches = std::make_shared<std::vector<std::vector<std::string>>>();
  auto singles = std::make_shared<std::vector<std::string>>();
  auto poisoned = std::make_shared<std::atomic<bool>>(false);
  auto counting = std::make_shared<CountingDatabase>(db_);
  Consumer consumer(counting, coord_, "mailer", "m1", LogContext{"test"});
  consumer.set_options(ConsumerOptions{100ms, 100ms, 64});
  consumer.on(
      topic_a_,
      [singles, poisoned](store::Tx& tx, const Event& ev) -> Task<void> {
        singles->push_back(ev.key);
        co_await tx.exec("INSERT INTO handled (event_id, note) VALUES ($1, $2)", params(ev.id, ev.key));
        if (poisoned->load() && ev.key == "i7") {
          throw std::runtime_error("poison");
        }
      },
      [batches, poisoned](store::Tx& tx, const std::vector<Event>& evs) -> Task<void> {
        std::vector<std::string> keys;
        for (const auto& ev : evs) {
          keys.push_back(ev.key);
          co_await tx.exec("INSERT INTO handled (event_id, note) VALUES ($1, $2)", params(ev.id, ev.key));
        }
        batches->push_back(keys);
        if (poisoned->load()) {
          throw std::runtime_error("poison");
        }
      });
  EXPECT_EQ(run(consumer.poll_once()), 7);
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ(batches->front(), (std::vector<std::string>{"i0", "i1", "i2", "i3", "i4", "i5"}));
  EXPECT_TRUE(singles->empty());
  EXPECT_EQ(counting->transactions.load(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), 6);

  // One new event: the per-event handler.
  add_item("i6", topic_a_);
  ASSERT_EQ(run(relay.publish_pending()), 1);
  EXPECT_EQ(run(consumer.poll_once()), 1);
  EXPECT_EQ(*singles, (std::vector<std::string>{"i6"}));

  // A batch that throws is rolled back and redone one event per transaction by the per-event handler.
  poisoned->store(true);
  add_item("i7", topic_a_);
  add_item("i8", topic_a_);
  ASSERT_EQ(run(relay.publish_pending()), 2);
  EXPECT_EQ(run(consumer.poll_once()), 1) << "i8 commits alone; i7 stays for a retry";
  EXPECT_EQ(batches->size(), 2u);
  EXPECT_EQ(*singles, (std::vector<std::string>{"i6", "i7", "i8"}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled WHERE note IN ('i7', 'i8')"), 1);
  EXPECT_EQ(run(coord_->pending_count(stream, "mailer")), 1);
}

TEST_P(OutboxTest, ConcurrentConsumersWithRedeliveriesHandleEachEventOnce) {
  // Two consumers of one group run at once while events (and duplicates of them) keep arriving;
  // a third consumer of the group handles the redeliveries. Each event must be handled once.
  const auto stream = stream_for_topic(topic_a_);
  auto calls = std::make_shared<std::atomic<int>>(0);
  Consumer c1(db_, coord_, "mailer", "c1", LogContext{"test"});
  Consumer c2(db_, coord_, "mailer", "c2", LogContext{"test"});
  for (Consumer* c : {&c1, &c2}) {
    c->set_options(ConsumerOptions{50ms, 30'000ms, 16, 8});
    c->on(topic_a_, recording_handler(calls));
  }
  auto run1 = boost::asio::co_spawn(loop_.ioc(), c1.run(), boost::asio::use_future);
  auto run2 = boost::asio::co_spawn(loop_.ioc(), c2.run(), boost::asio::use_future);
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  constexpr int kEvents = 120;
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i) {
    ids.push_back(add_item(fmt_item(i), topic_a_));
    if (i % 10 == 9) {
      run(relay.publish_pending());
      // Redeliver a few of the events published so far (a relay that crashed before marking).
      for (int j = i - 9; j <= i; j += 3) {
        run(coord_->xadd(stream, raw_entry(ids[static_cast<std::size_t>(j)], topic_a_, fmt_item(j))));
      }
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (count("SELECT COUNT(*) FROM processed_events") < kEvents && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  // Wait for the acks of the last batches too.
  while (run(coord_->pending_count(stream, "mailer")) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  c1.stop();
  c2.stop();
  run1.get();
  run2.get();
  EXPECT_EQ(count("SELECT COUNT(*) FROM handled"), kEvents);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT event_id) FROM handled"), kEvents);
  EXPECT_EQ(calls->load(), kEvents) << "no handler ran for a duplicate";
  EXPECT_EQ(run(coord_->pending_count(stream, "mailer")), 0);
}

TEST_P(OutboxTest, RelayMarksAWholeBatchWhateverTheIdText) {
  // Rows whose ids need quoting in a PostgreSQL array literal and in JSON, plus more rows than one
  // pass takes: every row is published exactly once and marked.
  const auto stream = stream_for_topic(topic_a_);
  run(coord_->create_group(stream, "check"));
  std::vector<std::string> odd = {"a,b", "q\"uote", "back\\slash", "{brace}", "sp ace", "nul\x01l", "NULL"};
  std::set<std::string> expected;
  for (std::size_t i = 0; i < odd.size(); ++i) {
    auto sql = std::string("INSERT INTO outbox (id, topic, key, payload, trace_id, created_at) "
                           "VALUES ($1, $2, $3, '{}', '', $4)");
    run(db_->exec(sql, params(odd[i], topic_a_, "k", static_cast<std::int64_t>(i) - 1000)));
    expected.insert(odd[i]);
  }
  for (int i = 0; i < 300; ++i) {
    expected.insert(add_item(fmt_item(i), topic_a_));
  }
  OutboxRelay relay(db_, coord_, clock_, LogContext{"test"});
  EXPECT_EQ(run(relay.publish_pending()), 256);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 307 - 256);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND key = 'k'"), 0)
      << "the odd ids came first (oldest) and are all marked";
  EXPECT_EQ(run(relay.publish_pending()), 307 - 256);
  EXPECT_EQ(run(relay.publish_pending()), 0);
  std::multiset<std::string> seen;
  for (;;) {
    auto got = run(coord_->read_group(stream, "check", "t", 100, 0ms));
    if (got.empty()) {
      break;
    }
    for (const auto& e : got) {
      seen.insert(*e.field("id"));
    }
  }
  EXPECT_EQ(seen.size(), expected.size()) << "each row once";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OutboxTest,
                         ::testing::Values(Shape{"sqlite", "memory"}, Shape{"sqlite", "redis"},
                                           Shape{"postgres", "memory"}, Shape{"postgres", "redis"}),
                         [](const auto& info) { return info.param.db + "_" + info.param.coord; });

}  // namespace
}  // namespace tiketi::coord
