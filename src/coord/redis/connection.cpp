// hiredis 0.14 on Asio. hiredis has no Asio adapter, so this is one: its ev hooks (addRead, delRead,
// addWrite, delWrite, cleanup) arm one-shot async_waits on a stream_descriptor that wraps (but does
// not own) the hiredis socket, and every wait is re-armed after hiredis handled the event.
//
// Pitfalls this file is built around:
// - hiredis frees the context itself on disconnect, from inside redisAsyncHandleRead/Write; the
//   cleanup hook is our signal, after which `ac` is gone. Wait handlers carry a generation number
//   and a shared_ptr to Impl, so a handler that runs after cleanup or after a reconnect does
//   nothing, and Impl is only destroyed once every pending handler has run.
// - The descriptor is released (never closed) by us: hiredis closes the fd.
// - hiredis calls every pending reply callback with a NULL reply when the connection goes away;
//   those become ConnectionError for the awaiting coroutine.
// - All hiredis calls happen on one strand, because a context is not thread-safe.
#include "coord/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>

namespace tiketi::coord::redis {
namespace {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

Reply convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return Reply{static_cast<std::int64_t>(r->integer)};
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return Reply{std::string(r->str, r->len)};
    case REDIS_REPLY_ARRAY: {
      ReplyArray a;
      a.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        a.push_back(convert(r->element[i]));
      }
      return Reply{std::move(a)};
    }
    default:
      return Reply{};
  }
}

}  // namespace

Url parse_url(const std::string& text) {
  const std::string scheme = "redis://";
  if (text.rfind(scheme, 0) != 0) {
    throw std::invalid_argument("redis url must start with redis://: " + text);
  }
  Url u;
  std::string rest = text.substr(scheme.size());
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = auth.find(':');
    u.password = colon == std::string::npos ? auth : auth.substr(colon + 1);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      try {
        u.db = std::stoi(db);
      } catch (const std::exception&) {
        throw std::invalid_argument("redis url has a bad database number: " + text);
      }
    }
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    try {
      u.port = std::stoi(rest.substr(colon + 1));
    } catch (const std::exception&) {
      throw std::invalid_argument("redis url has a bad port: " + text);
    }
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) {
    u.host = rest;
  }
  if (u.port <= 0 || u.port > 65535) {
    throw std::invalid_argument("redis url has a bad port: " + text);
  }
  return u;
}

struct Connection::Impl : std::enable_shared_from_this<Impl> {
  enum class State { disconnected, connecting, connected, closed };
  struct Queued {
    std::vector<std::string> args;
    Callback cb;  // empty for push commands
    Clock::time_point deadline;
  };

  Impl(Executor ex, Options o)
      : strand(asio::make_strand(ex)),
        opts(std::move(o)),
        sd(strand),
        retry_timer(strand),
        sweep_timer(strand),
        connect_timer(strand) {}

  ~Impl() {
    if (ac != nullptr) {
      // Only at teardown without close(): drop the callbacks instead of resuming coroutines.
      destroying = true;
      redisAsyncFree(ac);
    }
  }

  asio::strand<Executor> strand;
  Options opts;
  redisAsyncContext* ac = nullptr;
  asio::posix::stream_descriptor sd;
  asio::steady_timer retry_timer;
  asio::steady_timer sweep_timer;
  asio::steady_timer connect_timer;
  State state = State::disconnected;
  std::atomic<bool> is_connected{false};
  std::uint64_t gen = 0;  // bumped per context so stale wait handlers do nothing
  bool want_read = false, want_write = false, read_armed = false, write_armed = false;
  bool destroying = false;
  bool sweeping = false;
  int backoff_ms = 50;
  std::deque<Queued> queue;
  Callback first_connect;  // completes open()

  // ---- ev hooks (called by hiredis on the strand) ----
  static void ev_add_read(void* p) {
    auto* i = static_cast<Impl*>(p);
    i->want_read = true;
    i->arm_read();
  }
  static void ev_del_read(void* p) { static_cast<Impl*>(p)->want_read = false; }
  static void ev_add_write(void* p) {
    auto* i = static_cast<Impl*>(p);
    i->want_write = true;
    i->arm_write();
  }
  static void ev_del_write(void* p) { static_cast<Impl*>(p)->want_write = false; }
  static void ev_cleanup(void* p) {
    auto* i = static_cast<Impl*>(p);
    i->ac = nullptr;
    i->want_read = i->want_write = i->read_armed = i->write_armed = false;
    ++i->gen;
    if (i->sd.is_open()) {
      boost::system::error_code ec;
      i->sd.cancel(ec);
      i->sd.release();
    }
  }

  void arm_read() {
    if (read_armed || ac == nullptr || !want_read) {
      return;
    }
    read_armed = true;
    sd.async_wait(asio::posix::descriptor_base::wait_read,
                  [self = shared_from_this(), g = gen](boost::system::error_code ec) {
                    if (g != self->gen) {
                      return;
                    }
                    self->read_armed = false;
                    if (ec || self->ac == nullptr || !self->want_read) {
                      return;
                    }
                    redisAsyncHandleRead(self->ac);  // may free the context (cleanup hook)
                    self->arm_read();
                  });
  }

  void arm_write() {
    if (write_armed || ac == nullptr || !want_write) {
      return;
    }
    write_armed = true;
    sd.async_wait(asio::posix::descriptor_base::wait_write,
                  [self = shared_from_this(), g = gen](boost::system::error_code ec) {
                    if (g != self->gen) {
                      return;
                    }
                    self->write_armed = false;
                    if (ec || self->ac == nullptr || !self->want_write) {
                      return;
                    }
                    redisAsyncHandleWrite(self->ac);
                    self->arm_write();
                  });
  }

  // ---- hiredis callbacks ----
  static void on_reply(redisAsyncContext* c, void* r, void* priv) {
    std::unique_ptr<Callback> cb(static_cast<Callback*>(priv));
    auto* self = static_cast<Impl*>(c->data);
    if (self == nullptr || self->destroying || !cb || !*cb) {
      return;
    }
    if (r == nullptr) {
      (*cb)(std::make_exception_ptr(ConnectionError("redis connection lost")), Reply{});
      return;
    }
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply->type == REDIS_REPLY_ERROR) {
      (*cb)(std::make_exception_ptr(RedisError(std::string(reply->str, reply->len))), Reply{});
      return;
    }
    (*cb)(nullptr, convert(reply));
  }

  static void on_push_reply(redisAsyncContext* c, void* r, void*) {
    auto* self = static_cast<Impl*>(c->data);
    if (self == nullptr || self->destroying || r == nullptr || !self->opts.on_push) {
      return;
    }
    self->opts.on_push(convert(static_cast<const redisReply*>(r)));
  }

  static void on_connect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<Impl*>(c->data);
    if (status != REDIS_OK) {
      // hiredis frees the context right after this returns; handle the failure afterwards.
      std::string why = c->errstr != nullptr ? c->errstr : "connect failed";
      if (auto s = self->weak_from_this().lock()) {
        asio::post(self->strand, [s, why] { s->connect_failed(why); });
      }
      return;
    }
    self->connect_timer.cancel();
    self->state = State::connected;
    self->is_connected = true;
    self->backoff_ms = 50;
    if (!self->opts.url.password.empty()) {
      self->send({"AUTH", self->opts.url.password}, Callback{}, false);
    }
    if (!self->opts.url.client_name.empty()) {
      self->send({"CLIENT", "SETNAME", self->opts.url.client_name}, Callback{}, false);
    }
    if (self->opts.url.db != 0) {
      self->send({"SELECT", std::to_string(self->opts.url.db)}, Callback{}, false);
    }
    if (self->opts.on_connected) {
      self->opts.on_connected();
    }
    auto queued = std::move(self->queue);
    self->queue.clear();
    for (auto& q : queued) {
      const bool push = !q.cb;
      self->send(std::move(q.args), std::move(q.cb), push);
    }
    if (self->first_connect) {
      auto done = std::move(self->first_connect);
      self->first_connect = nullptr;
      done(nullptr, Reply{});
    }
  }

  static void on_disconnect(const redisAsyncContext* c, int) {
    auto* self = static_cast<Impl*>(c->data);
    self->is_connected = false;
    if (self->state != State::closed && !self->destroying) {
      self->state = State::disconnected;
      // The context is freed after this returns; reconnect from a fresh handler.
      if (auto s = self->weak_from_this().lock()) {
        asio::post(self->strand, [s] { s->schedule_reconnect(); });
      }
    }
  }

  // ---- state machine (strand) ----
  void start_connect() {
    if (state == State::closed || state == State::connecting || state == State::connected) {
      return;
    }
    redisAsyncContext* c = redisAsyncConnect(opts.url.host.c_str(), opts.url.port);
    if (c == nullptr || c->err != 0) {
      std::string why = c != nullptr && c->errstr != nullptr ? c->errstr : "cannot allocate context";
      if (c != nullptr) {
        redisAsyncFree(c);
      }
      connect_failed(why);
      return;
    }
    ac = c;
    ++gen;
    c->data = this;
    c->ev.data = this;
    c->ev.addRead = &Impl::ev_add_read;
    c->ev.delRead = &Impl::ev_del_read;
    c->ev.addWrite = &Impl::ev_add_write;
    c->ev.delWrite = &Impl::ev_del_write;
    c->ev.cleanup = &Impl::ev_cleanup;
    sd.assign(c->c.fd);
    state = State::connecting;
    redisAsyncSetDisconnectCallback(c, &Impl::on_disconnect);
    // Must come last: it arms the first write wait, which is how a finished connect shows up.
    redisAsyncSetConnectCallback(c, &Impl::on_connect);
    connect_timer.expires_after(opts.connect_timeout);
    connect_timer.async_wait([self = shared_from_this(), g = gen](boost::system::error_code ec) {
      if (ec || g != self->gen || self->state != State::connecting || self->ac == nullptr) {
        return;
      }
      redisAsyncFree(self->ac);  // not connected yet: no callbacks to run, cleanup resets us
      self->connect_failed("connect timeout");
    });
  }

  void connect_failed(const std::string& why) {
    if (state == State::closed) {
      return;
    }
    state = State::disconnected;
    if (first_connect) {
      auto done = std::move(first_connect);
      first_connect = nullptr;
      done(std::make_exception_ptr(ConnectionError("cannot connect to redis " + opts.url.host + ":" +
                                                   std::to_string(opts.url.port) + ": " + why)),
           Reply{});
      return;
    }
    schedule_reconnect();
  }

  void schedule_reconnect() {
    if (state != State::disconnected) {
      return;
    }
    retry_timer.expires_after(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 1'000);
    retry_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) {
        self->start_connect();
      }
    });
  }

  void send(std::vector<std::string> args, Callback cb, bool push) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    int rc = REDIS_ERR;
    if (ac != nullptr) {
      if (push) {
        rc = redisAsyncCommandArgv(ac, &Impl::on_push_reply, nullptr, static_cast<int>(argv.size()),
                                   argv.data(), lens.data());
      } else {
        auto* priv = new Callback(std::move(cb));
        rc = redisAsyncCommandArgv(ac, &Impl::on_reply, priv, static_cast<int>(argv.size()), argv.data(),
                                   lens.data());
        if (rc != REDIS_OK) {
          cb = std::move(*priv);
          delete priv;
        }
      }
    }
    if (rc != REDIS_OK && cb) {
      cb(std::make_exception_ptr(ConnectionError("redis connection not available")), Reply{});
    }
  }

  void submit(std::vector<std::string> args, Callback cb, bool push) {
    if (state == State::connected) {
      send(std::move(args), std::move(cb), push);
      return;
    }
    if (state == State::closed) {
      if (cb) {
        cb(std::make_exception_ptr(ConnectionError("redis connection closed")), Reply{});
      }
      return;
    }
    // Wait for the reconnect, but only for a bounded time.
    queue.push_back({std::move(args), std::move(cb), Clock::now() + opts.reconnect_wait});
    if (state == State::disconnected) {
      start_connect();
    }
    start_sweep();
  }

  void start_sweep() {
    if (sweeping) {
      return;
    }
    sweeping = true;
    sweep_timer.expires_after(std::chrono::milliseconds(50));
    sweep_timer.async_wait([self = shared_from_this()](boost::system::error_code) {
      self->sweeping = false;
      const auto now = Clock::now();
      while (!self->queue.empty() && (self->queue.front().deadline <= now || self->state == State::closed)) {
        auto q = std::move(self->queue.front());
        self->queue.pop_front();
        if (q.cb) {
          q.cb(std::make_exception_ptr(ConnectionError("redis unavailable: reconnect timed out")), Reply{});
        }
      }
      if (!self->queue.empty()) {
        self->start_sweep();
      }
    });
  }

  void close() {
    if (state == State::closed) {
      return;
    }
    state = State::closed;
    is_connected = false;
    retry_timer.cancel();
    connect_timer.cancel();
    for (auto& q : queue) {
      if (q.cb) {
        q.cb(std::make_exception_ptr(ConnectionError("redis connection closed")), Reply{});
      }
    }
    queue.clear();
    if (first_connect) {
      auto done = std::move(first_connect);
      first_connect = nullptr;
      done(std::make_exception_ptr(ConnectionError("redis connection closed")), Reply{});
    }
    if (ac != nullptr) {
      // Replies already in flight still arrive; hiredis frees the context after the last one.
      redisAsyncDisconnect(ac);
    }
  }
};

namespace {
// The completion carries the error as a value: rethrowing after the co_await (not inside it)
// keeps clear of g++ 12 destroying co_await temporaries twice on the exception path.
struct Outcome {
  std::exception_ptr error;
  Reply reply;
};
}  // namespace

Task<Reply> await_callback(std::function<void(Connection::Callback)> start) {
  auto initiation = [start = std::move(start)](auto handler) mutable {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    start([h](std::exception_ptr e, Reply r) {
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h, e, r = std::move(r)]() mutable { std::move (*h)(Outcome{e, std::move(r)}); });
    });
  };
  Outcome out = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Outcome)>(
      std::move(initiation), asio::use_awaitable);
  if (out.error) {
    std::rethrow_exception(out.error);
  }
  co_return std::move(out.reply);
}

Task<std::shared_ptr<Connection>> Connection::open(Executor ex, Options opts) {
  auto impl = std::make_shared<Impl>(ex, std::move(opts));
  std::function<void(Callback)> start = [impl](Callback done) {
    asio::dispatch(impl->strand, [impl, done = std::move(done)]() mutable {
      impl->first_connect = std::move(done);
      impl->start_connect();
    });
  };
  co_await await_callback(std::move(start));
  co_return std::shared_ptr<Connection>(new Connection(impl));
}

Connection::~Connection() { close(); }

void Connection::submit(std::vector<std::string> args, Callback cb) {
  asio::dispatch(impl_->strand, [impl = impl_, args = std::move(args), cb = std::move(cb)]() mutable {
    impl->submit(std::move(args), std::move(cb), false);
  });
}

void Connection::submit_push(std::vector<std::string> args) {
  asio::dispatch(impl_->strand, [impl = impl_, args = std::move(args)]() mutable {
    impl->submit(std::move(args), Callback{}, true);
  });
}

Task<Reply> Connection::command(std::vector<std::string> args) {
  return await_callback(
      [this, args = std::move(args)](Callback cb) mutable { submit(std::move(args), std::move(cb)); });
}

bool Connection::connected() const { return impl_->is_connected; }

void Connection::close() {
  if (closed_.exchange(true)) {
    return;
  }
  asio::dispatch(impl_->strand, [impl = impl_] { impl->close(); });
}

}  // namespace tiketi::coord::redis
