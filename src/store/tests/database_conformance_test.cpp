// One conformance suite for the storage port, run against SQLite (temp dir) and PostgreSQL
// (TIKETI_TEST_POSTGRES_URL, a fresh schema per test so runs never clash).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <limits>
#include <random>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "core/testing/servers.hpp"
#include "store/database.hpp"
#include "store/lists.hpp"
#include "store/tests/test_util.hpp"

namespace tiketi::store {
namespace {

namespace asio = boost::asio;

using test_util::random_suffix;
using test_util::run;

// An async one-shot gate: waiters park until open() (no sleeping).
class Gate {
 public:
  explicit Gate(Executor ex) : timer_(ex, asio::steady_timer::time_point::max()) {}
  Task<void> wait() {
    if (open_) {
      co_return;
    }
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  void open() {
    open_ = true;
    timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  std::atomic<bool> open_{false};
};

// Starts every task at once on ex and waits for all of them; rethrows the first failure.
// (co_spawn with use_awaitable would only start each task when it is awaited: no concurrency.)
Task<void> run_all(Executor ex, std::vector<Task<void>> tasks) {
  auto strand = asio::make_strand(co_await asio::this_coro::executor);
  Gate done(strand);
  std::size_t remaining = tasks.size();
  std::exception_ptr first;
  for (auto& t : tasks) {
    asio::co_spawn(ex, std::move(t), asio::bind_executor(strand, [&](std::exception_ptr e) {
                     if (e && !first) {
                       first = e;
                     }
                     if (--remaining == 0) {
                       done.open();
                     }
                   }));
  }
  if (!tasks.empty()) {
    co_await asio::co_spawn(strand, done.wait(), asio::use_awaitable);
  }
  if (first) {
    std::rethrow_exception(first);
  }
}

class DatabaseConformance : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    schema_ = "conf_" + random_suffix();
    if (GetParam() == Engine::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / ("tiketi_store_" + random_suffix());
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(url);
      url_ = url;
    }
  }

  void TearDown() override {
    if (GetParam() == Engine::postgres && !url_.empty()) {
      try {
        run([this](Executor ex) -> Task<void> {
          auto db = co_await open(ex, options());
          co_await db->exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
          db->close();
        });
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cleanup failed: " << e.what();
      }
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  OpenOptions options(int pool = 4) const { return OpenOptions{url_, schema_, pool, 5'000}; }

  // Opens, runs body, closes.
  template <class Body>
  void with_db(Body body, int pool = 4) {
    run([&](Executor ex) -> Task<void> {
      auto db = co_await open(ex, options(pool));
      std::exception_ptr failure;
      try {
        co_await body(db);
      } catch (...) {
        failure = std::current_exception();
      }
      db->close();
      if (failure) {
        std::rethrow_exception(failure);
      }
    });
  }

  static Task<void> make_items(Database& db) {
    co_await db.exec(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty BIGINT, price DOUBLE "
        "PRECISION, note TEXT)");
  }

  std::string schema_;
  std::string url_;
  std::filesystem::path dir_;
};

TEST_P(DatabaseConformance, CrudWithPlaceholders) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    Params a{p(1), p("apple"), p(3), p(1.5), p("cost $2 in 'quotes'")};
    auto ins = co_await db->exec("INSERT INTO items (id, name, qty, price, note) VALUES ($1, $2, $3, $4, $5)",
                                 std::move(a));
    EXPECT_EQ(ins.affected, 1);
    Params b{p(2), p("pear"), p(7)};
    co_await db->exec("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)", std::move(b));

    Params q{p(1)};
    auto r = co_await db->exec("SELECT id, name, qty, price, note FROM items WHERE id = $1", std::move(q));
    const Row& row = r.one();
    EXPECT_EQ(row.i64("id"), 1);
    EXPECT_EQ(row.str("name"), "apple");
    EXPECT_EQ(row.i64("qty"), 3);
    EXPECT_DOUBLE_EQ(row.f64("price"), 1.5);
    EXPECT_EQ(row.str("note"), "cost $2 in 'quotes'");

    // A literal '$1' inside quotes is text, not a placeholder, on both engines.
    Params lit{p(5)};
    auto l = co_await db->exec("SELECT '$1 each' AS label, qty FROM items WHERE qty > $1", std::move(lit));
    EXPECT_EQ(l.one().str("label"), "$1 each");
    EXPECT_EQ(l.one().i64("qty"), 7);

    Params u{p(10), p(1)};
    auto upd = co_await db->exec("UPDATE items SET qty = qty + $1 WHERE id = $2", std::move(u));
    EXPECT_EQ(upd.affected, 1);
    auto all = co_await db->exec("SELECT id, qty FROM items ORDER BY id");
    CO_ASSERT_EQ(all.rows.size(), 2U);
    EXPECT_EQ(all.rows[0].i64("qty"), 13);
    EXPECT_EQ(all.rows[1].i64(0), 2);

    auto none = co_await db->exec("UPDATE items SET qty = 0 WHERE id = 999");
    EXPECT_EQ(none.affected, 0);
    auto sel = co_await db->exec("SELECT COUNT(*) AS n FROM items");
    EXPECT_EQ(sel.affected, 0);  // only writes count as affected, on both engines
    EXPECT_EQ(sel.one().i64("n"), 2);

    Params d{p(2)};
    auto del = co_await db->exec("DELETE FROM items WHERE id = $1", std::move(d));
    EXPECT_EQ(del.affected, 1);
    auto sum = co_await db->exec("SELECT SUM(qty) AS total FROM items");
    EXPECT_EQ(sum.one().i64("total"), 13);  // numeric on PostgreSQL, integer on SQLite
  });
}

TEST_P(DatabaseConformance, NullsRoundTrip) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    std::optional<std::int64_t> no_qty;
    Params a{p(1), p("empty"), p(no_qty), p(std::nullopt)};
    co_await db->exec("INSERT INTO items (id, name, qty, note) VALUES ($1, $2, $3, $4)", std::move(a));
    auto r = co_await db->exec("SELECT qty, note, price FROM items WHERE id = 1");
    const Row& row = r.one();
    EXPECT_TRUE(row.is_null("qty"));
    EXPECT_TRUE(row.is_null(1));
    EXPECT_TRUE(row.is_null("price"));
    EXPECT_EQ(row.opt_i64("qty"), std::nullopt);
    EXPECT_EQ(row.opt_str("note"), std::nullopt);
    EXPECT_THROW(row.i64("qty"), std::runtime_error);
    EXPECT_THROW(row.index_of("missing"), std::out_of_range);
    Params b{p(std::nullopt)};
    auto n = co_await db->exec("SELECT COUNT(*) FROM items WHERE note IS NOT DISTINCT FROM $1", std::move(b));
    EXPECT_EQ(n.one().i64(0), 1);  // a NULL parameter binds as SQL NULL
  });
}

// store::text_list / json_rows: a list bound as ONE parameter comes back element for element, with
// quotes, backslashes, braces, commas, control characters, non-ASCII text, "" and NULL intact.
TEST_P(DatabaseConformance, TextListsRoundTripAsOneParameter) {
  with_db([](DatabasePtr db) -> Task<void> {
    const std::vector<std::optional<std::string>> items{
        "plain", "quo\"te", "back\\slash", "{brace},comma", "tab\tnew\nline", "\x01ctl", "좌석 A-1", "", std::nullopt,
        "NULL"};
    const bool pg = db->engine() == Engine::postgres;
    const std::string sql = pg ? "SELECT u.v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY u.n"
                               : "SELECT value AS v FROM json_each($1) ORDER BY key";
    Params ps{p(text_list(db->engine(), items))};
    auto r = co_await db->exec(sql, std::move(ps));
    CO_ASSERT_EQ(r.rows.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(r.rows[i].opt_str("v"), items[i]) << "element " << i;
    }
    // The all-strings overload: the same text as the optional one without NULLs.
    const std::vector<std::string> plain{"a\"b", "c\\d"};
    const std::vector<std::optional<std::string>> same{"a\"b", "c\\d"};
    EXPECT_EQ(text_list(db->engine(), plain), text_list(db->engine(), same));
    if (!pg) {
      // Rows for json_extract(value, '$[i]').
      const std::vector<std::vector<std::optional<std::string>>> rows{{"e1", "s\"1"}, {"e2", std::nullopt}};
      Params rp{p(json_rows(rows))};
      auto t = co_await db->exec(
          "SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS b FROM json_each($1) ORDER BY key",
          std::move(rp));
      CO_ASSERT_EQ(t.rows.size(), 2u);
      EXPECT_EQ(t.rows[0].opt_str("a"), "e1");
      EXPECT_EQ(t.rows[0].opt_str("b"), "s\"1");
      EXPECT_EQ(t.rows[1].opt_str("b"), std::nullopt);
    }
  });
}

TEST_P(DatabaseConformance, Int64ExtremesAndUtf8) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    const auto lo = std::numeric_limits<std::int64_t>::min();
    const auto hi = std::numeric_limits<std::int64_t>::max();
    const std::string korean = "안녕하세요 티켓팅 🎫 — 서울 콘서트";
    Params a{p(lo), p(korean), p(hi)};
    co_await db->exec("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)", std::move(a));
    Params b{p(korean)};
    auto r = co_await db->exec("SELECT id, name, qty FROM items WHERE name = $1", std::move(b));
    EXPECT_EQ(r.one().i64("id"), lo);
    EXPECT_EQ(r.one().i64("qty"), hi);
    EXPECT_EQ(r.one().str("name"), korean);
    auto len = co_await db->exec("SELECT LENGTH(name) AS n FROM items");
    EXPECT_EQ(len.one().i64("n"), 20);  // characters, not bytes, on both engines
  });
}

TEST_P(DatabaseConformance, ReturningAndOnConflict) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    Params a{p(1), p("ticket"), p(5)};
    auto r = co_await db->exec(
        "INSERT INTO items (id, name, qty) VALUES ($1, $2, $3) RETURNING id, qty * 2 AS dbl", std::move(a));
    EXPECT_EQ(r.one().i64("id"), 1);
    EXPECT_EQ(r.one().i64("dbl"), 10);
    EXPECT_EQ(r.affected, 1);

    Params b{p(1), p("ticket"), p(9)};
    auto nothing = co_await db->exec(
        "INSERT INTO items (id, name, qty) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id",
        std::move(b));
    EXPECT_TRUE(nothing.empty());
    EXPECT_EQ(nothing.affected, 0);

    Params c{p(1), p("ticket"), p(9)};
    auto up = co_await db->exec(
        "INSERT INTO items (id, name, qty) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET qty = items.qty + excluded.qty RETURNING qty",
        std::move(c));
    EXPECT_EQ(up.one().i64("qty"), 14);
    EXPECT_EQ(up.affected, 1);
  });
}

TEST_P(DatabaseConformance, ErrorsAreMapped) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    Params a{p(1), p("dup")};
    co_await db->exec("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(a));
    const char* sql = "INSERT INTO items (id, name) VALUES ($1, $2)";
    for (int variant = 0; variant < 2; ++variant) {
      // same primary key, then same unique name
      Params params = variant == 0 ? Params{p(1), p("other")} : Params{p(2), p("dup")};
      std::optional<DbError::Kind> kind;
      try {
        co_await db->exec(sql, std::move(params));
      } catch (const DbError& e) {
        kind = e.kind;
      }
      EXPECT_EQ(kind, DbError::Kind::unique_violation) << "variant " << variant;
    }
    std::optional<DbError::Kind> kind;
    try {
      co_await db->exec("SELEC nonsense FROM");
    } catch (const DbError& e) {
      kind = e.kind;
    }
    EXPECT_EQ(kind, DbError::Kind::syntax);
    // The connection (or pool) is still usable after errors.
    auto r = co_await db->exec("SELECT COUNT(*) FROM items");
    EXPECT_EQ(r.one().i64(0), 1);
  });
}

TEST_P(DatabaseConformance, TransactionCommitAndRollback) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    co_await db->transaction([](Tx& tx) -> Task<void> {
      Params a{p(1), p("a")};
      co_await tx.exec("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(a));
      Params b{p(2), p("b")};
      co_await tx.exec("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(b));
      auto inside = co_await tx.exec("SELECT COUNT(*) FROM items");
      EXPECT_EQ(inside.one().i64(0), 2);  // the transaction sees its own writes
    });
    bool caught = false;
    try {
      co_await db->transaction([](Tx& tx) -> Task<void> {
        Params a{p(3), p("c")};
        co_await tx.exec("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(a));
        co_await tx.exec("DELETE FROM items WHERE id = 1");
        throw std::logic_error("changed my mind");
      });
    } catch (const std::logic_error& e) {
      caught = std::string(e.what()) == "changed my mind";
    }
    EXPECT_TRUE(caught);
    auto r = co_await db->exec("SELECT id FROM items ORDER BY id");
    CO_ASSERT_EQ(r.rows.size(), 2U);
    EXPECT_EQ(r.rows[0].i64(0), 1);
    EXPECT_EQ(r.rows[1].i64(0), 2);
    // A failing statement inside the transaction rolls back what came before it.
    std::optional<DbError::Kind> kind;
    try {
      co_await db->transaction([](Tx& tx) -> Task<void> {
        co_await tx.exec("UPDATE items SET qty = 99");
        Params dup{p(1), p("again")};
        co_await tx.exec("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(dup));
      });
    } catch (const DbError& e) {
      kind = e.kind;
    }
    EXPECT_EQ(kind, DbError::Kind::unique_violation);
    auto q = co_await db->exec("SELECT COUNT(*) FROM items WHERE qty = 99");
    EXPECT_EQ(q.one().i64(0), 0);
    EXPECT_EQ(db->pool_in_use(), 0U);
  });
}

TEST_P(DatabaseConformance, RetryableErrorRerunsTheWholeTransaction) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    int attempts = 0;
    co_await db->transaction([&](Tx& tx) -> Task<void> {
      ++attempts;
      Params a{p(attempts), p("try " + std::to_string(attempts))};
      co_await tx.exec("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(a));
      if (attempts == 1) {
        throw DbError(DbError::Kind::busy, "injected");
      }
    });
    EXPECT_EQ(attempts, 2);
    auto r = co_await db->exec("SELECT id FROM items");
    EXPECT_EQ(r.one().i64(0), 2);  // the first attempt's insert was rolled back

    // Non-retryable errors are not retried; retryable ones stop at max_attempts.
    int calls = 0;
    bool threw = false;
    try {
      co_await db->transaction(
          [&](Tx&) -> Task<void> {
            ++calls;
            throw DbError(DbError::Kind::serialization, "always");
            co_return;
          },
          3);
    } catch (const DbError& e) {
      threw = e.kind == DbError::Kind::serialization;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(calls, 3);
    calls = 0;
    try {
      co_await db->transaction([&](Tx&) -> Task<void> {
        ++calls;
        throw DbError(DbError::Kind::unique_violation, "final");
        co_return;
      });
    } catch (const DbError&) {
    }
    EXPECT_EQ(calls, 1);
  });
}

// Cases that only exist on a server engine; instantiated for PostgreSQL alone (no skipped SQLite rows).
class PostgresConformance : public DatabaseConformance {};

// A real serialization failure: two SERIALIZABLE transactions read, then both write.
// (PostgreSQL only: SQLite serialises writers with BEGIN IMMEDIATE, so it has no such failures.)
TEST_P(PostgresConformance, SerializationConflictIsRetried) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await db->exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)");
    co_await db->exec("INSERT INTO counter VALUES (1, 0)");
    // One strand for both transactions so the gate is never touched from two threads at once.
    auto ex = asio::make_strand(co_await asio::this_coro::executor);
    Gate both_read(ex);
    std::atomic<int> readers{0};
    std::atomic<int> attempts{0};
    auto worker = [&]() -> Task<void> {
      co_await db->transaction([&](Tx& tx) -> Task<void> {
        ++attempts;
        co_await tx.exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
        auto r = co_await tx.exec("SELECT n FROM counter WHERE id = 1");
        const auto n = r.one().i64(0);
        if (++readers == 2) {
          both_read.open();
        }
        co_await both_read.wait();
        Params next{p(n + 1)};
        co_await tx.exec("UPDATE counter SET n = $1 WHERE id = 1", std::move(next));
      });
    };
    std::vector<Task<void>> both;
    both.push_back(worker());
    both.push_back(worker());
    co_await run_all(ex, std::move(both));
    auto r = co_await db->exec("SELECT n FROM counter WHERE id = 1");
    EXPECT_EQ(r.one().i64(0), 2);   // no lost update
    EXPECT_EQ(attempts.load(), 3);  // exactly one of the two was re-run
  });
}

std::vector<Migration> sample_migrations() {
  return {
      {1, "create seats",
       "CREATE TABLE seats (id BIGINT PRIMARY KEY, label TEXT NOT NULL);"
       "CREATE INDEX seats_label ON seats (label);",
       "", ""},
      {2, "engine specific", "SELECT broken syntax here",
       "CREATE TABLE flavour (engine TEXT); INSERT INTO flavour "
       "VALUES ('sqlite')",
       "CREATE TABLE flavour (engine TEXT); INSERT INTO flavour VALUES ('postgres')"},
  };
}

TEST_P(DatabaseConformance, MigrationsAreOrderedAndIdempotent) {
  const Engine engine = GetParam();
  with_db([engine](DatabasePtr db) -> Task<void> {
    auto migrations = sample_migrations();
    std::reverse(migrations.begin(), migrations.end());  // order comes from the version numbers
    EXPECT_EQ(co_await migrate(*db, migrations), 2);
    EXPECT_EQ(co_await migrate(*db, migrations), 0);
    auto f = co_await db->exec("SELECT engine FROM flavour");
    EXPECT_EQ(f.one().str(0), engine == Engine::sqlite ? "sqlite" : "postgres");
    migrations.push_back(
        {3, "add column", "ALTER TABLE seats ADD COLUMN price BIGINT NOT NULL DEFAULT 0", "", ""});
    EXPECT_EQ(co_await migrate(*db, migrations), 1);
    auto rows = co_await db->exec("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
    CO_ASSERT_EQ(rows.rows.size(), 3U);
    EXPECT_EQ(rows.rows[2].str("name"), "add column");
    EXPECT_GT(rows.rows[0].i64("applied_at"), 0);
    Params s{p(1), p("A-1"), p(15000)};
    co_await db->exec("INSERT INTO seats (id, label, price) VALUES ($1, $2, $3)", std::move(s));

    // A failing migration leaves nothing behind and is not recorded.
    migrations.push_back({4, "bad", "CREATE TABLE half (x INTEGER); SELEC oops", "", ""});
    bool failed = false;
    try {
      co_await migrate(*db, migrations);
    } catch (const DbError&) {
      failed = true;
    }
    EXPECT_TRUE(failed);
    auto v = co_await db->exec("SELECT MAX(version) FROM schema_migrations");
    EXPECT_EQ(v.one().i64(0), 3);
    bool half_exists = true;
    try {
      co_await db->exec("SELECT COUNT(*) FROM half");
    } catch (const DbError&) {
      half_exists = false;
    }
    EXPECT_FALSE(half_exists);
  });
}

TEST_P(DatabaseConformance, ConcurrentMigrationsApplyEachVersionOnce) {
  run([this](Executor ex) -> Task<void> {
    // Two independent Databases (as two processes would have) migrating the same schema at once.
    auto a = co_await open(ex, options(2));
    auto b = co_await open(ex, options(2));
    const auto migrations = sample_migrations();
    int na = 0;
    int nb = 0;
    auto run_migrate = [&](Database& db, int& out) -> Task<void> { out = co_await migrate(db, migrations); };
    std::vector<Task<void>> both;
    both.push_back(run_migrate(*a, na));
    both.push_back(run_migrate(*b, nb));
    co_await run_all(ex, std::move(both));
    EXPECT_EQ(na + nb, 2);
    auto r = co_await a->exec("SELECT COUNT(*) FROM schema_migrations");
    EXPECT_EQ(r.one().i64(0), 2);
    auto f = co_await b->exec("SELECT COUNT(*) FROM flavour");
    EXPECT_EQ(f.one().i64(0), 1);  // the data step ran once
    a->close();
    b->close();
  });
}

TEST_P(DatabaseConformance, PipelineReturnsResultsInOrder) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await make_items(*db);
    std::vector<std::pair<std::string, Params>> stmts;
    stmts.emplace_back("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3) RETURNING id",
                       Params{p(1), p("one"), p(1)});
    stmts.emplace_back("INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)", Params{p(2), p("two"), p(2)});
    stmts.emplace_back("UPDATE items SET qty = qty * 10", Params{});
    stmts.emplace_back("SELECT name, qty FROM items ORDER BY id", Params{});
    auto results = co_await db->pipeline(std::move(stmts));
    CO_ASSERT_EQ(results.size(), 4U);
    EXPECT_EQ(results[0].one().i64("id"), 1);
    EXPECT_EQ(results[1].affected, 1);
    EXPECT_EQ(results[2].affected, 2);
    CO_ASSERT_EQ(results[3].rows.size(), 2U);
    EXPECT_EQ(results[3].rows[1].str("name"), "two");
    EXPECT_EQ(results[3].rows[1].i64("qty"), 20);

    // An error aborts the whole batch (all or nothing on both engines) and is reported.
    std::vector<std::pair<std::string, Params>> bad;
    bad.emplace_back("UPDATE items SET qty = 0", Params{});
    bad.emplace_back("INSERT INTO items (id, name) VALUES ($1, $2)", Params{p(1), p("dup")});
    std::optional<DbError::Kind> kind;
    try {
      co_await db->pipeline(std::move(bad));
    } catch (const DbError& e) {
      kind = e.kind;
    }
    EXPECT_EQ(kind, DbError::Kind::unique_violation);
    auto r = co_await db->exec("SELECT SUM(qty) FROM items");
    EXPECT_EQ(r.one().i64(0), 30);
    EXPECT_EQ(db->pool_in_use(), 0U);
  });
}

TEST_P(DatabaseConformance, PingAndPoolAccounting) {
  const Engine engine = GetParam();
  with_db(
      [engine](DatabasePtr db) -> Task<void> {
        EXPECT_TRUE(co_await db->ping());
        EXPECT_EQ(db->pool_in_use(), 0U);
        EXPECT_GE(db->pool_size(), 1U);
        co_await db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
        std::size_t during = 0;
        co_await db->transaction([&](Tx& tx) -> Task<void> {
          co_await tx.exec("INSERT INTO t VALUES (1)");
          during = db->pool_in_use();
        });
        EXPECT_EQ(during, 1U);
        EXPECT_EQ(db->pool_in_use(), 0U);
        // Many concurrent statements never open more than pool_size connections.
        auto ex = co_await asio::this_coro::executor;
        std::vector<Task<void>> tasks;
        std::atomic<std::size_t> peak{0};
        auto one = [&]() -> Task<void> {
          co_await db->transaction([&](Tx& tx) -> Task<void> {
            peak = std::max(peak.load(), db->pool_in_use());
            co_await tx.exec("SELECT COUNT(*) FROM t");
          });
        };
        for (int i = 0; i < 20; ++i) {
          tasks.push_back(one());
        }
        co_await run_all(ex, std::move(tasks));
        EXPECT_EQ(db->pool_in_use(), 0U);
        if (engine == Engine::postgres) {
          EXPECT_LE(peak.load(), 3U);
          EXPECT_LE(db->pool_size(), 3U);
          EXPECT_GE(peak.load(), 2U);  // the pool really ran transactions side by side
        } else {
          EXPECT_EQ(peak.load(), 1U);  // one writer
        }
      },
      3);
}

// The project's real-database concurrency test: many buyers, one capped row, never past the cap.
TEST_P(DatabaseConformance, ConcurrentConditionalUpdatesStopExactlyAtCap) {
  with_db([](DatabasePtr db) -> Task<void> {
    co_await db->exec(
        "CREATE TABLE quota (id BIGINT PRIMARY KEY, sold BIGINT NOT NULL, cap BIGINT NOT NULL)");
    co_await db->exec("INSERT INTO quota VALUES (7, 0, 150)");
    co_await db->exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, buyer BIGINT NOT NULL)");
    auto ex = co_await asio::this_coro::executor;
    std::atomic<int> won{0};
    std::atomic<int> tx_won{0};
    std::vector<Task<void>> tasks;
    // The closure must outlive its coroutines (they reach captures through it): define it once.
    auto buyer = [&](int i) -> Task<void> {
      Params id{p(7)};
      auto r = co_await db->exec("UPDATE quota SET sold = sold + 1 WHERE id = $1 AND sold + 1 <= cap",
                                 std::move(id));
      if (r.affected == 1) {
        ++won;
      }
      // The same through a transaction that also writes the order row (hold + outbox shape).
      co_await db->transaction([&](Tx& tx) -> Task<void> {
        Params id2{p(7)};
        auto u = co_await tx.exec(
            "UPDATE quota SET sold = sold + 1 WHERE id = $1 AND sold + 1 <= cap RETURNING sold",
            std::move(id2));
        if (u.affected == 1) {
          Params order{p(i), p(i)};
          co_await tx.exec("INSERT INTO orders (id, buyer) VALUES ($1, $2)", std::move(order));
          ++tx_won;
        }
      });
    };
    for (int i = 0; i < 200; ++i) {
      tasks.push_back(buyer(i));
    }
    co_await run_all(ex, std::move(tasks));
    auto r = co_await db->exec("SELECT sold, cap FROM quota WHERE id = 7");
    EXPECT_EQ(r.one().i64("sold"), 150);
    EXPECT_EQ(won.load() + tx_won.load(), 150);
    auto o = co_await db->exec("SELECT COUNT(*) FROM orders");
    EXPECT_EQ(o.one().i64(0), tx_won.load());
    EXPECT_EQ(db->pool_in_use(), 0U);
  });
}

// A pooled connection killed by the server (restart, failover) is replaced, not reused.
TEST_P(PostgresConformance, BrokenConnectionIsReplaced) {
  run([this](Executor ex) -> Task<void> {
    auto db = co_await open(ex, options(1));
    auto admin = co_await open(ex, options(1));
    auto kill_pooled = [&]() -> Task<void> {
      auto pid = (co_await db->exec("SELECT pg_backend_pid()")).one().i64(0);
      Params victim{p(pid)};
      auto k = co_await admin->exec("SELECT pg_terminate_backend($1)", std::move(victim));
      EXPECT_EQ(k.one().i64(0), 1);
    };
    co_await kill_pooled();
    std::optional<DbError::Kind> kind;
    try {
      co_await db->exec("SELECT 1");
    } catch (const DbError& e) {
      kind = e.kind;
    }
    EXPECT_EQ(kind, DbError::Kind::connection);  // a plain statement is not silently re-sent
    EXPECT_EQ(db->pool_in_use(), 0U);
    auto again = co_await db->exec("SELECT 2");
    EXPECT_EQ(again.one().i64(0), 2);

    co_await kill_pooled();
    int runs = 0;
    co_await db->transaction([&](Tx& tx) -> Task<void> {
      ++runs;
      co_await tx.exec("SELECT 1");
    });
    EXPECT_EQ(runs, 1);  // BEGIN failed on the dead connection; fn ran once on a fresh one
    EXPECT_TRUE(co_await db->ping());
    EXPECT_EQ(db->pool_size(), 1U);
    db->close();
    admin->close();
  });
}

TEST_P(DatabaseConformance, TwoDatabasesSeeEachOthersCommits) {
  run([this](Executor ex) -> Task<void> {
    auto a = co_await open(ex, options(2));
    auto b = co_await open(ex, options(2));
    co_await a->exec("CREATE TABLE shared_t (id INTEGER PRIMARY KEY, v TEXT)");
    Params row{p(1), p("from a")};
    co_await a->exec("INSERT INTO shared_t VALUES ($1, $2)", std::move(row));
    auto r = co_await b->exec("SELECT v FROM shared_t");
    EXPECT_EQ(r.one().str(0), "from a");
    a->close();
    b->close();
  });
}

INSTANTIATE_TEST_SUITE_P(Engines, DatabaseConformance, ::testing::Values(Engine::sqlite, Engine::postgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::sqlite ? std::string("sqlite")
                                                               : std::string("postgres");
                         });

INSTANTIATE_TEST_SUITE_P(Engines, PostgresConformance, ::testing::Values(Engine::postgres),
                         [](const ::testing::TestParamInfo<Engine>&) { return std::string("postgres"); });

}  // namespace
}  // namespace tiketi::store
