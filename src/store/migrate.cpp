// The migration runner: the same code for both engines.
//
// Concurrency: several processes may run `tiketi migrate` (or start) at once. On PostgreSQL every
// migration transaction first takes a transaction-level advisory lock keyed by the schema, then
// re-checks schema_migrations, so exactly one process applies each version. On SQLite, BEGIN
// IMMEDIATE already makes the write transactions of all processes take turns.
#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "store/database.hpp"

namespace tiketi::store {

namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL)";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Task<void> lock_schema(Tx& tx, const std::string& schema) {
  if (tx.engine() == Engine::postgres) {
    // Params built before co_await: g++ 12 miscompiles some braced temporaries in co_await operands.
    Params params{p("tiketi.migrate." + schema)};
    co_await tx.exec("SELECT pg_advisory_xact_lock(hashtext($1))", std::move(params));
  }
}

const std::string& sql_for(const Migration& m, Engine engine) {
  if (engine == Engine::sqlite && !m.sqlite_sql.empty()) {
    return m.sqlite_sql;
  }
  if (engine == Engine::postgres && !m.postgres_sql.empty()) {
    return m.postgres_sql;
  }
  return m.sql;
}

}  // namespace

Task<int> migrate(Database& db, const std::vector<Migration>& migrations) {
  std::vector<const Migration*> ordered;
  for (const auto& m : migrations) {
    ordered.push_back(&m);
  }
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->version < b->version; });
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i]->version == ordered[i - 1]->version) {
      throw std::invalid_argument("duplicate migration version " + std::to_string(ordered[i]->version) +
                                  " in schema " + db.schema());
    }
  }

  const std::string schema = db.schema();
  co_await db.transaction([&](Tx& tx) -> Task<void> {
    co_await lock_schema(tx, schema);
    co_await tx.exec(kCreateTable);
  });

  // Cheap first look so that an up-to-date database opens no write transaction at all.
  std::set<std::int64_t> applied;
  for (const Row& row : (co_await db.exec("SELECT version FROM schema_migrations")).rows) {
    applied.insert(row.i64(0));
  }

  int newly_applied = 0;
  for (const Migration* m : ordered) {
    if (applied.count(m->version) != 0) {
      continue;
    }
    bool did_apply = false;
    co_await db.transaction([&](Tx& tx) -> Task<void> {
      did_apply = false;  // fn may run again after a retryable error
      co_await lock_schema(tx, schema);
      // Re-check under the lock: another process may have applied it since our first look.
      Params version{p(m->version)};
      auto seen = co_await tx.exec("SELECT 1 FROM schema_migrations WHERE version = $1", std::move(version));
      if (!seen.empty()) {
        co_return;
      }
      co_await tx.exec(sql_for(*m, tx.engine()));
      Params row{p(m->version), p(m->name), p(now_ms())};
      co_await tx.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                       std::move(row));
      did_apply = true;
    });
    if (did_apply) {
      ++newly_applied;
    }
  }
  co_return newly_applied;
}

}  // namespace tiketi::store
