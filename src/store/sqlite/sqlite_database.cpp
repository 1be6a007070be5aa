// The SQLite adapter: one worker thread owns both connections, so SQLite's blocking calls (including
// the busy handler's sleeps when another process holds the write lock) never run on an I/O thread.
// Coroutines post work to the worker and resume on their own executor.
//
// Connections (both WAL, opened only on the worker thread, so SQLITE_OPEN_NOMUTEX is safe):
//  - writer: every statement that may write, and every transaction (BEGIN IMMEDIATE);
//  - reader: read-only statements outside transactions. WAL lets it read the last committed state
//    while a transaction is open on the writer, so reads are not held up behind a slow writer.
// One writer: an AsyncMutex serialises transactions and autocommit writes of this process; other
// processes on the same file are handled by BEGIN IMMEDIATE + busy_timeout and retry on SQLITE_BUSY.
//
// synchronous=NORMAL: in WAL mode this can lose the last transactions on power loss (not on a process
// crash) but never corrupts the file; it saves an fsync per commit. The embedded shape is a single
// machine where that trade is the usual one (it is what most WAL deployments use); durability-critical
// deployments use PostgreSQL.
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>

#include "store/detail/adapters.hpp"
#include "store/detail/async.hpp"

namespace tiketi::store {

namespace detail {

std::string rewrite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  std::size_t i = 0;
  const std::size_t n = sql.size();
  while (i < n) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // quoted text: copy up to the closing quote ('' escapes itself)
      const std::size_t end = sql.find(c, i + 1);
      const std::size_t stop = end == std::string_view::npos ? n : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      const std::size_t end = sql.find('\n', i);
      const std::size_t stop = end == std::string_view::npos ? n : end;
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      const std::size_t end = sql.find("*/", i + 2);
      const std::size_t stop = end == std::string_view::npos ? n : end + 2;
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '$' && i + 1 < n && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out.push_back('?');
      ++i;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

}  // namespace detail

namespace {

namespace asio = boost::asio;
using detail::AsyncLockGuard;
using detail::AsyncMutex;
using detail::Resumer;

DbError make_error(sqlite3* db, int rc, std::string_view what) {
  const int ext = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  std::string msg = "sqlite: ";
  msg.append(what);
  msg.append(": ");
  msg.append(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  DbError::Kind kind = DbError::Kind::other;
  if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
    kind = DbError::Kind::unique_violation;
  } else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
    kind = DbError::Kind::busy;
  } else if ((rc & 0xff) == SQLITE_ERROR) {
    kind = DbError::Kind::syntax;  // SQLITE_ERROR is what prepare reports for bad SQL / unknown names
  } else if ((rc & 0xff) == SQLITE_CANTOPEN) {
    kind = DbError::Kind::connection;
  }
  return DbError(kind, std::move(msg));
}

bool only_whitespace(const char* p) {
  while (*p != '\0') {
    if (std::strchr(" \t\r\n;", *p) == nullptr) {
      return false;
    }
    ++p;
  }
  return true;
}

// A connection used only on the worker thread.
class Conn {
 public:
  Conn(const std::string& path, bool readonly, int busy_timeout_ms) {
    const int flags =
        (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      DbError err = make_error(db_, rc, "open " + path);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw DbError(DbError::Kind::connection, err.what());
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    if (!readonly) {
      exec_script("PRAGMA journal_mode=WAL");
      exec_script("PRAGMA synchronous=NORMAL");
    }
    exec_script("PRAGMA foreign_keys=ON");
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    for (auto& [sql, stmt] : cache_) {
      sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }

  void exec_script(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "";
      sqlite3_free(err);
      throw make_error(db_, rc, msg.empty() ? std::string_view(sql) : std::string_view(msg));
    }
  }

  // Runs one statement (or a parameterless script); the result is the last statement's.
  Result run(std::string_view sql, const Params& params) {
    bool single = true;
    sqlite3_stmt* stmt = prepare(sql, &single);
    if (stmt == nullptr) {
      return {};
    }
    if (!single) {
      return run_script(sql, params);
    }
    return step_all(stmt, params);
  }

  // Runs the statement only when SQLite says it cannot write; nullopt means "use the writer".
  std::optional<Result> run_if_readonly(std::string_view sql, const Params& params) {
    bool single = true;
    sqlite3_stmt* stmt = nullptr;
    try {
      stmt = prepare(sql, &single);
    } catch (const DbError&) {
      return std::nullopt;  // let the writer report the authoritative error
    }
    if (stmt == nullptr || !single || sqlite3_stmt_readonly(stmt) == 0) {
      return std::nullopt;
    }
    return step_all(stmt, params);
  }

  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  // Cached, persistent statement for single-statement SQL; *single=false for scripts.
  sqlite3_stmt* prepare(std::string_view sql, bool* single) {
    const std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) {
      return it->second;
    }
    const std::string text = detail::rewrite_placeholders(sql);
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size() + 1),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
      throw make_error(db_, rc, "prepare");
    }
    if (tail != nullptr && !only_whitespace(tail)) {
      sqlite3_finalize(stmt);
      *single = false;
      return reinterpret_cast<sqlite3_stmt*>(1);  // non-null marker; run_script prepares each part
    }
    if (stmt != nullptr) {
      cache_.emplace(key, stmt);
    }
    return stmt;
  }

  Result run_script(std::string_view sql, const Params& params) {
    if (!params.empty()) {
      throw DbError(DbError::Kind::syntax, "sqlite: parameters are not allowed in multi-statement SQL");
    }
    const std::string text = detail::rewrite_placeholders(sql);
    const char* cursor = text.c_str();
    Result last;
    while (*cursor != '\0') {
      sqlite3_stmt* stmt = nullptr;
      const char* tail = nullptr;
      const int rc = sqlite3_prepare_v2(db_, cursor, -1, &stmt, &tail);
      if (rc != SQLITE_OK) {
        throw make_error(db_, rc, "prepare");
      }
      cursor = tail;
      if (stmt == nullptr) {  // whitespace or comment
        continue;
      }
      try {
        last = step_all(stmt, {});
      } catch (...) {
        sqlite3_finalize(stmt);
        throw;
      }
      sqlite3_finalize(stmt);
    }
    return last;
  }

  Result step_all(sqlite3_stmt* stmt, const Params& params) {
    struct ResetOnExit {
      sqlite3_stmt* s;
      ~ResetOnExit() {
        sqlite3_reset(s);  // also ends the read snapshot so checkpoints are not held back
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};

    const int expected = sqlite3_bind_parameter_count(stmt);
    if (static_cast<std::size_t>(expected) != params.size()) {
      throw DbError(DbError::Kind::syntax, "sqlite: statement takes " + std::to_string(expected) +
                                               " parameters, " + std::to_string(params.size()) + " given");
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text64(stmt, idx, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      } else {
        rc = sqlite3_bind_null(stmt, idx);
      }
      if (rc != SQLITE_OK) {
        throw make_error(db_, rc, "bind");
      }
    }

    const auto changes_before = sqlite3_total_changes64(db_);
    Result out;
    std::shared_ptr<std::vector<std::string>> columns;
    const int ncol = sqlite3_column_count(stmt);
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) {
        break;
      }
      if (rc != SQLITE_ROW) {
        throw make_error(db_, rc, "step");
      }
      if (!columns) {
        columns = std::make_shared<std::vector<std::string>>();
        for (int c = 0; c < ncol; ++c) {
          const char* name = sqlite3_column_name(stmt, c);
          columns->emplace_back(name != nullptr ? name : "");
        }
      }
      std::vector<Value> values;
      values.reserve(static_cast<std::size_t>(ncol));
      for (int c = 0; c < ncol; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER:
            values.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_NULL:
            values.emplace_back(std::monostate{});
            break;
          default: {  // TEXT and BLOB both come back as bytes
            const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, c));
            const int len = sqlite3_column_bytes(stmt, c);
            values.emplace_back(std::string(p != nullptr ? p : "", static_cast<std::size_t>(len)));
          }
        }
      }
      out.rows.emplace_back(columns, std::move(values));
    }
    // sqlite3_changes() keeps the count of the last *writing* statement, so only trust it when this
    // statement changed something.
    if (sqlite3_total_changes64(db_) != changes_before) {
      out.affected = sqlite3_changes64(db_);
    }
    return out;
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class SqliteDatabase;

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(SqliteDatabase& db) : db_(db) {}
  Task<Result> exec(std::string_view sql, Params params) override;
  Engine engine() const override { return Engine::sqlite; }

 private:
  SqliteDatabase& db_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string schema, std::string file, int busy_timeout_ms)
      : schema_(std::move(schema)),
        file_(std::move(file)),
        busy_timeout_ms_(busy_timeout_ms),
        work_(asio::make_work_guard(worker_ctx_)),
        thread_([this] { worker_ctx_.run(); }) {}

  ~SqliteDatabase() override { close(); }

  Task<void> start() {
    co_await on_worker([this] {
      // The writer first: it switches the file to WAL before the read-only connection opens it.
      writer_ = std::make_unique<Conn>(file_, false, busy_timeout_ms_);
      reader_ = std::make_unique<Conn>(file_, true, busy_timeout_ms_);
      return 0;
    });
  }

  Engine engine() const override { return Engine::sqlite; }
  const std::string& schema() const override { return schema_; }

  Task<Result> exec(std::string_view sql_view, Params params) override {
    const std::string sql(sql_view);
    std::optional<Result> read = co_await on_worker([&] {
      ReaderBusy busy(*this);
      return reader_->run_if_readonly(sql, params);
    });
    if (read) {
      co_return std::move(*read);
    }
    co_await write_lock_.lock();
    AsyncLockGuard guard(write_lock_);
    co_return co_await on_worker([&] { return writer_->run(sql, params); });
  }

  Task<void> transaction(std::function<Task<void>(Tx&)> fn, int max_attempts) override {
    max_attempts = std::max(max_attempts, 1);
    for (int attempt = 1;; ++attempt) {
      std::exception_ptr failure;
      co_await write_lock_.lock();
      AsyncLockGuard guard(write_lock_);
      try {
        co_await on_worker([this] {
          writer_->exec_script("BEGIN IMMEDIATE");
          return 0;
        });
        SqliteTx tx(*this);
        co_await fn(tx);
        co_await on_worker([this] {
          writer_->exec_script("COMMIT");
          return 0;
        });
        co_return;
      } catch (...) {
        failure = std::current_exception();
      }
      co_await on_worker([this] {
        if (writer_->in_transaction()) {
          try {
            writer_->exec_script("ROLLBACK");
          } catch (const DbError&) {  // nothing better to do; the next BEGIN will tell
          }
        }
        return 0;
      });
      guard.release();
      if (attempt >= max_attempts || !is_retryable(failure)) {
        std::rethrow_exception(failure);
      }
      co_await detail::retry_backoff(attempt);
    }
  }

  // All statements in one write transaction: the same all-or-nothing as a PostgreSQL pipeline.
  Task<std::vector<Result>> pipeline(std::vector<std::pair<std::string, Params>> stmts) override {
    co_await write_lock_.lock();
    AsyncLockGuard guard(write_lock_);
    co_return co_await on_worker([&] {
      std::vector<Result> out;
      writer_->exec_script("BEGIN IMMEDIATE");
      try {
        for (auto& [sql, params] : stmts) {
          out.push_back(writer_->run(sql, params));
        }
        writer_->exec_script("COMMIT");
      } catch (...) {
        if (writer_->in_transaction()) {
          try {
            writer_->exec_script("ROLLBACK");
          } catch (const DbError&) {
          }
        }
        throw;
      }
      return out;
    });
  }

  Task<bool> ping() override {
    try {
      auto r = co_await on_worker([this] {
        ReaderBusy busy(*this);
        return reader_->run("SELECT 1", {});
      });
      co_return r.rows.size() == 1;
    } catch (const std::exception&) {
      co_return false;
    }
  }

  std::size_t pool_size() const override { return 2; }  // writer + reader
  std::size_t pool_in_use() const override {
    return (write_lock_.locked() ? 1U : 0U) + (reader_busy_.load() > 0 ? 1U : 0U);
  }

  void close() override {
    std::lock_guard g(close_mutex_);
    if (!thread_.joinable()) {
      return;
    }
    asio::post(worker_ctx_, [this] {
      reader_.reset();
      writer_.reset();
    });
    work_.reset();
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();  // closed from a worker callback: the queue drains on its own
    } else {
      thread_.join();
    }
  }

  // Runs f() on the worker thread; the calling coroutine resumes on its own executor.
  template <class F>
  Task<std::invoke_result_t<F&>> on_worker(F f) {
    using T = std::invoke_result_t<F&>;
    co_return co_await detail::park<void(std::exception_ptr, T)>(
        [this, f = std::move(f)](Resumer<void(std::exception_ptr, T)> r) mutable {
          asio::post(worker_ctx_, [f = std::move(f), r = std::move(r)]() mutable {
            std::exception_ptr error;
            T value{};
            try {
              value = f();
            } catch (...) {
              error = std::current_exception();
            }
            r.resume(error, std::move(value));
          });
        });
  }

  Conn& writer() { return *writer_; }

 private:
  struct ReaderBusy {
    explicit ReaderBusy(SqliteDatabase& d) : db(d) { ++db.reader_busy_; }
    ~ReaderBusy() { --db.reader_busy_; }
    SqliteDatabase& db;
  };

  static bool is_retryable(const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const DbError& err) {
      return err.retryable();
    } catch (...) {
      return false;
    }
  }

  std::string schema_;
  std::string file_;
  int busy_timeout_ms_;
  asio::io_context worker_ctx_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<Conn> writer_;  // worker thread only
  std::unique_ptr<Conn> reader_;  // worker thread only
  AsyncMutex write_lock_;
  std::atomic<int> reader_busy_{0};
  std::mutex close_mutex_;
  std::thread thread_;  // last: starts after everything it uses exists
};

Task<Result> SqliteTx::exec(std::string_view sql_view, Params params) {
  const std::string sql(sql_view);
  // The transaction already holds the write lock: go straight to the writer.
  co_return co_await db_.on_worker([&] { return db_.writer().run(sql, params); });
}

}  // namespace

namespace detail {

Task<DatabasePtr> open_sqlite(Executor, const OpenOptions& opts, std::string file) {
  auto db = std::make_shared<SqliteDatabase>(opts.schema, std::move(file), opts.busy_timeout_ms);
  co_await db->start();
  co_return db;
}

}  // namespace detail

}  // namespace tiketi::store
