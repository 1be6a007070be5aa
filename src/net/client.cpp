// Service-to-service HTTP client. The only translation unit of the client that sees Beast/Asio.
//
// One call = up to 1 + max_retries attempts within one total deadline. Every attempt goes through
// the peer's circuit breaker and counts towards it (5xx, timeouts and connection errors are
// failures; any other answer is a success). Remote peers keep a few idle keep-alive connections;
// local peers are dispatched straight into the Server with no socket.
#include "net/client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "net/middleware.hpp"
#include "net/server.hpp"

namespace tiketi::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;
using BeastRequest = http::request<http::string_body>;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Idle connections older than this are dropped rather than reused: it stays well under the
// server's 60 s keep-alive idle timeout, so we rarely race the server closing them.
constexpr auto kIdleMaxAge = std::chrono::seconds(30);
// Idle keep-alive connections kept per remote peer. A burst of concurrent calls to one peer above
// this cap turns every call beyond it into a connect + close (both ends' CPU, and a TIME_WAIT):
// with 8, a payment burst of 256 clients opened a new connection to the reservation service for
// about one payment in three. An idle socket costs the two ends a few KiB and one fd each.
constexpr std::size_t kDefaultMaxIdlePerPeer = 64;
constexpr std::uint64_t kMaxResponseBody = 16u << 20;
constexpr auto kBackoffBase = std::chrono::milliseconds(20);
constexpr auto kBackoffCap = std::chrono::milliseconds(250);

struct Conn {
  explicit Conn(const Executor& ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  SteadyTime idle_since{};
  bool reused = false;
};
using ConnPtr = std::unique_ptr<Conn>;

struct Peer {
  Peer(CircuitBreaker::Options o, ClockPtr clock) : breaker(o, std::move(clock)) {}

  CircuitBreaker breaker;
  Server* local = nullptr;

  // Remote peers only.
  std::string host;                      // name or address, without brackets
  std::string port;                      // service name or number
  std::string host_header;               // "host:port" as written in the base URL
  std::string path_prefix;               // from the base URL, without a trailing '/'
  std::optional<tcp::endpoint> literal;  // set when host is an IP address: no resolver needed
  std::size_t max_idle = kDefaultMaxIdlePerPeer;

  std::mutex mu;
  std::vector<ConnPtr> idle;  // LIFO: the most recently used is the least likely to be stale
};
using PeerPtr = std::shared_ptr<Peer>;

// Outcome of one attempt: a response, or the reason there is none.
struct Attempt {
  std::optional<ClientResponse> response;
  std::string error;
};

ApiError upstream_unavailable(const std::string& service, const std::string& why) {
  return ApiError(503, "upstream_unavailable", "service " + service + " unavailable: " + why);
}

bool idempotent_method(const std::string& m) {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE";
}

// An idle pooled socket is usable only if the server has neither closed it nor sent anything.
bool idle_socket_usable(tcp::socket& s) {
  char byte = 0;
  const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

ConnPtr take_idle(Peer& p) {
  std::lock_guard lock(p.mu);
  const auto now = SteadyClock::now();
  while (!p.idle.empty()) {
    ConnPtr c = std::move(p.idle.back());
    p.idle.pop_back();
    if (now - c->idle_since < kIdleMaxAge && idle_socket_usable(c->stream.socket())) {
      c->reused = true;
      return c;
    }
  }
  return nullptr;
}

void give_back(Peer& p, ConnPtr c) {
  c->stream.expires_never();
  c->idle_since = SteadyClock::now();
  std::lock_guard lock(p.mu);
  if (p.idle.size() < p.max_idle) {
    p.idle.push_back(std::move(c));
  }
}

std::chrono::milliseconds jittered_backoff(int retry) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  auto base = kBackoffBase * (1 << std::min(retry - 1, 4));
  base = std::min<std::chrono::milliseconds>(base, kBackoffCap);
  // "Equal jitter": half fixed, half random, so that retries from many callers spread out.
  std::uniform_int_distribution<long> half(0, base.count() / 2);
  return std::chrono::milliseconds(base.count() / 2 + half(rng));
}

Task<Attempt> open_connection(const Executor& ex, const Peer& p, Conn& c, SteadyTime deadline) {
  Attempt out;
  c.stream.expires_at(deadline);
  if (p.literal) {
    auto [ec] = co_await c.stream.async_connect(*p.literal, kTuple);
    if (ec) {
      out.error = "connect: " + ec.message();
    }
    co_return out;
  }
  // The resolver ignores the stream's expiry: a timer cancels it at the deadline. Both are shared
  // with the timer's handler, which may run on another thread after this frame moved on.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  auto timer = std::make_shared<asio::steady_timer>(ex);
  timer->expires_at(deadline);
  timer->async_wait([resolver](boost::system::error_code ec) {
    if (!ec) {
      resolver->cancel();
    }
  });
  auto [rec, results] = co_await resolver->async_resolve(p.host, p.port, kTuple);
  timer->cancel();
  if (rec) {
    out.error = "resolve " + p.host + ": " + rec.message();
    co_return out;
  }
  auto [ec, ep] = co_await c.stream.async_connect(results, kTuple);
  if (ec) {
    out.error = "connect: " + ec.message();
  }
  co_return out;
}

bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

Task<Attempt> remote_attempt(const Executor& ex, Peer& p, const BeastRequest& req, SteadyTime deadline) {
  const bool head = req.method() == http::verb::head;
  for (;;) {
    Attempt out;
    ConnPtr c = take_idle(p);
    if (!c) {
      c = std::make_unique<Conn>(ex);
      out = co_await open_connection(ex, p, *c, deadline);
      if (!out.error.empty()) {
        co_return out;
      }
      c->stream.socket().set_option(tcp::no_delay(true));
    }
    const bool reused = c->reused;
    c->stream.expires_at(deadline);
    auto [wec, written] = co_await http::async_write(c->stream, req, kTuple);
    http::response_parser<http::string_body> parser;
    boost::system::error_code rec = wec;
    if (!wec) {
      parser.body_limit(kMaxResponseBody);
      parser.skip(head);
      auto [ec, n] = co_await http::async_read(c->stream, c->buffer, parser, kTuple);
      rec = ec;
    }
    if (rec) {
      // The server closed an idle keep-alive connection just as we sent on it: the request was
      // never processed, so it is safe to send it again on a fresh connection whatever the
      // method (the same rule Go's net/http uses). Fresh connections never loop here.
      if (reused && !parser.got_some() && closed_by_peer(rec)) {
        continue;
      }
      out.error = (rec == beast::error::timeout ? std::string("timeout") : rec.message());
      co_return out;
    }
    auto res = parser.release();
    ClientResponse cr;
    cr.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      cr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    cr.body = std::move(res.body());
    if (res.keep_alive()) {
      give_back(p, std::move(c));
    }
    out.response = std::move(cr);
    co_return out;
  }
}

Request make_local_request(const std::string& service, const ClientRequest& req, const LogContext& ctx,
                           SteadyTime deadline) {
  Request r;
  r.method = req.method;
  r.target = req.path;
  auto parsed = boost::urls::parse_origin_form(req.path);
  if (parsed) {
    r.path = parsed->path();
    for (const auto& q : parsed->params()) {
      r.query.emplace_back(q.key, q.has_value ? q.value : std::string());
    }
  } else {
    // Not a valid origin-form target: hand it over raw and let the router answer 404.
    r.path = req.path.substr(0, req.path.find('?'));
  }
  r.headers = req.headers;
  r.body = req.body;
  r.remote_ip = "127.0.0.1";
  r.log = LogContext{service, ctx.request_id, ctx.trace_id, ctx.span_id};
  r.deadline = deadline;
  return r;
}

Task<Attempt> local_attempt(Server& server, Request r) {
  Attempt out;
  try {
    Response res = co_await server.dispatch(std::move(r));
    ClientResponse cr;
    cr.status = res.status;
    cr.headers = std::move(res.headers);
    cr.body = std::move(res.body);
    out.response = std::move(cr);
  } catch (const std::exception& e) {
    // dispatch maps handler errors to responses itself; anything escaping is a server fault.
    out.error = e.what();
  }
  co_return out;
}

BeastRequest make_beast_request(const Peer& p, const ClientRequest& req) {
  BeastRequest r;
  const auto verb = http::string_to_verb(req.method);
  if (verb == http::verb::unknown) {
    r.method_string(req.method);
  } else {
    r.method(verb);
  }
  r.target(p.path_prefix + req.path);
  r.version(11);
  r.set(http::field::host, p.host_header);
  for (const auto& [name, value] : req.headers) {
    r.set(name, value);
  }
  r.keep_alive(true);
  r.body() = req.body;
  r.prepare_payload();
  return r;
}

}  // namespace

struct HttpClient::Impl {
  ClockPtr clock;
  Executor ex;
  CircuitBreaker::Options breaker_opts;
  std::size_t max_idle = kDefaultMaxIdlePerPeer;
  mutable std::mutex mu;
  std::map<std::string, PeerPtr> peers;

  PeerPtr find(const std::string& service) const {
    std::lock_guard lock(mu);
    auto it = peers.find(service);
    return it == peers.end() ? nullptr : it->second;
  }
  PeerPtr find_or_throw(const std::string& service) const {
    auto p = find(service);
    if (!p) {
      throw std::out_of_range("unknown peer service: " + service);
    }
    return p;
  }
  void put(const std::string& service, PeerPtr p) {
    std::lock_guard lock(mu);
    peers[service] = std::move(p);
  }
};

HttpClient::HttpClient(ClockPtr clock, Executor ex) : impl_(std::make_unique<Impl>()) {
  impl_->clock = clock ? std::move(clock) : std::make_shared<SystemClock>();
  impl_->ex = std::move(ex);
}

HttpClient::~HttpClient() = default;

void HttpClient::set_breaker_options(CircuitBreaker::Options o) { impl_->breaker_opts = o; }

void HttpClient::set_max_idle_per_peer(std::size_t n) { impl_->max_idle = n; }

void HttpClient::add_local_peer(const std::string& service, Server* server) {
  if (server == nullptr) {
    throw std::invalid_argument("add_local_peer " + service + ": null server");
  }
  auto p = std::make_shared<Peer>(impl_->breaker_opts, impl_->clock);
  p->local = server;
  impl_->put(service, std::move(p));
}

void HttpClient::add_remote_peer(const std::string& service, const std::string& base_url) {
  auto parsed = boost::urls::parse_uri(base_url);
  if (!parsed || parsed->scheme() != "http" || !parsed->has_authority() || parsed->host_address().empty()) {
    throw std::invalid_argument("peer " + service + ": base URL must be http://host:port, got '" + base_url +
                                "'");
  }
  auto p = std::make_shared<Peer>(impl_->breaker_opts, impl_->clock);
  p->host = parsed->host_address();
  p->port = parsed->has_port() ? std::string(parsed->port()) : std::string("80");
  p->host_header = parsed->encoded_host_and_port();
  p->path_prefix = parsed->encoded_path();
  while (!p->path_prefix.empty() && p->path_prefix.back() == '/') {
    p->path_prefix.pop_back();
  }
  p->max_idle = impl_->max_idle;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(p->host, ec);
  if (!ec) {
    const auto port = parsed->port_number();
    p->literal = tcp::endpoint(addr, parsed->has_port() ? port : 80);
  }
  impl_->put(service, std::move(p));
}

Task<ClientResponse> HttpClient::call(const std::string& service, ClientRequest req,
                                      const LogContext& parent) {
  PeerPtr peer = impl_->find(service);
  if (!peer) {
    throw upstream_unavailable(service, "no such peer configured");
  }
  const bool idempotent = req.idempotent || idempotent_method(req.method);
  const int max_retries = std::max(0, req.max_retries);

  // This hop's trace context: the parent's trace, a new span (a fresh trace if the parent has none).
  LogContext ctx = parent;
  ctx.service = service;
  if (ctx.trace_id.size() != 32) {
    ctx.trace_id = ids::new_trace_id();
  }
  ctx.span_id = ids::new_span_id();
  set_header(req.headers, "traceparent", make_traceparent(ctx.trace_id, ctx.span_id));
  if (!parent.request_id.empty()) {
    set_header(req.headers, "X-Request-Id", parent.request_id);
  }
  if (!req.body.empty() && !find_header(req.headers, "Content-Type")) {
    set_header(req.headers, "Content-Type", "application/json");
  }

  const auto total = req.total_timeout.count() > 0 ? req.total_timeout : req.timeout * (max_retries + 1);
  const SteadyTime deadline = SteadyClock::now() + total;
  std::optional<BeastRequest> wire;
  if (!peer->local) {
    wire = make_beast_request(*peer, req);
  }

  std::string last_error;
  int attempts = 0;
  for (;;) {
    if (!peer->breaker.allow()) {
      // Only the first attempt reports "circuit open"; later ones keep the real cause.
      throw upstream_unavailable(service, attempts == 0 ? "circuit open" : last_error + " (circuit open)");
    }
    ++attempts;
    const SteadyTime attempt_deadline = std::min(deadline, SteadyClock::now() + req.timeout);
    // Plain if/else: GCC 12 miscompiles co_await inside a conditional expression (double free).
    Attempt a;
    if (peer->local) {
      a = co_await local_attempt(*peer->local, make_local_request(service, req, ctx, attempt_deadline));
    } else {
      a = co_await remote_attempt(impl_->ex, *peer, *wire, attempt_deadline);
    }
    if (a.response && a.response->status < 500) {
      peer->breaker.on_success();
      co_return std::move(*a.response);
    }
    peer->breaker.on_failure();
    last_error = a.response ? "HTTP " + std::to_string(a.response->status) : a.error;

    if (!idempotent || attempts > max_retries) {
      break;
    }
    const auto backoff = jittered_backoff(attempts);
    if (SteadyClock::now() + backoff >= deadline) {
      break;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(backoff);
    co_await timer.async_wait(kTuple);
  }
  log::warn(ctx, "upstream call failed",
            {lf("peer", service), lf("method", req.method), lf("path", req.path), lf("attempts", attempts),
             lf("error", last_error)});
  throw upstream_unavailable(service, last_error);
}

CircuitBreaker::State HttpClient::breaker_state(const std::string& service) const {
  return impl_->find_or_throw(service)->breaker.state();
}

std::size_t HttpClient::idle_connections(const std::string& service) const {
  auto p = impl_->find_or_throw(service);
  std::lock_guard lock(p->mu);
  return p->idle.size();
}

}  // namespace tiketi::net
