// The PostgreSQL adapter: libpq in non-blocking mode driven by the Asio loop.
//
// Every wait on a libpq socket wraps the descriptor in a fresh stream_descriptor and releases it
// afterwards (libpq owns the fd). A fresh registration matters: epoll is edge-triggered in Asio, and
// a readiness edge that arrived while no wait was pending would be lost on a long-lived descriptor;
// registering anew reports the current state. During connect the socket can even change between
// PQconnectPoll steps.
//
// The pool hands out whole connections (a transaction keeps its connection); waiting for one parks
// the coroutine, never a thread. A connection that broke, or was abandoned mid-query (cancellation),
// is closed and its slot given to the next waiter, which connects anew.
//
// Prepared statements: each connection keeps a bounded cache sql -> server-side statement name.
// The first use of a cacheable text on a connection prepares it (PQsendPrepare, parameter types
// inferred exactly as on the unnamed path); later uses only Bind/Execute, so the server neither
// parses nor plans it again. Cacheable = one SELECT/INSERT/UPDATE/DELETE/WITH statement (no ';'
// except a trailing one); migrations, DDL, BEGIN/COMMIT and multi-statement texts stay unnamed.
// The cache lives in PgConn, so a reconnect (a new PgConn) starts empty. A cached statement whose
// result type changed (ALTER TABLE: SQLSTATE 0A000 "cached plan must not change result type") or
// that vanished (26000) is dropped and DEALLOCATEd; outside a transaction it is re-prepared and run
// once more, inside one (which that error aborted) it is reported as a serialization error so that
// Database::transaction reruns the whole transaction. `prepare=off` in the URL disables the cache.
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "store/detail/adapters.hpp"
#include "store/detail/async.hpp"

namespace tiketi::store {

namespace {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;
using detail::Resumer;
using namespace asio::experimental::awaitable_operators;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kPingTimeout = std::chrono::seconds(2);
// Per connection; beyond it, new texts run unnamed (no eviction: a service has a fixed set of SQL).
constexpr std::size_t kMaxPrepared = 256;

// Type OIDs from pg_type.h (stable since forever; the server header is not installed by libpq-dev).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PgConn {
  PGconn* conn = nullptr;
  bool busy = false;    // a query is in flight: abandoning it leaves the protocol state unknown
  bool broken = false;  // connection-level failure seen
  bool prepare = true;  // use the prepared-statement cache
  std::unordered_map<std::string, std::string> prepared;  // sql -> server-side statement name
  std::vector<std::string> stale;  // names still allocated on the server, to DEALLOCATE
  std::uint64_t next_stmt = 0;
  PgConn() = default;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;
  ~PgConn() {
    if (conn != nullptr) {
      PQfinish(conn);
    }
  }
  bool reusable() const {
    return !busy && !broken && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
  }
};
using PgConnPtr = std::unique_ptr<PgConn>;

std::string trim_message(const char* m) {
  std::string s = m != nullptr ? m : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

DbError connection_error(PgConn& c, std::string_view what) {
  c.broken = true;
  return DbError(DbError::Kind::connection,
                 "postgres: " + std::string(what) + ": " + trim_message(PQerrorMessage(c.conn)));
}

DbError::Kind kind_for_sqlstate(std::string_view state) {
  if (state == "23505") {
    return DbError::Kind::unique_violation;
  }
  if (state == "40001" || state == "40P01") {
    return DbError::Kind::serialization;
  }
  if (state.substr(0, 2) == "08" || state.substr(0, 2) == "57") {  // connection / admin shutdown
    return DbError::Kind::connection;
  }
  if (state.substr(0, 2) == "42") {
    return DbError::Kind::syntax;
  }
  return DbError::Kind::other;
}

DbError result_error(PgConn& c, const PGresult* r) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const DbError::Kind kind = state != nullptr ? kind_for_sqlstate(state) : DbError::Kind::connection;
  if (kind == DbError::Kind::connection) {
    c.broken = true;
  }
  std::string msg = "postgres";
  if (state != nullptr) {
    msg += " [";
    msg += state;
    msg += "]";
  }
  msg += ": " + trim_message(PQresultErrorMessage(r));
  return DbError(kind, std::move(msg));
}

Value convert_cell(const char* text, int len, Oid type) {
  const std::string_view s(text, static_cast<std::size_t>(len));
  switch (type) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc{} && p == s.data() + s.size()) {
        return v;
      }
      return std::string(s);
    }
    case kBoolOid:
      return static_cast<std::int64_t>(s == "t" ? 1 : 0);
    case kNumericOid: {
      // SUM(bigint) is numeric: keep whole numbers exact when they fit.
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc{} && p == s.data() + s.size()) {
        return v;
      }
      [[fallthrough]];
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      const std::string copy(s);
      char* end = nullptr;
      const double d = std::strtod(copy.c_str(), &end);
      if (end == copy.c_str() + copy.size()) {
        return d;
      }
      return copy;
    }
    default:
      return std::string(s);
  }
}

Result convert_result(const PGresult* r) {
  Result out;
  // PQcmdTuples also counts the rows of a SELECT; the port's `affected` is for writes only.
  const char* tag = PQcmdStatus(const_cast<PGresult*>(r));
  const bool is_select = tag != nullptr && std::strncmp(tag, "SELECT", 6) == 0;
  const char* tuples = PQcmdTuples(const_cast<PGresult*>(r));
  if (!is_select && tuples != nullptr && *tuples != '\0') {
    std::from_chars(tuples, tuples + std::strlen(tuples), out.affected);
  }
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    return out;
  }
  const int nf = PQnfields(r);
  const int nt = PQntuples(r);
  auto columns = std::make_shared<std::vector<std::string>>();
  std::vector<Oid> types;
  for (int f = 0; f < nf; ++f) {
    columns->emplace_back(PQfname(r, f));
    types.push_back(PQftype(r, f));
  }
  std::shared_ptr<const std::vector<std::string>> shared = columns;
  out.rows.reserve(static_cast<std::size_t>(nt));
  for (int t = 0; t < nt; ++t) {
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(nf));
    for (int f = 0; f < nf; ++f) {
      if (PQgetisnull(r, t, f) != 0) {
        values.emplace_back(std::monostate{});
      } else {
        values.push_back(
            convert_cell(PQgetvalue(r, t, f), PQgetlength(r, t, f), types[static_cast<std::size_t>(f)]));
      }
    }
    out.rows.emplace_back(shared, std::move(values));
  }
  return out;
}

// Text-format parameters: integers as decimal, doubles shortest round-trip, NULL as nullptr.
struct TextParams {
  explicit TextParams(const Params& params) {
    storage.reserve(params.size());
    for (const Value& v : params) {
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        storage.push_back(std::to_string(*n));
      } else if (const auto* d = std::get_if<double>(&v)) {
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
        storage.emplace_back(buf, ec == std::errc{} ? end : buf);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        storage.push_back(*s);
      } else {
        storage.emplace_back();
      }
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      values.push_back(std::holds_alternative<std::monostate>(params[i]) ? nullptr : storage[i].c_str());
    }
  }
  std::vector<std::string> storage;
  std::vector<const char*> values;
};

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Waits once for the libpq socket to be readable/writable (see the file comment on re-wrapping).
// Reports errors as a value: awaitable operator|| waits for the first *success*, so a racer that
// throws would only be noticed when the other one finishes.
Task<boost::system::error_code> wait_socket_ec(PgConn& c, stream_descriptor::wait_type what) {
  const int fd = PQsocket(c.conn);
  if (fd < 0) {
    co_return asio::error::bad_descriptor;
  }
  stream_descriptor sd(co_await asio::this_coro::executor, fd);
  struct Release {  // libpq owns the fd: never let Asio close it, even when the frame is destroyed
    stream_descriptor& sd;
    ~Release() {
      if (sd.is_open()) {
        sd.release();
      }
    }
  } release{sd};
  auto [ec] = co_await sd.async_wait(what, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

Task<void> wait_socket(PgConn& c, stream_descriptor::wait_type what) {
  const auto ec = co_await wait_socket_ec(c, what);
  if (ec) {
    throw connection_error(c, "wait: " + ec.message());
  }
}

// Waits until the socket is readable or writable. One descriptor with two waits: epoll refuses
// to register the same fd twice.
Task<void> wait_either(PgConn& c) {
  const int fd = PQsocket(c.conn);
  if (fd < 0) {
    throw connection_error(c, "no socket");
  }
  stream_descriptor sd(co_await asio::this_coro::executor, fd);
  struct Release {
    stream_descriptor& sd;
    ~Release() {
      if (sd.is_open()) {
        sd.release();
      }
    }
  } release{sd};
  auto winner = co_await (sd.async_wait(stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                          sd.async_wait(stream_descriptor::wait_write, asio::as_tuple(asio::use_awaitable)));
  const auto ec = std::visit([](const auto& t) { return std::get<0>(t); }, winner);
  if (ec) {
    throw connection_error(c, "wait: " + ec.message());
  }
}

Task<void> flush(PgConn& c) {
  for (;;) {
    const int r = PQflush(c.conn);
    if (r == 0) {
      co_return;
    }
    if (r < 0) {
      throw connection_error(c, "flush");
    }
    // The server may be writing to us while we write to it: take input too, or both sides stall.
    co_await wait_either(c);
    if (PQconsumeInput(c.conn) == 0) {
      throw connection_error(c, "read");
    }
  }
}

// The next result of the current query, nullptr when its results are done.
Task<PgResult> next_result(PgConn& c) {
  while (PQisBusy(c.conn) != 0) {
    co_await wait_socket(c, stream_descriptor::wait_read);
    if (PQconsumeInput(c.conn) == 0) {
      throw connection_error(c, "read");
    }
  }
  co_return PgResult(PQgetResult(c.conn));
}

// Collects the results of the one command just sent and returns the last one's.
Task<Result> collect(PgConn& c) {
  co_await flush(c);
  Result out;
  std::optional<DbError> error;
  for (;;) {
    PgResult r = co_await next_result(c);
    if (!r) {
      break;
    }
    switch (PQresultStatus(r.get())) {
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        out = convert_result(r.get());
        break;
      case PGRES_EMPTY_QUERY:
        out = Result{};
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        c.broken = true;  // we never speak COPY; the connection cannot be reused
        throw DbError(DbError::Kind::other, "postgres: COPY is not supported through the store port");
      default:
        if (!error) {
          error = result_error(c, r.get());
        }
    }
  }
  c.busy = false;
  if (error) {
    throw *error;
  }
  co_return out;
}

// Runs sql unnamed and returns the last statement's result. Without params it uses the simple-query
// protocol, which accepts several statements (migrations); with params the extended protocol.
Task<Result> run_unnamed(PgConn& c, const std::string& sql, const Params& params) {
  c.busy = true;
  int ok = 0;
  if (params.empty()) {
    ok = PQsendQuery(c.conn, sql.c_str());
  } else {
    TextParams text(params);
    ok = PQsendQueryParams(c.conn, sql.c_str(), static_cast<int>(params.size()), nullptr, text.values.data(),
                           nullptr, nullptr, 0);
  }
  if (ok == 0) {
    throw connection_error(c, "send");
  }
  co_return co_await collect(c);
}

// One SELECT/INSERT/UPDATE/DELETE/WITH statement: no ';' but an optional trailing one.
bool cacheable_sql(std::string_view sql) {
  const auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; };
  while (!sql.empty() && space(sql.front())) {
    sql.remove_prefix(1);
  }
  while (!sql.empty() && space(sql.back())) {
    sql.remove_suffix(1);
  }
  if (!sql.empty() && sql.back() == ';') {
    sql.remove_suffix(1);
  }
  if (sql.empty() || sql.find(';') != std::string_view::npos) {
    return false;
  }
  std::string word;
  for (char ch : sql) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
      break;
    }
    word.push_back(static_cast<char>(ch | 0x20));
  }
  if (word.size() == sql.size()) {
    return false;  // a bare keyword
  }
  return word == "select" || word == "insert" || word == "update" || word == "delete" || word == "with";
}

// The server forgot or invalidated a cached statement: drop it and prepare anew.
bool is_stale_statement(const DbError& e) {
  const std::string_view m = e.what();
  return (m.find("[0A000]") != std::string_view::npos &&
          m.find("cached plan must not change result type") != std::string_view::npos) ||
         m.find("[26000]") != std::string_view::npos;
}

// 0A000 leaves the statement allocated (DEALLOCATE it); 26000 means it is gone already.
bool still_allocated(const DbError& e) {
  return std::string_view(e.what()).find("[0A000]") != std::string_view::npos;
}

std::string new_statement_name(PgConn& c) { return "tiketi_s" + std::to_string(++c.next_stmt); }

// DEALLOCATE is allowed in a healthy transaction block but not in an aborted one: then it waits.
Task<void> deallocate_stale(PgConn& c) {
  while (!c.stale.empty() && PQtransactionStatus(c.conn) != PQTRANS_INERROR) {
    const std::string sql = "DEALLOCATE " + quote_ident(c.stale.back());
    c.stale.pop_back();
    const Params none;
    co_await run_unnamed(c, sql, none);
  }
}

// Prepares sql as `name` (types inferred, as on the unnamed path); errors as run_unnamed reports them.
Task<void> prepare_statement(PgConn& c, const std::string& name, const std::string& sql) {
  c.busy = true;
  if (PQsendPrepare(c.conn, name.c_str(), sql.c_str(), 0, nullptr) == 0) {
    throw connection_error(c, "send (prepare)");
  }
  co_await collect(c);
}

Task<Result> run_prepared(PgConn& c, const std::string& name, const Params& params) {
  c.busy = true;
  TextParams text(params);
  if (PQsendQueryPrepared(c.conn, name.c_str(), static_cast<int>(params.size()), text.values.data(), nullptr,
                          nullptr, 0) == 0) {
    throw connection_error(c, "send (prepared)");
  }
  co_return co_await collect(c);
}

// Runs sql on c and returns the last statement's result, through the statement cache when it can.
Task<Result> run_query(PgConn& c, std::string_view sql_view, const Params& params) {
  const std::string sql(sql_view);
  if (!c.prepare || !cacheable_sql(sql)) {
    co_return co_await run_unnamed(c, sql, params);
  }
  if (!c.stale.empty()) {
    co_await deallocate_stale(c);
  }
  for (int attempt = 0;; ++attempt) {
    std::string name;
    if (auto it = c.prepared.find(sql); it != c.prepared.end()) {
      name = it->second;
    } else if (c.prepared.size() >= kMaxPrepared) {
      co_return co_await run_unnamed(c, sql, params);
    } else {
      name = new_statement_name(c);
      co_await prepare_statement(c, name, sql);  // a failure is reported as the unnamed path would
      c.prepared.emplace(sql, name);
    }
    std::optional<DbError> stale;
    try {
      co_return co_await run_prepared(c, name, params);
    } catch (const DbError& e) {
      if (!is_stale_statement(e)) {
        throw;
      }
      stale = e;
    }
    c.prepared.erase(sql);
    if (still_allocated(*stale)) {
      c.stale.push_back(name);
    }
    if (PQtransactionStatus(c.conn) != PQTRANS_IDLE) {
      // The error aborted the caller's transaction: only a rerun of the whole transaction helps.
      throw DbError(DbError::Kind::serialization, std::string(stale->what()) + " (re-prepared on retry)");
    }
    if (attempt >= 1) {
      throw *stale;
    }
    co_await deallocate_stale(c);
  }
}

// Drives PQconnectPoll to the end; the error comes back as a value (see wait_socket_ec).
Task<std::exception_ptr> connect_steps(PgConn& c) {
  try {
    // PQconnectStart behaves as if the last poll said "writing".
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED) {
        throw connection_error(c, "connect");
      }
      co_await wait_socket(
          c, st == PGRES_POLLING_READING ? stream_descriptor::wait_read : stream_descriptor::wait_write);
      st = PQconnectPoll(c.conn);
    }
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

class PgPool {
 public:
  PgPool(std::string url, std::string schema, std::size_t max, bool prepare)
      : url_(std::move(url)), schema_(std::move(schema)), max_(max), prepare_(prepare) {}

  ~PgPool() { close(); }

  Task<PgConnPtr> acquire() {
    PgConnPtr c = co_await detail::park<void(std::exception_ptr, PgConnPtr)>(
        [this](Resumer<void(std::exception_ptr, PgConnPtr)> r) {
          std::unique_lock g(mutex_);
          if (closed_) {
            g.unlock();
            r.resume(std::make_exception_ptr(DbError(DbError::Kind::connection, "postgres: pool closed")),
                     nullptr);
            return;
          }
          if (!idle_.empty()) {
            PgConnPtr c = std::move(idle_.back());
            idle_.pop_back();
            ++in_use_;
            g.unlock();
            r.resume(nullptr, std::move(c));
          } else if (total_ < max_) {
            ++total_;  // a slot: the caller connects below
            ++in_use_;
            g.unlock();
            r.resume(nullptr, nullptr);
          } else {
            waiters_.push_back(std::move(r));
          }
        });
    if (!c) {  // we own an empty slot
      try {
        c = co_await connect();
      } catch (...) {
        give_back_slot();
        throw;
      }
    }
    co_return c;
  }

  void release(PgConnPtr c) {
    if (!c->reusable()) {
      c.reset();  // PQfinish; the slot goes to a waiter, who connects anew
      give_back_slot();
      return;
    }
    std::unique_lock g(mutex_);
    if (closed_) {
      --total_;
      --in_use_;
      return;
    }
    if (!waiters_.empty()) {
      auto next = std::move(waiters_.front());
      waiters_.pop_front();
      g.unlock();
      next.resume(nullptr, std::move(c));  // stays in use: handed straight over
      return;
    }
    idle_.push_back(std::move(c));
    --in_use_;
  }

  void close() {
    std::vector<PgConnPtr> idle;
    std::deque<Resumer<void(std::exception_ptr, PgConnPtr)>> waiters;
    {
      std::lock_guard g(mutex_);
      closed_ = true;
      idle.swap(idle_);
      waiters.swap(waiters_);
      total_ -= idle.size();
    }
    for (auto& w : waiters) {
      w.resume(std::make_exception_ptr(DbError(DbError::Kind::connection, "postgres: pool closed")), nullptr);
    }
  }

  std::size_t size() const {
    std::lock_guard g(mutex_);
    return total_;
  }
  std::size_t in_use() const {
    std::lock_guard g(mutex_);
    return in_use_;
  }
  std::size_t max() const { return max_; }

 private:
  void give_back_slot() {
    std::unique_lock g(mutex_);
    if (!waiters_.empty() && !closed_) {
      auto next = std::move(waiters_.front());
      waiters_.pop_front();
      g.unlock();
      next.resume(nullptr, nullptr);  // the waiter inherits the slot and connects
      return;
    }
    --total_;
    --in_use_;
  }

  Task<PgConnPtr> connect() {
    auto c = std::make_unique<PgConn>();
    c->conn = PQconnectStart(url_.c_str());
    if (c->conn == nullptr) {
      throw DbError(DbError::Kind::connection, "postgres: out of memory");
    }
    if (PQstatus(c->conn) == CONNECTION_BAD) {
      throw connection_error(*c, "connect");
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, kConnectTimeout);
    auto winner = co_await (connect_steps(*c) || timer.async_wait(asio::use_awaitable));
    if (winner.index() == 1) {
      throw DbError(DbError::Kind::connection, "postgres: connect timed out");
    }
    if (auto failure = std::get<0>(winner)) {
      std::rethrow_exception(failure);
    }
    if (PQsetnonblocking(c->conn, 1) != 0) {
      throw connection_error(*c, "set non-blocking");
    }
    c->prepare = prepare_;
    if (!schema_ready_.load()) {
      try {
        co_await run_query(*c, "CREATE SCHEMA IF NOT EXISTS " + quote_ident(schema_), {});
      } catch (const DbError& e) {
        // Two connections creating the schema at the same moment: the loser sees a duplicate.
        if (e.kind != DbError::Kind::unique_violation &&
            std::string_view(e.what()).find("42P06") == std::string_view::npos) {
          throw;
        }
      }
      schema_ready_ = true;
    }
    co_await run_query(*c, "SET search_path TO " + quote_ident(schema_), {});
    co_return c;
  }

  const std::string url_;
  const std::string schema_;
  const std::size_t max_;
  const bool prepare_;
  std::atomic<bool> schema_ready_{false};
  mutable std::mutex mutex_;
  bool closed_ = false;
  std::size_t total_ = 0;   // open or being opened
  std::size_t in_use_ = 0;  // handed out (including slots being connected)
  std::vector<PgConnPtr> idle_;
  std::deque<Resumer<void(std::exception_ptr, PgConnPtr)>> waiters_;
};

// Returns the connection to the pool when the scope ends, however it ends.
class Lease {
 public:
  Lease(PgPool& pool, PgConnPtr c) : pool_(pool), conn_(std::move(c)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    if (conn_) {
      pool_.release(std::move(conn_));
    }
  }
  PgConn& operator*() const { return *conn_; }

 private:
  PgPool& pool_;
  PgConnPtr conn_;
};

class PgTx final : public Tx {
 public:
  explicit PgTx(PgConn& c) : conn_(c) {}
  Task<Result> exec(std::string_view sql, Params params) override {
    co_return co_await run_query(conn_, sql, params);
  }
  Engine engine() const override { return Engine::postgres; }

 private:
  PgConn& conn_;
};

bool is_retryable(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const DbError& err) {
    return err.retryable();
  } catch (...) {
    return false;
  }
}

class PgDatabase final : public Database {
 public:
  PgDatabase(std::string url, std::string schema, std::size_t pool_size, bool prepare)
      : schema_(schema), pool_(std::move(url), std::move(schema), pool_size, prepare) {}

  ~PgDatabase() override { close(); }

  Task<void> start() { Lease lease(pool_, co_await pool_.acquire()); }

  Engine engine() const override { return Engine::postgres; }
  const std::string& schema() const override { return schema_; }

  Task<Result> exec(std::string_view sql_view, Params params) override {
    const std::string sql(sql_view);
    Lease lease(pool_, co_await pool_.acquire());
    co_return co_await run_query(*lease, sql, params);
  }

  Task<void> transaction(std::function<Task<void>(Tx&)> fn, int max_attempts) override {
    max_attempts = std::max(max_attempts, 1);
    for (int attempt = 1;; ++attempt) {
      std::exception_ptr failure;
      {
        Lease lease(pool_, co_await pool_.acquire());
        try {
          co_await run_query(*lease, "BEGIN", {});
        } catch (const DbError& e) {
          // Nothing ran yet, so a pooled connection that died while idle (server restart, failover)
          // is safe to replace: the lease discards it and the next attempt gets a fresh one.
          if (e.kind == DbError::Kind::connection && attempt < max_attempts) {
            continue;
          }
          throw;
        }
        try {
          PgTx tx(*lease);
          co_await fn(tx);
          co_await run_query(*lease, "COMMIT", {});
          co_return;
        } catch (...) {
          failure = std::current_exception();
        }
        PgConn& c = *lease;
        if (!c.busy && !c.broken && PQtransactionStatus(c.conn) != PQTRANS_IDLE) {
          try {
            co_await run_query(c, "ROLLBACK", {});
          } catch (const DbError&) {
            c.broken = true;  // the lease discards it
          }
        }
      }
      if (attempt >= max_attempts || !is_retryable(failure)) {
        std::rethrow_exception(failure);
      }
      co_await detail::retry_backoff(attempt);
    }
  }

  // One round trip for all statements. libpq runs everything up to the Sync as one implicit
  // transaction, so an error aborts (and rolls back) the whole batch. New cacheable texts are
  // prepared in the same round trip (Parse queued before their Bind/Execute); if a cached statement
  // turned out stale, the batch (rolled back) runs once more with it re-prepared.
  Task<std::vector<Result>> pipeline(std::vector<std::pair<std::string, Params>> stmts) override {
    if (stmts.empty()) {
      co_return std::vector<Result>{};
    }
    Lease lease(pool_, co_await pool_.acquire());
    PgConn& c = *lease;
    for (int attempt = 0;; ++attempt) {
      if (!c.stale.empty()) {
        co_await deallocate_stale(c);
      }
      bool stale = false;
      try {
        co_return co_await pipeline_once(c, stmts, stale);
      } catch (const DbError&) {
        if (attempt >= 1 || !stale || c.broken || PQtransactionStatus(c.conn) != PQTRANS_IDLE) {
          throw;
        }
      }
    }
  }

  Task<bool> ping() override {
    try {
      asio::steady_timer timer(co_await asio::this_coro::executor, kPingTimeout);
      auto winner = co_await (ping_once() || timer.async_wait(asio::use_awaitable));
      co_return winner.index() == 0 && std::get<0>(winner);
    } catch (const std::exception&) {
      co_return false;
    }
  }

  std::size_t pool_size() const override { return pool_.size(); }
  std::size_t pool_in_use() const override { return pool_.in_use(); }

  void close() override { pool_.close(); }

 private:
  struct PipelineStep {
    std::string name;      // empty: unnamed
    bool prepare = false;  // a Parse for `name` is queued before the execution
    bool cached = false;   // `name` came from the cache (may be stale)
  };

  // Sends the batch and reads it back; on a stale cached statement drops it from the cache.
  // `stale` tells whether the error came from a stale cached statement (the batch may be rerun).
  static Task<std::vector<Result>> pipeline_once(PgConn& c,
                                                 const std::vector<std::pair<std::string, Params>>& stmts,
                                                 bool& stale) {
    std::vector<Result> out(stmts.size());
    std::vector<PipelineStep> steps(stmts.size());
    std::unordered_map<std::string, std::string> pending;  // prepared in this batch
    for (std::size_t i = 0; i < stmts.size(); ++i) {
      const std::string& sql = stmts[i].first;
      if (!c.prepare || !cacheable_sql(sql)) {
        continue;
      }
      if (auto it = c.prepared.find(sql); it != c.prepared.end()) {
        steps[i].name = it->second;
        steps[i].cached = true;
      } else if (auto pit = pending.find(sql); pit != pending.end()) {
        steps[i].name = pit->second;
      } else if (c.prepared.size() + pending.size() < kMaxPrepared) {
        steps[i].name = new_statement_name(c);
        steps[i].prepare = true;
        pending.emplace(sql, steps[i].name);
      }
    }
    c.busy = true;
    if (PQenterPipelineMode(c.conn) == 0) {
      throw connection_error(c, "enter pipeline mode");
    }
    for (std::size_t i = 0; i < stmts.size(); ++i) {
      const auto& [sql, params] = stmts[i];
      const PipelineStep& step = steps[i];
      TextParams text(params);
      if (step.prepare && PQsendPrepare(c.conn, step.name.c_str(), sql.c_str(), 0, nullptr) == 0) {
        throw connection_error(c, "send prepare (pipeline)");
      }
      const int ok = step.name.empty()
                         ? PQsendQueryParams(c.conn, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                             text.values.data(), nullptr, nullptr, 0)
                         : PQsendQueryPrepared(c.conn, step.name.c_str(), static_cast<int>(params.size()),
                                               text.values.data(), nullptr, nullptr, 0);
      if (ok == 0) {
        throw connection_error(c, "send (pipeline)");
      }
    }
    if (PQpipelineSync(c.conn) == 0) {
      throw connection_error(c, "pipeline sync");
    }
    co_await flush(c);
    std::optional<DbError> error;
    for (std::size_t i = 0; i < stmts.size(); ++i) {
      const PipelineStep& step = steps[i];
      if (step.prepare) {  // the Parse's own result comes first
        bool prepared = false;
        for (;;) {
          PgResult r = co_await next_result(c);
          if (!r) {
            break;
          }
          const ExecStatusType st = PQresultStatus(r.get());
          if (st == PGRES_COMMAND_OK) {
            prepared = true;  // named statements outlive the batch's transaction, even when it aborts
          } else if (st != PGRES_PIPELINE_ABORTED && !error) {
            error = result_error(c, r.get());
          }
        }
        if (prepared) {
          c.prepared.emplace(stmts[i].first, step.name);
        }
      }
      for (;;) {
        PgResult r = co_await next_result(c);
        if (!r) {
          break;  // end of statement i
        }
        const ExecStatusType st = PQresultStatus(r.get());
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
          out[i] = convert_result(r.get());
        } else if (st == PGRES_PIPELINE_ABORTED) {
          if (!error) {
            error = DbError(DbError::Kind::other, "postgres: pipeline aborted");
          }
        } else if (st != PGRES_EMPTY_QUERY) {
          if (!error) {
            error = result_error(c, r.get());
            if (step.cached && is_stale_statement(*error)) {
              stale = true;
              c.prepared.erase(stmts[i].first);
              if (still_allocated(*error)) {
                c.stale.push_back(step.name);
              }
            }
          }
        }
      }
    }
    PgResult sync = co_await next_result(c);
    if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
      throw connection_error(c, "pipeline: expected sync");
    }
    if (PQexitPipelineMode(c.conn) == 0) {
      throw connection_error(c, "exit pipeline mode");
    }
    c.busy = false;
    if (error) {
      throw *error;
    }
    co_return out;
  }

  Task<bool> ping_once() {  // never throws: see wait_socket_ec on operator||
    try {
      Lease lease(pool_, co_await pool_.acquire());
      Result r = co_await run_query(*lease, "SELECT 1", {});
      co_return r.rows.size() == 1 && r.rows[0].i64(0) == 1;
    } catch (const std::exception&) {
      co_return false;
    }
  }

  std::string schema_;
  PgPool pool_;
};

// Takes the adapter's own `prepare=on|off` query parameter out of the URL (libpq rejects unknown
// ones) and returns the rest.
std::string take_prepare_option(const std::string& url, bool& prepare) {
  const std::size_t q = url.find('?');
  if (q == std::string::npos) {
    return url;
  }
  std::string kept;
  std::size_t pos = q + 1;
  while (pos <= url.size()) {
    std::size_t amp = url.find('&', pos);
    if (amp == std::string::npos) {
      amp = url.size();
    }
    const std::string_view item(url.data() + pos, amp - pos);
    if (item.substr(0, 8) == "prepare=") {
      const std::string_view v = item.substr(8);
      if (v == "off" || v == "false" || v == "0") {
        prepare = false;
      } else if (v == "on" || v == "true" || v == "1") {
        prepare = true;
      } else {
        throw std::invalid_argument("database url: prepare must be on or off");
      }
    } else if (!item.empty()) {
      kept += kept.empty() ? "" : "&";
      kept += item;
    }
    pos = amp + 1;
  }
  return kept.empty() ? url.substr(0, q) : url.substr(0, q + 1) + kept;
}

}  // namespace

namespace detail {

Task<DatabasePtr> open_postgres(Executor, const OpenOptions& opts) {
  bool prepare = true;
  std::string url = take_prepare_option(opts.url, prepare);
  auto db = std::make_shared<PgDatabase>(std::move(url), opts.schema,
                                         static_cast<std::size_t>(opts.pool_size), prepare);
  co_await db->start();
  co_return db;
}

}  // namespace detail

}  // namespace tiketi::store
