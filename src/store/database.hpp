#pragma once
// The storage port. One SQL text runs on both engines wherever possible: write placeholders as
// $1, $2 … (the SQLite adapter rewrites them to ?1, ?2), use RETURNING and ON CONFLICT, store
// timestamps as INTEGER epoch milliseconds and money as INTEGER minor units (BIGINT on PostgreSQL).
//
// Each service gets its own Database: on PostgreSQL a pool whose connections use the service's
// schema (search_path), on SQLite its own file `<data_dir>/<service>.db` (WAL).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/task.hpp"

namespace tiketi::store {

using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

// Bind helpers: p(42), p("text"), p(std::nullopt).
inline Value p(std::int64_t v) { return v; }
inline Value p(int v) { return static_cast<std::int64_t>(v); }
inline Value p(double v) { return v; }
inline Value p(std::string v) { return v; }
inline Value p(std::string_view v) { return std::string(v); }
inline Value p(const char* v) { return std::string(v); }
inline Value p(bool v) { return static_cast<std::int64_t>(v ? 1 : 0); }
inline Value p(std::nullopt_t) { return std::monostate{}; }
template <class T>
Value p(const std::optional<T>& v) {
  return v ? p(*v) : Value{std::monostate{}};
}

using Params = std::vector<Value>;

class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values);
  std::size_t size() const { return values_.size(); }
  bool is_null(std::size_t i) const;
  bool is_null(std::string_view column) const;
  // Conversions: integers parse from text on PostgreSQL; throws std::runtime_error on NULL.
  std::int64_t i64(std::size_t i) const;
  std::int64_t i64(std::string_view column) const;
  double f64(std::size_t i) const;
  double f64(std::string_view column) const;
  std::string str(std::size_t i) const;
  std::string str(std::string_view column) const;
  std::optional<std::int64_t> opt_i64(std::string_view column) const;
  std::optional<std::string> opt_str(std::string_view column) const;
  const Value& at(std::size_t i) const { return values_.at(i); }
  std::size_t index_of(std::string_view column) const;  // throws when unknown

 private:
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Value> values_;
};

struct Result {
  std::vector<Row> rows;
  std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
  bool empty() const { return rows.empty(); }
  const Row& one() const;  // throws when there is not exactly one row
};

enum class Engine { sqlite, postgres };

// Errors the adapters raise; both engines map theirs to these.
struct DbError : std::runtime_error {
  enum class Kind { unique_violation, serialization, busy, connection, syntax, other };
  DbError(Kind k, std::string msg) : std::runtime_error(std::move(msg)), kind(k) {}
  Kind kind;
  bool retryable() const { return kind == Kind::serialization || kind == Kind::busy; }
};

// Statements inside one transaction.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Task<Result> exec(std::string_view sql, Params params = {}) = 0;
  virtual Engine engine() const = 0;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Engine engine() const = 0;
  virtual const std::string& schema() const = 0;  // the owning service's name

  // A single statement in its own implicit transaction. Without params the text may hold several
  // statements (the last one's result is returned); with params it must be one statement.
  virtual Task<Result> exec(std::string_view sql, Params params = {}) = 0;

  // Runs fn in a transaction (BEGIN … COMMIT; on SQLite BEGIN IMMEDIATE). On a retryable error
  // (serialization failure, deadlock, SQLITE_BUSY) the whole fn is run again, up to max_attempts,
  // so fn must not have side effects outside the transaction. Any exception rolls back.
  // Inside fn use only tx: on SQLite a write through the Database would wait for this very
  // transaction (one writer). For SERIALIZABLE on PostgreSQL, make the first statement
  // "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE" (default READ COMMITTED). A connection lost
  // before BEGIN succeeded is also retried (nothing ran yet).
  virtual Task<void> transaction(std::function<Task<void>(Tx&)> fn, int max_attempts = 5) = 0;

  // Several independent statements sent at once (PostgreSQL pipeline mode; sequential on SQLite).
  // All or nothing on both engines (one implicit transaction up to the Sync; BEGIN IMMEDIATE on
  // SQLite); the first error is thrown. Each statement must be a single statement.
  virtual Task<std::vector<Result>> pipeline(std::vector<std::pair<std::string, Params>> stmts) = 0;

  // Readiness check (SELECT 1 with a short timeout).
  virtual Task<bool> ping() = 0;

  // Pool gauges for /metrics. PostgreSQL: connections open (or opening, at most pool_size) and
  // those handed out. SQLite: 2 (writer + reader) and how many of them are busy.
  virtual std::size_t pool_size() const = 0;
  virtual std::size_t pool_in_use() const = 0;

  virtual void close() = 0;
};
using DatabasePtr = std::shared_ptr<Database>;

struct OpenOptions {
  std::string url;       // "sqlite:<dir>" or "postgres://user:pass@host:port/db"
  std::string schema;    // service name: schema on PostgreSQL, file name on SQLite
  int pool_size = 8;     // PostgreSQL connections
  int busy_timeout_ms = 5'000;
};

// Opens the right adapter for the URL. Throws std::invalid_argument for a bad URL and
// DbError(connection) when the server cannot be reached.
Task<DatabasePtr> open(Executor ex, OpenOptions opts);

// Migrations: numbered, applied in order, each in its own transaction, recorded in
// schema_migrations(version, name, applied_at). Idempotent.
struct Migration {
  int version;
  std::string name;
  std::string sql;           // both engines unless the engine-specific text is set
  std::string sqlite_sql;    // optional override
  std::string postgres_sql;  // optional override
};

// Returns how many were newly applied.
Task<int> migrate(Database& db, const std::vector<Migration>& migrations);

}  // namespace tiketi::store
