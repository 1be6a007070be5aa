// The PostgreSQL adapter's per-connection prepared-statement cache (TIKETI_TEST_POSTGRES_URL).
// Reuse is observed on the server: pg_prepared_statements lists the session's named statements with
// generic_plans + custom_plans = how many times each one ran (PostgreSQL 14+).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "core/testing/servers.hpp"
#include "store/database.hpp"
#include "store/tests/test_util.hpp"

namespace tiketi::store {
namespace {

namespace asio = boost::asio;

using test_util::random_suffix;

// One thread: the statements of a test run on one connection in order.
template <class F>
void run_serial(F&& make) {
  test_util::run(std::forward<F>(make), 1);
}

// How often this session ran `sql` as a named prepared statement (-1: not prepared).
Task<std::int64_t> prepared_runs(Database& db, const std::string& sql) {
  Params params{p(sql)};
  auto r = co_await db.exec(
      "SELECT COALESCE(SUM(generic_plans + custom_plans), -1), COUNT(*) FROM pg_prepared_statements "
      "WHERE statement = $1",
      std::move(params));
  const std::int64_t count = r.one().i64(1);
  EXPECT_LE(count, 1) << "prepared more than once on one connection: " << sql;
  co_return r.one().i64(0);
}

class PgPrepared : public ::testing::Test {
 protected:
  void SetUp() override {
    TIKETI_POSTGRES_URL_OR_SKIP(url);
    url_ = url;
    schema_ = "prep_" + random_suffix();
  }

  void TearDown() override {
    if (url_.empty()) {
      return;
    }
    try {
      run_serial([this](Executor ex) -> Task<void> {
        auto db = co_await open(ex, options(true, 1));
        co_await db->exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
        db->close();
      });
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup failed: " << e.what();
    }
  }

  OpenOptions options(bool prepare, int pool) const {
    std::string url = url_;
    if (!prepare) {
      url += url.find('?') == std::string::npos ? "?prepare=off" : "&prepare=off";
    }
    return OpenOptions{url, schema_, pool, 5'000};
  }

  std::string url_;
  std::string schema_;
};

TEST_F(PgPrepared, RepeatedStatementIsPreparedOnceAndReused) {
  run_serial([this](Executor ex) -> Task<void> {
    auto db = co_await open(ex, options(true, 1));  // one connection: every call uses the same cache
    co_await db->exec("CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT)");
    const std::string insert = "INSERT INTO kv (id, v) VALUES ($1, $2)";
    const std::string select = "SELECT v FROM kv WHERE id = $1";
    for (int i = 0; i < 50; ++i) {
      Params row{p(i), p("v" + std::to_string(i))};
      co_await db->exec(insert, std::move(row));
    }
    for (int i = 0; i < 50; ++i) {
      Params key{p(i)};
      auto r = co_await db->exec(select, std::move(key));
      EXPECT_EQ(r.one().str(0), "v" + std::to_string(i));
    }
    EXPECT_EQ(co_await prepared_runs(*db, insert), 50);
    EXPECT_EQ(co_await prepared_runs(*db, select), 50);
    // Never prepared: DDL and multi-statement texts.
    EXPECT_EQ(co_await prepared_runs(*db, "CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT)"), -1);
    co_await db->exec("UPDATE kv SET v = 'x' WHERE id = 1; UPDATE kv SET v = 'y' WHERE id = 2");
    auto two = co_await db->exec("SELECT v FROM kv WHERE id = 2");
    EXPECT_EQ(two.one().str(0), "y");
    auto none = co_await db->exec(
        "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE 'UPDATE kv SET v = ''x''%'");
    EXPECT_EQ(none.one().i64(0), 0);
    db->close();

    auto off = co_await open(ex, options(false, 1));
    for (int i = 3; i < 8; ++i) {
      Params key{p(i)};
      auto r = co_await off->exec(select, std::move(key));
      EXPECT_EQ(r.one().str(0), "v" + std::to_string(i));
    }
    EXPECT_EQ(co_await prepared_runs(*off, select), -1);  // prepare=off: nothing named
    off->close();
  });
}

TEST_F(PgPrepared, TransactionsUseTheCacheAndBeginCommitStayUnnamed) {
  run_serial([this](Executor ex) -> Task<void> {
    auto db = co_await open(ex, options(true, 1));
    co_await db->exec("CREATE TABLE acc (id BIGINT PRIMARY KEY, bal BIGINT NOT NULL)");
    co_await db->exec("INSERT INTO acc VALUES (1, 0)");
    const std::string add = "UPDATE acc SET bal = bal + $1 WHERE id = 1";
    for (int i = 0; i < 10; ++i) {
      co_await db->transaction([&](Tx& tx) -> Task<void> {
        Params amount{p(1)};
        co_await tx.exec(add, std::move(amount));
      });
    }
    auto r = co_await db->exec("SELECT bal FROM acc WHERE id = 1");
    EXPECT_EQ(r.one().i64(0), 10);
    EXPECT_EQ(co_await prepared_runs(*db, add), 10);
    EXPECT_EQ(co_await prepared_runs(*db, "BEGIN"), -1);
    EXPECT_EQ(co_await prepared_runs(*db, "COMMIT"), -1);

    // A statement that fails to prepare inside a transaction fails it like before: nothing commits.
    std::optional<DbError::Kind> kind;
    try {
      co_await db->transaction([&](Tx& tx) -> Task<void> {
        Params amount{p(100)};
        co_await tx.exec(add, std::move(amount));
        Params key{p(1)};
        co_await tx.exec("SELECT no_such_column FROM acc WHERE id = $1", std::move(key));
      });
    } catch (const DbError& e) {
      kind = e.kind;
    }
    EXPECT_EQ(kind, DbError::Kind::syntax);
    auto after = co_await db->exec("SELECT bal FROM acc WHERE id = 1");
    EXPECT_EQ(after.one().i64(0), 10);
    db->close();
  });
}

TEST_F(PgPrepared, PipelineMixesNewCachedAndUnnamedStatements) {
  run_serial([this](Executor ex) -> Task<void> {
    auto db = co_await open(ex, options(true, 1));
    co_await db->exec("CREATE TABLE items (id BIGINT PRIMARY KEY, qty BIGINT NOT NULL)");
    const std::string insert = "INSERT INTO items (id, qty) VALUES ($1, $2)";
    const std::string bump = "UPDATE items SET qty = qty + $1 WHERE id = $2 RETURNING qty";
    const std::string sum = "SELECT SUM(qty) FROM items";
    Params first{p(1), p(10)};
    co_await db->exec(insert, std::move(first));  // cached before the batch
    std::vector<std::pair<std::string, Params>> stmts;
    stmts.emplace_back(insert, Params{p(2), p(20)});           // cached
    stmts.emplace_back(bump, Params{p(5), p(1)});              // new: Parse + Execute
    stmts.emplace_back(bump, Params{p(7), p(2)});              // new in this batch, reused
    stmts.emplace_back("VALUES ($1::bigint)", Params{p(99)});  // never cached: unnamed
    stmts.emplace_back(sum, Params{});                         // new, no parameters
    stmts.emplace_back(insert, Params{p(3), p(30)});           // cached
    auto results = co_await db->pipeline(std::move(stmts));
    CO_ASSERT_EQ(results.size(), 6U);
    EXPECT_EQ(results[0].affected, 1);
    EXPECT_EQ(results[1].one().i64(0), 15);
    EXPECT_EQ(results[2].one().i64(0), 27);
    EXPECT_EQ(results[3].one().i64(0), 99);
    EXPECT_EQ(results[4].one().i64(0), 42);
    EXPECT_EQ(results[5].affected, 1);
    EXPECT_EQ(co_await prepared_runs(*db, insert), 3);
    EXPECT_EQ(co_await prepared_runs(*db, bump), 2);
    EXPECT_EQ(co_await prepared_runs(*db, sum), 1);
    EXPECT_EQ(co_await prepared_runs(*db, "VALUES ($1::bigint)"), -1);

    // Second batch: everything cached now, and the counts keep going on the same statements.
    std::vector<std::pair<std::string, Params>> again;
    again.emplace_back(bump, Params{p(1), p(3)});
    again.emplace_back(sum, Params{});
    auto r2 = co_await db->pipeline(std::move(again));
    CO_ASSERT_EQ(r2.size(), 2U);
    EXPECT_EQ(r2[0].one().i64(0), 31);
    EXPECT_EQ(r2[1].one().i64(0), 73);
    EXPECT_EQ(co_await prepared_runs(*db, bump), 3);
    EXPECT_EQ(co_await prepared_runs(*db, sum), 2);

    // A new statement that fails to prepare aborts the batch, reported as before; nothing applied.
    std::vector<std::pair<std::string, Params>> bad;
    bad.emplace_back(bump, Params{p(1000), p(1)});
    bad.emplace_back("SELECT nope FROM items WHERE id = $1", Params{p(1)});
    std::optional<DbError::Kind> kind;
    try {
      co_await db->pipeline(std::move(bad));
    } catch (const DbError& e) {
      kind = e.kind;
    }
    EXPECT_EQ(kind, DbError::Kind::syntax);
    auto total = co_await db->exec(sum);
    EXPECT_EQ(total.one().i64(0), 73);
    EXPECT_EQ(db->pool_in_use(), 0U);
    db->close();
  });
}

TEST_F(PgPrepared, AlteredTableRePreparesCachedStatement) {
  run_serial([this](Executor ex) -> Task<void> {
    auto db = co_await open(ex, options(true, 1));
    co_await db->exec("CREATE TABLE t (id BIGINT PRIMARY KEY, a TEXT)");
    co_await db->exec("INSERT INTO t VALUES (1, 'x')");
    const std::string star = "SELECT * FROM t WHERE id = $1";
    Params k1{p(1)};
    auto before = co_await db->exec(star, std::move(k1));
    EXPECT_EQ(before.one().size(), 2U);

    // exec: the server refuses the stale plan; the adapter re-prepares and runs it once more.
    co_await db->exec("ALTER TABLE t ADD COLUMN b BIGINT DEFAULT 7");
    Params k2{p(1)};
    auto after = co_await db->exec(star, std::move(k2));
    CO_ASSERT_EQ(after.one().size(), 3U);
    EXPECT_EQ(after.one().i64("b"), 7);
    EXPECT_EQ(co_await prepared_runs(*db, star), 1);  // the re-prepared one; the old one deallocated

    // pipeline: the batch is rerun once with the statement re-prepared.
    co_await db->exec("ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'c'");
    std::vector<std::pair<std::string, Params>> stmts;
    stmts.emplace_back("UPDATE t SET a = $1 WHERE id = $2", Params{p("y"), p(1)});
    stmts.emplace_back(star, Params{p(1)});
    auto results = co_await db->pipeline(std::move(stmts));
    CO_ASSERT_EQ(results.size(), 2U);
    CO_ASSERT_EQ(results[1].one().size(), 4U);
    EXPECT_EQ(results[1].one().str("a"), "y");
    EXPECT_EQ(results[1].one().str("c"), "c");

    // transaction: the error aborted it, so the whole transaction runs again.
    co_await db->exec("ALTER TABLE t DROP COLUMN c");
    int runs = 0;
    std::size_t width = 0;
    co_await db->transaction([&](Tx& tx) -> Task<void> {
      ++runs;
      Params key{p(1)};
      auto r = co_await tx.exec(star, std::move(key));
      width = r.one().size();
    });
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(width, 3U);
    auto count = co_await db->exec(
        "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = 'SELECT * FROM t WHERE id = $1'");
    EXPECT_EQ(count.one().i64(0), 1);  // stale names were deallocated
    db->close();
  });
}

TEST_F(PgPrepared, DifferentParameterCountsAndErrorsMatchTheUnnamedPath) {
  run_serial([this](Executor ex) -> Task<void> {
    auto on = co_await open(ex, options(true, 1));
    auto off = co_await open(ex, options(false, 1));
    const std::vector<std::string> texts = {
        "SELECT 40 + 2",
        "SELECT $1::bigint",
        "SELECT $1::bigint + $2::bigint",
        "SELECT $1::bigint + $2::bigint + $3::bigint",
        "SELECT $1::text || $2::text || $3::text || $4::text",
    };
    for (int round = 0; round < 3; ++round) {
      for (std::size_t n = 0; n < texts.size(); ++n) {
        Params params;
        for (std::size_t i = 0; i < n; ++i) {
          params.push_back(p(static_cast<std::int64_t>(i + 1)));
        }
        Params copy = params;
        auto a = co_await on->exec(texts[n], std::move(params));
        auto b = co_await off->exec(texts[n], std::move(copy));
        EXPECT_EQ(a.one().str(0), b.one().str(0)) << texts[n];
      }
    }
    EXPECT_EQ(co_await prepared_runs(*on, texts[3]), 3);
    Params two{p(2), p(3)};
    auto five = co_await on->exec("SELECT $1::bigint + $2::bigint", std::move(two));
    EXPECT_EQ(five.one().i64(0), 5);

    // Wrong parameter counts against a cached statement: the same error kind as unnamed.
    const std::vector<DatabasePtr> both{on, off};
    for (const auto& db : both) {
      std::optional<DbError::Kind> kind;
      try {
        Params one{p(1)};
        co_await db->exec("SELECT $1::bigint + $2::bigint", std::move(one));
      } catch (const DbError& e) {
        kind = e.kind;
      }
      EXPECT_TRUE(kind.has_value());
      EXPECT_EQ(db->pool_in_use(), 0U);
      Params nine{p(9)};
      auto ok = co_await db->exec("SELECT $1::bigint", std::move(nine));  // usable afterwards
      EXPECT_EQ(ok.one().i64(0), 9);
    }
    on->close();
    off->close();
  });
}

TEST_F(PgPrepared, CacheIsBoundedAndForgottenOnReconnect) {
  run_serial([this](Executor ex) -> Task<void> {
    auto db = co_await open(ex, options(true, 1));
    auto admin = co_await open(ex, options(true, 1));
    for (int i = 0; i < 300; ++i) {
      const std::string sql = "SELECT " + std::to_string(i) + " + $1::bigint";
      Params one{p(1)};
      auto r = co_await db->exec(sql, std::move(one));
      EXPECT_EQ(r.one().i64(0), i + 1);
    }
    auto n = co_await db->exec("SELECT COUNT(*) FROM pg_prepared_statements");
    const std::int64_t cached = n.one().i64(0);
    EXPECT_EQ(cached, 256);  // the cap; beyond it texts (this COUNT too) run unnamed

    const std::string sql = "SELECT 1 + $1::bigint";
    auto pid = (co_await db->exec("SELECT pg_backend_pid()")).one().i64(0);
    Params victim{p(pid)};
    co_await admin->exec("SELECT pg_terminate_backend($1)", std::move(victim));
    try {
      co_await db->exec("SELECT 1");
    } catch (const DbError&) {
      // the dead connection is reported once and replaced
    }
    Params one{p(1)};
    auto r = co_await db->exec(sql, std::move(one));
    EXPECT_EQ(r.one().i64(0), 2);
    EXPECT_EQ(co_await prepared_runs(*db, sql), 1);  // prepared anew on the new session
    db->close();
    admin->close();
  });
}

// Micro comparison, same run: N parameterized INSERTs and SELECTs through the adapter, cache on vs
// off. N from TIKETI_PG_PREPARE_BENCH_N (default 2000 to keep ctest quick; the report used 20000).
// Only correctness is asserted; the figures are printed ("[prepared-cache] ...").
TEST_F(PgPrepared, MicroComparisonCacheOnVsOff) {
  int n = 2000;
  if (const char* env = std::getenv("TIKETI_PG_PREPARE_BENCH_N")) {
    n = std::max(1, std::atoi(env));
  }
  run_serial([this, n](Executor ex) -> Task<void> {
    auto setup = co_await open(ex, options(true, 1));
    co_await setup->exec(
        "CREATE TABLE bench (id BIGINT PRIMARY KEY, event_id BIGINT NOT NULL, holder TEXT NOT NULL, "
        "amount BIGINT NOT NULL, state TEXT NOT NULL)");
    co_await setup->exec("CREATE INDEX bench_event ON bench (event_id, state)");
    setup->close();
    double secs[2][2] = {};  // [prepare on/off][insert/select]
    for (int round = 0; round < 2; ++round) {
      for (int mode = 0; mode < 2; ++mode) {  // alternate to spread machine noise
        const bool prepare = mode == 0;
        auto db = co_await open(ex, options(prepare, 1));
        // Measures statement CPU (parse/plan), not the WAL flush each autocommit INSERT would wait on.
        co_await db->exec("SET synchronous_commit TO off");
        const std::int64_t base = (static_cast<std::int64_t>(round) * 2 + mode) * 1'000'000;
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < n; ++i) {
          Params row{p(base + i), p(i % 50), p("holder-" + std::to_string(i)), p(i * 100), p("held")};
          co_await db->exec(
              "INSERT INTO bench (id, event_id, holder, amount, state) VALUES ($1, $2, $3, $4, $5)",
              std::move(row));
        }
        auto t1 = std::chrono::steady_clock::now();
        std::int64_t found = 0;
        for (int i = 0; i < n; ++i) {
          Params key{p(base + i), p("held")};
          auto r = co_await db->exec(
              "SELECT id, event_id, holder, amount FROM bench WHERE id = $1 AND state = $2", std::move(key));
          found += static_cast<std::int64_t>(r.rows.size());
        }
        auto t2 = std::chrono::steady_clock::now();
        EXPECT_EQ(found, n);
        secs[mode][0] += std::chrono::duration<double>(t1 - t0).count();
        secs[mode][1] += std::chrono::duration<double>(t2 - t1).count();
        db->close();
      }
    }
    const double total = 2.0 * n;
    std::printf(
        "[prepared-cache] N=%d x2 rounds: INSERT on %.0f/s off %.0f/s ratio %.2f; SELECT on %.0f/s off "
        "%.0f/s "
        "ratio %.2f\n",
        n, total / secs[0][0], total / secs[1][0], secs[1][0] / secs[0][0], total / secs[0][1],
        total / secs[1][1], secs[1][1] / secs[0][1]);
  });
}

}  // namespace
}  // namespace tiketi::store
