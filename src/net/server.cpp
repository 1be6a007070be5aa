// The only translation unit with Beast HTTP + WebSocket (compile cost: keep it that way).
//
// Shape: one io_context per thread, each with its own SO_REUSEPORT acceptor, so a connection
// lives and dies on one thread and per-worker bookkeeping needs no locks. Responses are
// serialised by hand into one reused string (Beast only parses requests).
#include "net/server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"

namespace tiketi::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadChunk = 1024;

// Request and trace ids need uniqueness, not secrecy: a per-thread splitmix64 avoids a
// getrandom() syscall per request.
std::uint64_t next_random() {
  thread_local std::uint64_t state = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<std::uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  }();
  state += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string random_hex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes * 2, '0');
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    if (i % 8 == 0) {
      v = next_random();
    }
    auto b = static_cast<unsigned>(v & 0xff);
    v >>= 8;
    out[2 * i] = kHex[b >> 4];
    out[2 * i + 1] = kHex[b & 0xf];
  }
  return out;
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool contains_token(std::string_view value, std::string_view token) {
  // Comma-separated header values ("keep-alive, Upgrade").
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) {
      part.remove_prefix(1);
    }
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) {
      part.remove_suffix(1);
    }
    if (iequals(part, token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool is_ws_upgrade(const Request& req) {
  auto upgrade = req.header("Upgrade");
  auto connection = req.header("Connection");
  return upgrade && connection && contains_token(*upgrade, "websocket") &&
         contains_token(*connection, "upgrade");
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

bool header_text_safe(std::string_view s) {
  // CR/LF in a header would let a handler (or echoed input) inject headers or split responses.
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return false;
    }
  }
  return true;
}

bool has_body(int status) { return status >= 200 && status != 204 && status != 304; }

// Serialises the status line and headers; framing headers are always ours.
void serialize_head(std::string& out, const Response& r, unsigned version, bool keep_alive, bool chunked) {
  out.clear();
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(r.status));
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\n";
  for (const auto& [k, v] : r.headers) {
    if (iequals(k, "Content-Length") || iequals(k, "Connection") || iequals(k, "Transfer-Encoding") ||
        !header_text_safe(k) || !header_text_safe(v) || k.empty()) {
      continue;
    }
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (has_body(r.status)) {
    out += "Content-Length: ";
    append_number(out, r.body.size());
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

constexpr std::array<std::string_view, 8> kMethods = {"GET",   "HEAD",   "POST",    "PUT",
                                                      "PATCH", "DELETE", "OPTIONS", "OTHER"};

std::size_t method_index(std::string_view m) {
  for (std::size_t i = 0; i + 1 < kMethods.size(); ++i) {
    if (kMethods[i] == m) {
      return i;
    }
  }
  return kMethods.size() - 1;
}

// Series for one (service, route, method): looked up in the registry once per status code,
// then a relaxed atomic load on the hot path.
class SeriesCache {
 public:
  SeriesCache(metrics::Registry& reg, std::string service, std::string route, std::string method)
      : reg_(reg), service_(std::move(service)), route_(std::move(route)), method_(std::move(method)) {}

  void record(int status, double seconds) {
    std::size_t idx = status >= 100 && status < 600 ? static_cast<std::size_t>(status - 100) : 499;
    metrics::Counter* c = by_status_[idx].load(std::memory_order_acquire);
    if (c == nullptr) {
      c = &reg_.counter("http_requests_total", "HTTP requests by route template and status",
                        {{"service", service_},
                         {"route", route_},
                         {"method", method_},
                         {"status", std::to_string(idx + 100)}});
      by_status_[idx].store(c, std::memory_order_release);
    }
    c->inc();
    metrics::Histogram* h = hist_.load(std::memory_order_acquire);
    if (h == nullptr) {
      h = &histogram();
    }
    h->observe(seconds);
  }

  metrics::Histogram& histogram() {
    auto* h = &reg_.histogram("http_request_duration_seconds", "HTTP request latency by route template",
                              {{"service", service_}, {"route", route_}, {"method", method_}});
    hist_.store(h, std::memory_order_release);
    return *h;
  }

 private:
  metrics::Registry& reg_;
  std::string service_;
  std::string route_;
  std::string method_;
  std::atomic<metrics::Histogram*> hist_{nullptr};
  std::array<std::atomic<metrics::Counter*>, 500> by_status_{};
};

struct RouteState {
  Handler handler;  // user middleware + route handler, composed once
  std::unique_ptr<SeriesCache> series;
  std::size_t max_body = 0;
  std::string service;
};

class WsConn;

struct Conn {
  enum class State { idle, reading, busy, websocket };
  beast::tcp_stream* stream = nullptr;
  State state = State::idle;
};

struct Worker {
  // Declared before the io_context: destroying the context destroys suspended coroutine frames,
  // whose guards still unregister themselves here.
  std::unordered_set<Conn*> conns;
  std::unordered_set<WsConn*> sockets;
  bool draining = false;
  bool destroying = false;  // set before the io_context is destroyed: guards must not stop it
  // Held back for EMFILE: closing it frees exactly one descriptor to take a waiting connection
  // off the backlog and refuse it, so accept never stalls when the process is out of descriptors.
  int spare_fd = -1;
  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> drain_timer;
  std::thread thread;

  ~Worker() {
    if (spare_fd >= 0) {
      ::close(spare_fd);
    }
  }
};

// 503 for connections beyond the budget: written with one non-blocking send right after accept,
// before any request byte is read, then the socket is closed.
constexpr std::string_view kOverCapacity =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: 98\r\n"
    "\r\n"
    R"({"error":{"code":"unavailable","message":"The server is at its connection limit. Retry shortly."}})";
static_assert(kOverCapacity.size() - kOverCapacity.find("\r\n\r\n") - 4 == 98, "Content-Length of kOverCapacity");

void refuse_fd(int fd) {
  ::send(fd, kOverCapacity.data(), kOverCapacity.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  // Take a request that already arrived so the close sends FIN rather than RST (an RST can make
  // the client lose the 503 before reading it). Never waits.
  char sink[2048];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
  ::close(fd);
}

thread_local const void* tl_current_server = nullptr;

}  // namespace

namespace {

// ---- WebSocket -----------------------------------------------------------------------------

// FIFO of shared messages. std::deque allocates ~600 bytes even when empty; this allocates
// nothing until used and is compacted so its size stays around the queue limit.
class SendQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  WebSocket::Message& front() { return items_[head_]; }
  void pop_front() {
    items_[head_++].reset();
    if (head_ == items_.size()) {
      std::vector<WebSocket::Message>().swap(items_);  // idle sockets keep no queue storage
      head_ = 0;
    } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void push_back(WebSocket::Message m) { items_.push_back(std::move(m)); }
  void clear() {
    items_.clear();
    items_.shrink_to_fit();
    head_ = 0;
  }

 private:
  std::vector<WebSocket::Message> items_;
  std::size_t head_ = 0;
};

// The WebSocket runs directly on the socket (no beast::tcp_stream: the WebSocket stream has its own
// handshake/idle timers, and tcp_stream would add a second heap object and two more timers per
// socket) and without permessage-deflate (no zlib state, no write buffer per socket).
using WsStream = websocket::stream<tcp::socket, false>;

class WsConn final : public WebSocket, public std::enable_shared_from_this<WsConn> {
 public:
  WsConn(tcp::socket&& s, std::uint64_t id, std::size_t queue_limit)
      : ws_(std::move(s)),
        ex_(ws_.get_executor()),
        id_(id),
        queue_limit_(std::max<std::size_t>(1, queue_limit)) {}

  Task<bool> accept(const bhttp::request<bhttp::string_body>& req, std::size_t max_message, int idle_ms) {
    websocket::stream_base::timeout t;
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = std::chrono::milliseconds(idle_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(max_message);
    ws_.auto_fragment(false);
    auto [ec] = co_await ws_.async_accept(req, nothrow);
    if (ec) {
      open_ = false;
      co_return false;
    }
    co_return true;
  }

  Task<std::optional<std::string>> read() override {
    if (!open_.load(std::memory_order_relaxed)) {
      co_return std::nullopt;
    }
    // An idle socket spends its life waiting here, so the wait holds only a small buffer inside
    // this frame: Beast's dynamic-buffer read would allocate 1.5 KB per socket before the first
    // byte arrives. The message grows into `out` only once data is there (bounded by
    // read_message_max, which Beast enforces per frame header).
    std::array<char, 64> first;  // a heartbeat or status request fits
    auto [ec, n] = co_await ws_.async_read_some(asio::buffer(first), nothrow);
    if (ec) {
      fail();
      co_return std::nullopt;
    }
    std::string out(first.data(), n);
    while (!ws_.is_message_done()) {
      const std::size_t old = out.size();
      const std::size_t chunk = std::clamp<std::size_t>(old, 512, 64 * 1024);
      out.resize(old + chunk);
      auto [ec2, n2] = co_await ws_.async_read_some(asio::buffer(out.data() + old, chunk), nothrow);
      out.resize(old + n2);
      if (ec2) {
        fail();
        co_return std::nullopt;
      }
    }
    co_return out;
  }

  void send(Message msg) override {
    if (!msg || !open_.load(std::memory_order_relaxed)) {
      return;
    }
    asio::dispatch(
        ex_, [self = shared_from_this(), m = std::move(msg)]() mutable { self->enqueue(std::move(m)); });
  }

  void close(std::uint16_t code, std::string reason) override {
    asio::dispatch(ex_, [self = shared_from_this(), code, r = std::move(reason)]() mutable {
      self->begin_close(code, std::move(r), false);
    });
  }

  bool is_open() const override { return open_.load() && !closing_.load(); }
  Executor executor() const override { return ex_; }
  std::uint64_t id() const override { return id_; }
  bool transport_open() const { return open_.load(); }

  // On the socket's executor. `abort` drops queued messages and forces the TCP close if the
  // peer does not take the close frame quickly (slow consumers, server drain).
  void begin_close(std::uint16_t code, std::string reason, bool abort) {
    if (!open_ || closing_) {
      return;
    }
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (abort) {
      queue_.clear();
      asio::co_spawn(ex_, hard_close_after(shared_from_this(), std::chrono::seconds(1)), asio::detached);
    }
    if (!writing_) {
      writing_ = true;
      write_next();
    }
  }

 private:
  void fail() {
    open_ = false;
    queue_.clear();
  }

  void enqueue(Message m) {
    if (!open_ || closing_) {
      return;
    }
    if (queue_.size() >= queue_limit_) {
      // Behind: lose the oldest update (newer state supersedes it); far behind: disconnect so
      // one stalled client can never grow memory.
      queue_.pop_front();
      if (++dropped_ >= queue_limit_) {
        begin_close(1013, "slow consumer", true);
        return;
      }
    }
    queue_.push_back(std::move(m));
    if (!writing_) {
      writing_ = true;
      write_next();
    }
  }

  // The write chain, on the socket's executor while writing_ is set: one queued message at a time,
  // then the close frame when one is due. Plain completion handlers, not a coroutine: a fan-out
  // starts one of these on every idle socket per tick, and co_spawn would allocate a coroutine
  // frame and its spawn state per send on top of Beast's write operation.
  void write_next() {
    if (!queue_.empty() && open_) {
      Message m = std::move(queue_.front());
      queue_.pop_front();
      const auto* text = m.get();
      ws_.async_write(asio::buffer(*text), [self = shared_from_this(), m = std::move(m)](error_code ec, std::size_t) {
        if (ec) {
          self->fail();
        }
        self->write_next();
      });
      return;
    }
    if (queue_.empty()) {
      dropped_ = 0;
    }
    if (closing_ && open_ && !close_sent_) {
      close_sent_ = true;
      ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                      [self = shared_from_this()](error_code) {
                        self->open_ = false;
                        self->writing_ = false;
                      });
      return;
    }
    writing_ = false;
  }

  static Task<void> hard_close_after(std::shared_ptr<WsConn> self, std::chrono::milliseconds d) {
    asio::steady_timer t(self->ex_);
    t.expires_after(d);
    co_await t.async_wait(nothrow);
    if (self->open_) {
      self->fail();
      error_code ignored;
      beast::get_lowest_layer(self->ws_).close(ignored);
    }
  }

  WsStream ws_;
  Executor ex_;
  std::uint64_t id_;
  std::size_t queue_limit_;
  SendQueue queue_;
  std::size_t dropped_ = 0;
  bool writing_ = false;
  bool close_sent_ = false;
  std::uint16_t close_code_ = 1000;
  std::string close_reason_;
  std::atomic<bool> open_{true};
  std::atomic<bool> closing_{false};
};

// ---- SSE -----------------------------------------------------------------------------------

class ChunkedStream final : public ResponseStream {
 public:
  ChunkedStream(beast::tcp_stream& s, const Worker& w, bool chunked, int write_timeout_ms)
      : stream_(s), worker_(w), chunked_(chunked), write_timeout_ms_(write_timeout_ms) {}

  Task<bool> write(std::string chunk) override {
    if (!open()) {
      co_return false;
    }
    if (chunk.empty()) {
      co_return true;  // an empty chunk would end the body
    }
    std::string size_line;
    if (chunked_) {
      char buf[20];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), chunk.size(), 16);
      size_line.assign(buf, end);
      size_line += "\r\n";
    }
    std::array<asio::const_buffer, 3> bufs{
        asio::buffer(size_line), asio::buffer(chunk),
        asio::buffer(chunked_ ? std::string_view("\r\n") : std::string_view())};
    stream_.expires_after(std::chrono::milliseconds(write_timeout_ms_));
    auto [ec, n] = co_await asio::async_write(stream_, bufs, nothrow);
    stream_.expires_never();
    if (ec) {
      open_ = false;
    }
    co_return !ec;
  }
  bool open() const override { return open_ && !worker_.draining; }
  Executor executor() const override { return stream_.get_executor(); }
  bool transport_open() const { return open_; }

 private:
  beast::tcp_stream& stream_;
  const Worker& worker_;
  bool chunked_;
  int write_timeout_ms_;
  bool open_ = true;
};

}  // namespace

// ---- Server::Impl --------------------------------------------------------------------------

struct Server::Impl {
  ServerOptions opts;
  Router router;
  metrics::Registry& registry;
  std::shared_ptr<std::atomic<std::size_t>> active = std::make_shared<std::atomic<std::size_t>>(0);
  std::shared_ptr<std::atomic<std::size_t>> ws_count = std::make_shared<std::atomic<std::size_t>>(0);
  std::atomic<std::uint64_t> next_ws_id{1};
  std::vector<Middleware> user_mws;
  std::vector<Check> checks;
  // Effective connection budget (set by start()); atomic so the gauge may read it from any thread.
  std::shared_ptr<std::atomic<std::size_t>> conn_limit = std::make_shared<std::atomic<std::size_t>>(0);
  metrics::Counter* refused_budget = nullptr;
  metrics::Counter* refused_exhausted = nullptr;
  std::once_flag finalized;
  bool is_finalized = false;
  std::vector<RouteState> routes;
  std::array<std::unique_ptr<SeriesCache>, kMethods.size()> unmatched_series;
  std::array<std::unique_ptr<SeriesCache>, kMethods.size()> static_series;
  std::unique_ptr<RateLimiter> limiter;
  bool cors_any = false;
  std::size_t parser_body_limit = 0;
  std::uint16_t bound_port = 0;
  bool started = false;
  std::atomic<bool> stopping{false};
  std::mutex join_mu;
  std::vector<std::unique_ptr<Worker>> workers;  // last: destroyed first

  Impl(ServerOptions o, Router r, metrics::Registry& reg)
      : opts(std::move(o)), router(std::move(r)), registry(reg) {
    std::size_t n =
        opts.threads > 0 ? static_cast<std::size_t>(opts.threads) : std::thread::hardware_concurrency();
    n = std::max<std::size_t>(1, n);
    for (std::size_t i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<Worker>());
    }
    if (opts.rate_limit_rps > 0) {
      limiter = std::make_unique<RateLimiter>(opts.rate_limit_rps, opts.rate_limit_burst);
    }
    for (const auto& o2 : opts.cors_origins) {
      cors_any = cors_any || o2 == "*";
    }
    for (std::size_t i = 0; i < kMethods.size(); ++i) {
      unmatched_series[i] =
          std::make_unique<SeriesCache>(registry, opts.service_label, "unmatched", std::string(kMethods[i]));
      static_series[i] =
          std::make_unique<SeriesCache>(registry, opts.service_label, "static", std::string(kMethods[i]));
    }
    registry.gauge_callback("websocket_connections", "Open WebSocket connections", {},
                            [c = ws_count] { return static_cast<double>(c->load()); });
    registry.gauge_callback("http_connections_active", "Open HTTP connections (including WebSockets)", {},
                            [c = active] { return static_cast<double>(c->load()); });
    registry.gauge_callback("http_connections_limit",
                            "Connection budget: min(max_connections, open-file limit - fd_reserve)", {},
                            [c = conn_limit] { return static_cast<double>(c->load()); });
    refused_budget = &registry.counter("connections_refused_total",
                                       "Connections refused at accept (503 + close), by reason",
                                       {{"reason", "fd_budget"}});
    refused_exhausted = &registry.counter("connections_refused_total",
                                          "Connections refused at accept (503 + close), by reason",
                                          {{"reason", "fd_exhausted"}});
  }

  // A draining worker stops once its last connection (HTTP or WebSocket) is gone.
  void maybe_stop(Worker& w) const {
    if (w.draining && !w.destroying && w.conns.empty() && w.sockets.empty()) {
      w.ioc.stop();
    }
  }

  ~Impl() {
    shutdown(0);
    join();
    for (auto& w : workers) {
      w->destroying = true;
    }
  }

  void finalize() {
    std::call_once(finalized, [this] {
      parser_body_limit = opts.max_body_bytes;
      for (const auto& r : router.routes()) {
        RouteState st;
        st.service = r.options.service.empty() ? opts.service_label : r.options.service;
        st.max_body = r.options.max_body > 0 ? r.options.max_body : opts.max_body_bytes;
        parser_body_limit = std::max(parser_body_limit, st.max_body);
        Handler inner = r.handler;
        if (r.ws_handler) {
          // The upgrade itself happens in the session once the chain has said yes.
          inner = [](Request&) -> Task<Response> {
            Response resp;
            resp.status = 101;
            co_return resp;
          };
        }
        st.handler = user_mws.empty() ? std::move(inner) : chain(user_mws, std::move(inner));
        st.series = std::make_unique<SeriesCache>(registry, st.service, r.templ, r.method);
        st.series->histogram();  // every route shows up in /metrics from the start
        routes.push_back(std::move(st));
      }
      is_finalized = true;
    });
  }

  // ---- the built-in chain ----

  void init_context(Request& req) const {
    auto rid = req.header("X-Request-Id");
    req.log.request_id = rid && sane_request_id(*rid) ? std::string(*rid) : random_hex(8);
    std::string parent;
    auto tp = req.header("traceparent");
    if (!tp || !parse_traceparent(*tp, req.log.trace_id, parent)) {
      req.log.trace_id = random_hex(16);
    }
    req.log.span_id = random_hex(8);
  }

  std::optional<std::string> allowed_origin(const Request& req) const {
    if (opts.cors_origins.empty()) {
      return std::nullopt;
    }
    auto origin = req.header("Origin");
    if (!origin) {
      return std::nullopt;
    }
    if (cors_any) {
      return std::string("*");
    }
    for (const auto& o : opts.cors_origins) {
      if (o == *origin) {
        return o;
      }
    }
    return std::nullopt;
  }

  void add_cors(const Request& req, Response& resp) const {
    auto origin = allowed_origin(req);
    if (!origin) {
      return;
    }
    if (*origin != "*") {
      resp.headers.emplace_back("Vary", "Origin");
      resp.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    }
    resp.headers.emplace_back("Access-Control-Allow-Origin", std::move(*origin));
    resp.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
  }

  Response preflight(const Request& req, const Match& m) const {
    Response r = Response::no_content();
    std::string methods;
    if (m.route != nullptr) {
      methods = m.route->method;
    } else if (!m.allowed.empty()) {
      for (const auto& a : m.allowed) {
        methods += methods.empty() ? a : ", " + a;
      }
    } else {
      methods = "GET, POST, PUT, PATCH, DELETE";
    }
    r.headers.emplace_back("Access-Control-Allow-Methods", std::move(methods));
    auto req_headers = req.header("Access-Control-Request-Headers");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           req_headers ? std::string(*req_headers)
                                       : "Content-Type, Authorization, Idempotency-Key, X-Admission-Token");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return r;
  }

  bool static_eligible(const Request& req) const {
    if (opts.web_root.empty() || (req.method != "GET" && req.method != "HEAD")) {
      return false;
    }
    std::string_view p = req.path;
    for (std::string_view prefix : {"/api", "/health", "/metrics"}) {
      if (p.substr(0, prefix.size()) == prefix && (p.size() == prefix.size() || p[prefix.size()] == '/')) {
        return false;
      }
    }
    return true;
  }

  // What routing decided for one request.
  struct Routed {
    const RouteState* rs = nullptr;
    SeriesCache* series = nullptr;
    bool static_candidate = false;
    SteadyClock::time_point t0;
  };

  Routed route_request(Request& req, Match& m) const {
    Routed r;
    r.t0 = SteadyClock::now();
    init_context(req);
    if (m.route != nullptr) {
      r.rs = &routes[static_cast<std::size_t>(m.route - router.routes().data())];
      req.route = m.route->templ;
      req.params = std::move(m.params);
      req.log.service = r.rs->service;
      r.series = r.rs->series.get();
    } else {
      r.static_candidate = !m.path_known && static_eligible(req);
      req.route = r.static_candidate ? "static" : "unmatched";
      req.log.service = opts.service_label;
      const auto& table = r.static_candidate ? static_series : unmatched_series;
      r.series = table[method_index(req.method)].get();
    }
    return r;
  }

  // Everything before the route handler that needs no await: CORS preflight, rate limit, 405/404,
  // static files, body limit, upgrade check, user checks. Returns the response when it is final;
  // nullopt means "run r.rs->handler". Throws ApiError.
  std::optional<Response> pre_handler(Request& req, const Match& m, const Routed& r) const {
    if (req.method == "OPTIONS" && req.header("Access-Control-Request-Method") && allowed_origin(req)) {
      // Preflight is answered before routing: the route itself does not accept OPTIONS.
      Match pm = router.match(*req.header("Access-Control-Request-Method"), req.path);
      return preflight(req, pm);
    }
    if (limiter && !req.remote_ip.empty()) {
      double now = std::chrono::duration<double>(SteadyClock::now().time_since_epoch()).count();
      if (int wait = limiter->acquire(req.remote_ip, now); wait > 0) {
        throw errors::rate_limited(wait);
      }
    }
    if (r.rs == nullptr) {
      if (m.path_known) {
        Response resp = error_response(errors::method_not_allowed(), req.log);
        std::string allow;
        for (const auto& a : m.allowed) {
          allow += allow.empty() ? a : ", " + a;
        }
        resp.headers.emplace_back("Allow", std::move(allow));
        return resp;
      }
      if (r.static_candidate) {
        if (auto st = serve_static(opts.web_root, req)) {
          return std::move(*st);
        }
      }
      throw errors::not_found("route");
    }
    if (req.body.size() > r.rs->max_body) {
      throw errors::payload_too_large(r.rs->max_body);
    }
    if (m.route->ws_handler && !is_ws_upgrade(req)) {
      throw ApiError(426, "upgrade_required", "this route only accepts WebSocket upgrades");
    }
    for (const auto& check : checks) {
      check(req);
    }
    return std::nullopt;
  }

  // After the handler: CORS, ids, metrics, access log.
  void finish(const Request& req, Response& resp, const Routed& r) const {
    add_cors(req, resp);
    set_header(resp.headers, "X-Request-Id", req.log.request_id);
    // Which process answered: lets operators and the stack tests see the gateway's routing.
    resp.headers.emplace_back("X-Tiketi-Service", opts.service_label);
    double secs = std::chrono::duration<double>(SteadyClock::now() - r.t0).count();
    r.series->record(resp.status, secs);
    if (opts.access_log && log::level() <= LogLevel::info) {
      log::info(req.log, "http_request",
                {lf("method", req.method), lf("route", req.route), lf("path", req.path),
                 lf("status", resp.status), lf("duration_ms", secs * 1000.0), lf("remote_ip", req.remote_ip),
                 lf("bytes", resp.stream ? 0UL : static_cast<unsigned long>(resp.body.size()))});
    }
  }

  // The whole chain as one coroutine (in-process dispatch). The socket session runs the same
  // steps inline so a request costs one coroutine frame: the route handler's.
  Task<Response> handle(Request& req, Match m, const ApiError* early) {
    Routed r = route_request(req, m);
    Response resp;
    try {
      if (early != nullptr) {
        throw *early;
      }
      std::optional<Response> quick = pre_handler(req, m, r);
      if (quick) {
        resp = std::move(*quick);
      } else {
        Response h = co_await r.rs->handler(req);
        resp = std::move(h);
      }
    } catch (const std::exception& e) {
      resp = error_response(e, req.log);
    } catch (...) {
      resp = error_response(std::runtime_error("non-standard exception"), req.log);
    }
    finish(req, resp, r);
    co_return resp;
  }

  // ---- sockets ----

  void start() {
    finalize();
    if (started) {
      throw std::logic_error("Server::start called twice");
    }
    std::string host = opts.listen;
    std::string port_text;
    if (auto colon = host.rfind(':'); colon != std::string::npos) {
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) {
      host = "0.0.0.0";
    } else if (host == "localhost") {
      host = "127.0.0.1";
    }
    int port = 0;
    auto [pend, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (pec != std::errc{} || pend != port_text.data() + port_text.size() || port < 0 || port > 65535) {
      throw std::invalid_argument("setting listen: bad port in '" + opts.listen + "'");
    }
    error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) {
      throw std::invalid_argument("setting listen: bad address '" + host + "'");
    }
    tcp::endpoint ep(addr, static_cast<std::uint16_t>(port));
    using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
    for (auto& w : workers) {
      tcp::acceptor a(w->ioc);
      a.open(ep.protocol());
      a.set_option(asio::socket_base::reuse_address(true));
      // Each worker has its own listening socket on the same port; the kernel spreads
      // connections across them without a shared accept lock.
      a.set_option(reuse_port(true));
      a.bind(ep, ec);
      if (ec) {
        throw std::runtime_error("bind " + opts.listen + ": " + ec.message());
      }
      a.listen(4096);
      ep.port(a.local_endpoint().port());  // port 0: the others join the port the first one got
      w->acceptor.emplace(std::move(a));
    }
    bound_port = ep.port();
    started = true;
    compute_connection_limit();
    for (auto& w : workers) {
      w->acceptor->native_non_blocking(true);  // the EMFILE path calls accept4 on it directly
      w->spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      asio::co_spawn(w->ioc, accept_loop(*w), asio::detached);
      w->thread = std::thread([this, wp = w.get()] {
        tl_current_server = this;
        for (;;) {
          try {
            wp->ioc.run();
            return;
          } catch (const std::exception& e) {
            log::error(LogContext{opts.service_label, {}, {}, {}}, "io thread exception",
                       {lf("error", e.what())});
          }
        }
      });
    }
  }

  void compute_connection_limit() {
    std::size_t limit = opts.max_connections > 0 ? opts.max_connections : SIZE_MAX;
    rlimit rl{};
    std::size_t nofile = 0;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      nofile = static_cast<std::size_t>(rl.rlim_cur);
      std::size_t by_fd = nofile > opts.fd_reserve ? nofile - opts.fd_reserve : 0;
      if (by_fd < nofile / 2) {
        // A limit too small for the reserve: still serve, with half the descriptors.
        log::warn(LogContext{opts.service_label, {}, {}, {}}, "open-file limit is below the descriptor reserve",
                  {lf("nofile", static_cast<unsigned long>(nofile)),
                   lf("fd_reserve", static_cast<unsigned long>(opts.fd_reserve))});
        by_fd = std::max<std::size_t>(1, nofile / 2);
      }
      limit = std::min(limit, by_fd);
    }
    conn_limit->store(limit);
    log::info(LogContext{opts.service_label, {}, {}, {}}, "connection budget",
              {lf("limit", static_cast<unsigned long>(limit)), lf("nofile", static_cast<unsigned long>(nofile)),
               lf("fd_reserve", static_cast<unsigned long>(opts.fd_reserve))});
  }

  // Out of descriptors (EMFILE/ENFILE): the waiting connection would stay in the backlog and
  // epoll would report it again at once. Free the spare descriptor, take the connection, refuse
  // it, and take the spare back. Returns false when nothing could be taken.
  bool shed_with_spare(Worker& w) {
    if (w.spare_fd < 0 || !w.acceptor) {
      return false;
    }
    ::close(w.spare_fd);
    w.spare_fd = -1;
    int fd = ::accept4(w.acceptor->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      refuse_fd(fd);
    }
    w.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
  }

  Task<void> accept_loop(Worker& w) {
    asio::steady_timer backoff(w.ioc);
    while (w.acceptor && w.acceptor->is_open()) {
      auto [ec, sock] = co_await w.acceptor->async_accept(nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !w.acceptor->is_open()) {
          co_return;
        }
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
          if (shed_with_spare(w)) {
            refused_exhausted->inc();
            continue;
          }
        }
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
            ec == asio::error::no_memory || ec.value() == ENFILE) {
          // Nothing could be taken (no spare, or another thread took the freed descriptor):
          // back off briefly instead of spinning.
          backoff.expires_after(std::chrono::milliseconds(10));
          co_await backoff.async_wait(nothrow);
        }
        continue;
      }
      if (active->load(std::memory_order_relaxed) >= conn_limit->load(std::memory_order_relaxed) || w.draining) {
        refuse_fd(sock.release());  // over budget: answer 503 at once rather than queue
        refused_budget->inc();
        continue;
      }
      // Counted here, not in the session, so the budget check above is exact.
      active->fetch_add(1, std::memory_order_relaxed);
      error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(w.ioc, session(w, std::move(sock)), asio::detached);
    }
  }

  std::string client_ip(const std::string& peer, const Request& req) const {
    if (opts.trust_forwarded_for) {
      if (auto xff = req.header("X-Forwarded-For")) {
        std::string_view v = *xff;
        auto comma = v.rfind(',');
        if (comma != std::string_view::npos) {
          v = v.substr(comma + 1);
        }
        while (!v.empty() && v.front() == ' ') {
          v.remove_prefix(1);
        }
        if (!v.empty()) {
          return std::string(v);
        }
      }
    }
    return peer;
  }

  static Task<void> write_error(beast::tcp_stream& stream, int status, std::string code,
                                std::string message) {
    Response r = Response::json(status, ApiError(status, std::move(code), std::move(message)).to_json());
    std::string head;
    serialize_head(head, r, 11, false, false);
    stream.expires_after(std::chrono::seconds(2));
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(r.body)};
    co_await asio::async_write(stream, bufs, nothrow);
  }

  // Close after an error response without losing it: a close with unread request bytes makes
  // the kernel send RST, which can destroy the response before the client reads it.
  static Task<void> linger_close(beast::tcp_stream& stream) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 4096> sink;
    std::size_t total = 0;
    stream.expires_after(std::chrono::milliseconds(500));
    while (!ec && total < (1u << 20)) {
      auto [e, n] = co_await stream.async_read_some(asio::buffer(sink), nothrow);
      ec = e;
      total += n;
    }
    stream.close();
  }

  static bool is_parse_error(const error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
  }

  Task<void> session(Worker& w, tcp::socket sock) {
    // `active` was counted by the accept loop; a WebSocket upgrade hands it over to its socket.
    struct Guard {
      const Impl& impl;
      Worker& w;
      Conn* c;
      bool handed_over = false;
      ~Guard() {
        w.conns.erase(c);
        if (!handed_over) {
          impl.active->fetch_sub(1, std::memory_order_relaxed);
        }
        impl.maybe_stop(w);  // last connection of a draining worker: nothing left to wait for
      }
    };
    beast::tcp_stream stream(std::move(sock));
    Conn conn{&stream, Conn::State::idle};
    w.conns.insert(&conn);
    Guard guard{*this, w, &conn};
    std::string peer;
    {
      error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) {
        peer = ep.address().to_string();
      }
    }
    beast::flat_buffer buffer;
    std::string head;
    bool linger = false;
    try {
      for (;;) {
        if (w.draining) {
          break;
        }
        conn.state = Conn::State::idle;
        if (buffer.size() == 0) {
          stream.expires_after(std::chrono::milliseconds(opts.idle_timeout_ms));
          auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), nothrow);
          if (ec) {
            break;
          }
          buffer.commit(n);
        }
        conn.state = Conn::State::reading;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(opts.max_header_bytes, UINT32_MAX)));
        parser.body_limit(parser_body_limit);
        stream.expires_after(std::chrono::milliseconds(opts.read_timeout_ms));
        auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, nothrow);
        if (hec) {
          if (hec == bhttp::error::header_limit) {
            co_await write_error(stream, 431, "header_too_large", "request headers are too large");
            unmatched_series[kMethods.size() - 1]->record(431, 0);
            linger = true;
          } else if (hec == bhttp::error::body_limit) {
            co_await write_error(stream, 413, "payload_too_large", "request body is too large");
            unmatched_series[kMethods.size() - 1]->record(413, 0);
            linger = true;
          } else if (is_parse_error(hec)) {
            co_await write_error(stream, 400, "bad_request", "malformed HTTP request");
            unmatched_series[kMethods.size() - 1]->record(400, 0);
            linger = true;
          }
          break;
        }
        auto& msg = parser.get();
        Request req;
        req.method = msg.method_string();
        req.target = msg.target();
        if (req.target.empty() || req.target.front() != '/' || (msg.version() != 10 && msg.version() != 11)) {
          co_await write_error(stream, 400, "bad_request", "request target or HTTP version not supported");
          linger = true;
          break;
        }
        parse_target(req.target, req.path, req.query);
        for (const auto& f : msg) {
          req.headers.emplace_back(f.name_string(), f.value());
        }
        req.remote_ip = client_ip(peer, req);
        Match m = router.match(req.method, req.path);
        std::size_t limit = m.route != nullptr
                                ? routes[static_cast<std::size_t>(m.route - router.routes().data())].max_body
                                : opts.max_body_bytes;
        std::optional<ApiError> early;
        bool close_after = false;
        if (!parser.is_done()) {
          auto cl = parser.content_length();
          if (cl && *cl > limit) {
            early.emplace(errors::payload_too_large(limit));
            close_after = true;
          } else {
            parser.body_limit(limit);
            if (auto expect = req.header("Expect"); expect && iequals(*expect, "100-continue")) {
              static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
              co_await asio::async_write(stream, asio::buffer(kContinue), nothrow);
            }
            auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, nothrow);
            if (bec == bhttp::error::body_limit) {
              early.emplace(errors::payload_too_large(limit));
              close_after = true;
            } else if (bec) {
              if (is_parse_error(bec)) {
                co_await write_error(stream, 400, "bad_request", "malformed HTTP request body");
                linger = true;
              }
              break;
            }
          }
        }
        if (!early) {
          req.body = std::move(msg.body());
        }
        const unsigned version = msg.version();
        bool keep_alive = msg.keep_alive() && !close_after;
        const bool is_head = req.method == "HEAD";
        const Route* route = m.route;

        conn.state = Conn::State::busy;
        stream.expires_never();
        // handle(), inline: the route handler's frame is the only coroutine frame per request.
        Routed routed = route_request(req, m);
        Response resp;
        try {
          if (early) {
            throw *early;
          }
          std::optional<Response> quick = pre_handler(req, m, routed);
          if (quick) {
            resp = std::move(*quick);
          } else {
            Response h = co_await routed.rs->handler(req);
            resp = std::move(h);
          }
        } catch (const std::exception& e) {
          resp = error_response(e, req.log);
        } catch (...) {
          resp = error_response(std::runtime_error("non-standard exception"), req.log);
        }
        finish(req, resp, routed);

        if (resp.status == 101 && route != nullptr && route->ws_handler) {
          // The socket leaves this session: the WebSocket gets its own small coroutine and this
          // frame (HTTP parser, buffers) is freed, so an idle socket keeps only what it needs.
          guard.handed_over = true;
          auto ws = std::make_shared<WsConn>(stream.release_socket(), next_ws_id.fetch_add(1),
                                             opts.ws_send_queue_limit);
          strip_handshake_headers(req);
          asio::co_spawn(w.ioc, run_websocket(w, std::move(ws), parser.release(), std::move(req), *route),
                         asio::detached);
          co_return;
        }
        keep_alive = keep_alive && !w.draining;
        if (resp.stream) {
          if (!co_await write_streamed(w, stream, resp, version, keep_alive)) {
            break;
          }
          continue;
        }
        serialize_head(head, resp, version, keep_alive, false);
        std::array<asio::const_buffer, 2> bufs{
            asio::buffer(head),
            asio::buffer(is_head || !has_body(resp.status) ? std::string_view()
                                                           : std::string_view(resp.body))};
        stream.expires_after(std::chrono::milliseconds(opts.read_timeout_ms));
        auto [wec, wn] = co_await asio::async_write(stream, bufs, nothrow);
        if (wec || !keep_alive) {
          linger = !wec && close_after;
          break;
        }
      }
    } catch (const std::exception& e) {
      log::error(LogContext{opts.service_label, {}, {}, {}}, "connection failed", {lf("error", e.what())});
    }
    if (linger) {
      co_await linger_close(stream);
    } else {
      error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream.close();
    }
  }

  Task<bool> write_streamed(Worker& w, beast::tcp_stream& stream, Response& resp, unsigned version,
                            bool keep_alive) {
    const bool chunked = version >= 11;
    keep_alive = keep_alive && chunked;
    if (!find_header(resp.headers, "X-Accel-Buffering")) {
      resp.headers.emplace_back("X-Accel-Buffering", "no");  // nginx must not buffer event streams
    }
    std::string head;
    serialize_head(head, resp, version, keep_alive, chunked);
    stream.expires_after(std::chrono::milliseconds(opts.read_timeout_ms));
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), nothrow);
    stream.expires_never();
    if (ec) {
      co_return false;
    }
    ChunkedStream out(stream, w, chunked, opts.read_timeout_ms);
    try {
      co_await resp.stream(out);
    } catch (const std::exception& e) {
      log::error(LogContext{opts.service_label, {}, {}, {}}, "stream handler failed",
                 {lf("error", e.what())});
      co_return false;
    }
    if (!out.transport_open()) {
      co_return false;
    }
    if (chunked) {
      static constexpr std::string_view kLast = "0\r\n\r\n";
      stream.expires_after(std::chrono::milliseconds(opts.read_timeout_ms));
      auto [lec, ln] = co_await asio::async_write(stream, asio::buffer(kLast), nothrow);
      if (lec) {
        co_return false;
      }
    }
    co_return keep_alive && !w.draining;
  }

  // The Sec-WebSocket-* handshake headers mean nothing to a handler; the request lives as long as
  // the socket, so drop them (and any body) instead of keeping them per connection. Upgrade and
  // Connection stay: they tell helpers (e.g. the bearer-token lookup) that this is a WebSocket.
  // Once a check has authenticated the request (req.principal set), the access_token query
  // parameter is removed from query and target as well.
  static void strip_handshake_headers(Request& req) {
    std::erase_if(req.headers, [](const auto& h) {
      const std::string& k = h.first;
      return k.size() > 14 && iequals(std::string_view(k).substr(0, 14), "Sec-WebSocket-");
    });
    req.headers.shrink_to_fit();
    req.body = std::string();
    if (req.principal) {
      // The access token (browsers pass it as ?access_token=) has done its job: the request is
      // authenticated. Do not keep the credential, twice, for the life of the socket.
      std::erase_if(req.query, [](const auto& kv) { return kv.first == "access_token"; });
      req.query.shrink_to_fit();
      if (auto q = req.target.find('?'); q != std::string::npos) {
        std::string kept = req.target.substr(0, q);
        std::string_view rest = std::string_view(req.target).substr(q + 1);
        char sep = '?';
        while (!rest.empty()) {
          auto amp = rest.find('&');
          std::string_view part = rest.substr(0, amp);
          if (!part.starts_with("access_token=") && part != "access_token") {
            kept += sep;
            kept += part;
            sep = '&';
          }
          if (amp == std::string_view::npos) {
            break;
          }
          rest.remove_prefix(amp + 1);
        }
        req.target = std::move(kept);
      }
    }
  }

  Task<void> run_websocket(Worker& w, std::shared_ptr<WsConn> ws, bhttp::request<bhttp::string_body> msg,
                           Request req, const Route& route) {
    struct WsGuard {
      const Impl& impl;
      Worker& w;
      WsConn* p;
      bool counted = false;
      ~WsGuard() {
        w.sockets.erase(p);
        if (counted) {
          impl.ws_count->fetch_sub(1, std::memory_order_relaxed);
        }
        impl.active->fetch_sub(1, std::memory_order_relaxed);
        impl.maybe_stop(w);
      }
    };
    w.sockets.insert(ws.get());  // from now on a drain closes it too
    WsGuard guard{*this, w, ws.get()};
    if (w.draining) {
      co_return;
    }
    if (!co_await ws->accept(msg, opts.ws_max_message, opts.ws_idle_timeout_ms)) {
      co_return;
    }
    msg = {};  // the handler sees `req`; the Beast copy of the headers can go
    ws_count->fetch_add(1, std::memory_order_relaxed);
    guard.counted = true;
    if (w.draining) {
      ws->begin_close(1001, "server shutting down", true);
    }
    try {
      WebSocketPtr handle = ws;
      co_await route.ws_handler(req, handle);
    } catch (const std::exception& e) {
      log::error(req.log, "websocket handler failed", {lf("error", e.what())});
    }
    ws->begin_close(1000, {}, false);
  }

  void begin_drain(Worker& w, SteadyClock::time_point deadline) {
    w.draining = true;
    if (w.acceptor) {
      error_code ec;
      w.acceptor->close(ec);
    }
    for (Conn* c : w.conns) {
      if (c->state == Conn::State::idle && c->stream != nullptr) {
        c->stream->cancel();  // keep-alive connection between requests: nothing to finish
      }
    }
    for (WsConn* s : w.sockets) {
      s->begin_close(1001, "server shutting down", true);
    }
    if (w.conns.empty() && w.sockets.empty()) {
      w.ioc.stop();
      return;
    }
    w.drain_timer.emplace(w.ioc);
    w.drain_timer->expires_at(deadline);
    w.drain_timer->async_wait([&w](const error_code&) { w.ioc.stop(); });
  }

  void shutdown(int grace_ms) {
    if (stopping.exchange(true)) {
      return;
    }
    if (!started) {
      return;
    }
    auto deadline = SteadyClock::now() + std::chrono::milliseconds(std::max(0, grace_ms));
    std::vector<std::future<void>> done;
    for (auto& w : workers) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      asio::post(w->ioc, [this, wp = w.get(), deadline, p] {
        begin_drain(*wp, deadline);
        p->set_value();
      });
    }
    // From outside the workers, return only once no acceptor is listening any more (callers
    // rely on "shutdown returned -> new connections are refused"). A worker thread cannot wait
    // for its own io_context.
    if (tl_current_server != this) {
      for (auto& f : done) {
        f.wait();
      }
    }
  }

  void join() {
    std::lock_guard lock(join_mu);
    for (auto& w : workers) {
      if (w->thread.joinable() && w->thread.get_id() != std::this_thread::get_id()) {
        w->thread.join();
      }
    }
  }
};

// ---- Server --------------------------------------------------------------------------------

Server::Server(ServerOptions opts, Router router, metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(router), metrics)) {}

Server::~Server() = default;

void Server::use(Middleware mw) {
  if (impl_->is_finalized) {
    throw std::logic_error("Server::use after start/dispatch");
  }
  impl_->user_mws.push_back(std::move(mw));
}

void Server::before(Check check) {
  if (impl_->is_finalized) {
    throw std::logic_error("Server::before after start/dispatch");
  }
  impl_->checks.push_back(std::move(check));
}

void Server::start() { impl_->start(); }

std::uint16_t Server::port() const { return impl_->bound_port; }

Executor Server::executor(std::size_t i) const {
  return impl_->workers[i % impl_->workers.size()]->ioc.get_executor();
}

std::size_t Server::thread_count() const { return impl_->workers.size(); }

void Server::shutdown(int grace_ms) { impl_->shutdown(grace_ms); }

void Server::join() { impl_->join(); }

std::size_t Server::active_connections() const { return impl_->active->load(); }

std::size_t Server::websocket_connections() const { return impl_->ws_count->load(); }

std::size_t Server::connection_limit() const { return impl_->conn_limit->load(); }

Task<Response> Server::dispatch(Request req) {
  impl_->finalize();
  if (req.path.empty()) {
    parse_target(req.target, req.path, req.query);
  }
  Match m = impl_->router.match(req.method, req.path);
  Response r = co_await impl_->handle(req, std::move(m), nullptr);
  if (r.status == 101) {
    r = Response::json(426,
                       ApiError(426, "upgrade_required", "WebSocket routes cannot be dispatched").to_json());
  }
  co_return r;
}

}  // namespace tiketi::net
