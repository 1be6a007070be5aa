// HttpClient against a tiny Beast server written here (not net::Server) so that the client is
// tested on its own: the server counts connections and requests per target and records headers.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "net/client.hpp"
#include "net/server.hpp"

namespace tiketi::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What the test server saw. Shared with its coroutines so that it outlives the server object.
struct Seen {
  int connections = 0;
  std::map<std::string, int> hits;                  // by target
  std::map<std::string, std::string> last_headers;  // lower-case name -> value, last request
  std::string last_body;
};

// Targets: /ok -> 200 "ok"; /slow -> never answers; /fail -> 500; /missing -> 404 JSON;
// /drop -> 200 with keep-alive, then closes the connection anyway (an idle-timeout race);
// /echo -> 200 "ok" (headers recorded). Runs on the test's single-threaded io_context.
class TestServer {
 public:
  explicit TestServer(asio::io_context& ioc)
      : acceptor_(std::make_shared<tcp::acceptor>(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0))),
        seen_(std::make_shared<Seen>()) {
    asio::co_spawn(ioc, accept_loop(acceptor_, seen_), asio::detached);
  }
  ~TestServer() {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  std::uint16_t port() const { return acceptor_->local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  Seen& seen() { return *seen_; }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor,
                                           std::shared_ptr<Seen> seen) {
    for (;;) {
      auto [ec, sock] = co_await acceptor->async_accept(kTuple);
      if (ec) {
        co_return;
      }
      ++seen->connections;
      asio::co_spawn(acceptor->get_executor(), session(std::move(sock), seen), asio::detached);
    }
  }

  static asio::awaitable<void> session(tcp::socket sock, std::shared_ptr<Seen> seen) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, kTuple);
      if (ec) {
        co_return;
      }
      const std::string target(req.target());
      ++seen->hits[target];
      seen->last_headers.clear();
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& ch : name) {
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        seen->last_headers[name] = std::string(f.value());
      }
      seen->last_body = req.body();

      if (target == "/slow") {
        asio::steady_timer never(stream.get_executor());
        never.expires_after(std::chrono::hours(1));
        co_await never.async_wait(kTuple);
        co_return;
      }
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok";
      if (target == "/fail") {
        res.result(http::status::internal_server_error);
        res.body() = "boom";
      } else if (target == "/missing") {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"error":{"code":"not_found","message":"nope"}})";
      }
      res.prepare_payload();
      if (req.method() == http::verb::head) {
        res.body().clear();  // Content-Length stays: it describes what a GET would return
      }
      auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
      if (wec || target == "/drop" || !req.keep_alive()) {
        stream.socket().shutdown(tcp::socket::shutdown_both, wec);
        co_return;
      }
    }
  }

  // Shared with the accept loop, which may first run after the server object is gone.
  std::shared_ptr<tcp::acceptor> acceptor_;
  std::shared_ptr<Seen> seen_;
};

// Runs one coroutine on the io_context until it finishes (the server keeps running between
// runs); rethrows its exception.
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> aw) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) {
      result = std::move(v);
    }
    ioc.stop();
  });
  ioc.restart();
  ioc.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*result);
}

struct ClientTest : ::testing::Test {
  asio::io_context ioc;
  std::unique_ptr<TestServer> server = std::make_unique<TestServer>(ioc);
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::unique_ptr<HttpClient> client;
  LogContext parent{"tester", "req-123", ids::new_trace_id(), ids::new_span_id()};

  void make_client(CircuitBreaker::Options breaker = {.failure_threshold = 100, .open_ms = 1'000},
                   std::size_t max_idle = 8) {
    client = std::make_unique<HttpClient>(clock, ioc.get_executor());
    client->set_breaker_options(breaker);
    client->set_max_idle_per_peer(max_idle);
    client->add_remote_peer("svc", server->url());
  }

  ClientResponse call(ClientRequest req) { return run(ioc, client->call("svc", std::move(req), parent)); }

  static ClientRequest get(std::string path, int max_retries = 2) {
    ClientRequest r;
    r.path = std::move(path);
    r.max_retries = max_retries;
    return r;
  }

  // Expects the call to throw ApiError 503 upstream_unavailable.
  void expect_unavailable(ClientRequest req) {
    try {
      call(std::move(req));
      ADD_FAILURE() << "expected ApiError upstream_unavailable";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 503);
      EXPECT_EQ(e.code(), "upstream_unavailable");
    }
  }

  Seen& seen() { return server->seen(); }
};

TEST_F(ClientTest, KeepAliveReusesOneConnection) {
  make_client();
  for (int i = 0; i < 5; ++i) {
    auto res = call(get("/ok"));
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "ok");
  }
  EXPECT_EQ(seen().hits["/ok"], 5);
  EXPECT_EQ(seen().connections, 1);
  EXPECT_EQ(client->idle_connections("svc"), 1u);
}

TEST_F(ClientTest, ConcurrentCallsOpenConnectionsAndIdlePoolIsCapped) {
  using namespace asio::experimental::awaitable_operators;
  make_client({.failure_threshold = 100, .open_ms = 1'000}, 2);
  auto four = [&]() -> asio::awaitable<int> {
    auto [a, b, c, d] =
        co_await (client->call("svc", get("/ok"), parent) && client->call("svc", get("/ok"), parent) &&
                  client->call("svc", get("/ok"), parent) && client->call("svc", get("/ok"), parent));
    co_return a.status + b.status + c.status + d.status;
  };
  EXPECT_EQ(run(ioc, four()), 800);
  EXPECT_EQ(seen().connections, 4);
  EXPECT_EQ(client->idle_connections("svc"), 2u);
  // The next call reuses a pooled connection instead of opening a fifth.
  EXPECT_EQ(call(get("/ok")).status, 200);
  EXPECT_EQ(seen().connections, 4);
}

TEST_F(ClientTest, TimeoutRetriesGetThenReportsUpstreamUnavailable) {
  make_client();
  auto req = get("/slow", 2);
  req.timeout = std::chrono::milliseconds(100);
  req.total_timeout = std::chrono::milliseconds(5'000);
  const auto start = std::chrono::steady_clock::now();
  expect_unavailable(req);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(seen().hits["/slow"], 3);
  // A timed-out connection is never pooled: every attempt used a new one.
  EXPECT_EQ(seen().connections, 3);
  EXPECT_EQ(client->idle_connections("svc"), 0u);
}

TEST_F(ClientTest, RetriesStopAtTheTotalDeadline) {
  make_client();
  auto req = get("/slow", 10);
  req.timeout = std::chrono::milliseconds(100);
  req.total_timeout = std::chrono::milliseconds(150);
  expect_unavailable(req);
  // The second attempt is cut to the remaining ~50 ms and no third one fits (a very slow machine
  // may not even start the second).
  EXPECT_GE(seen().hits["/slow"], 1);
  EXPECT_LE(seen().hits["/slow"], 2);
}

TEST_F(ClientTest, PostIsNotRetried) {
  make_client();
  auto req = get("/slow", 2);
  req.method = "POST";
  req.body = "{}";
  req.timeout = std::chrono::milliseconds(100);
  req.total_timeout = std::chrono::milliseconds(5'000);
  expect_unavailable(req);
  EXPECT_EQ(seen().hits["/slow"], 1);
}

TEST_F(ClientTest, PostMarkedIdempotentIsRetried) {
  make_client();
  auto req = get("/fail", 2);
  req.method = "POST";
  req.idempotent = true;
  expect_unavailable(req);
  EXPECT_EQ(seen().hits["/fail"], 3);
}

TEST_F(ClientTest, ServerErrorsOpenTheBreakerWhichThenShortCircuits) {
  make_client({.failure_threshold = 3, .open_ms = 1'000});
  for (int i = 0; i < 3; ++i) {
    expect_unavailable(get("/fail", 0));
  }
  EXPECT_EQ(seen().hits["/fail"], 3);
  EXPECT_EQ(client->breaker_state("svc"), CircuitBreaker::State::open);

  // Open: refused without touching the network.
  expect_unavailable(get("/ok", 0));
  EXPECT_EQ(seen().hits["/ok"], 0);

  // After the open interval one trial goes through and its success closes the circuit.
  clock->advance(1'000);
  EXPECT_EQ(call(get("/ok", 0)).status, 200);
  EXPECT_EQ(seen().hits["/ok"], 1);
  EXPECT_EQ(client->breaker_state("svc"), CircuitBreaker::State::closed);
}

TEST_F(ClientTest, RetriesStopWhenTheBreakerOpensMidCall) {
  make_client({.failure_threshold = 2, .open_ms = 1'000});
  expect_unavailable(get("/fail", 5));
  EXPECT_EQ(seen().hits["/fail"], 2);
  EXPECT_EQ(client->breaker_state("svc"), CircuitBreaker::State::open);
}

TEST_F(ClientTest, ClientErrorsAreReturnedAndDoNotTripTheBreaker) {
  make_client({.failure_threshold = 2, .open_ms = 1'000});
  for (int i = 0; i < 4; ++i) {
    auto res = call(get("/missing"));
    EXPECT_EQ(res.status, 404);
    EXPECT_NE(res.body.find("not_found"), std::string::npos);
  }
  EXPECT_EQ(seen().hits["/missing"], 4);  // 4xx is an answer: never retried
  EXPECT_EQ(client->breaker_state("svc"), CircuitBreaker::State::closed);
}

TEST_F(ClientTest, PropagatesTraceparentRequestIdAndContentType) {
  make_client();
  auto req = get("/echo");
  req.method = "POST";
  req.body = R"({"a":1})";
  ASSERT_EQ(call(req).status, 200);
  auto h = seen().last_headers;
  const std::string tp = h["traceparent"];
  // 00-<32 hex trace>-<16 hex span>-<2 hex flags>
  ASSERT_EQ(tp.size(), 55u) << tp;
  EXPECT_EQ(tp.substr(0, 3), "00-");
  EXPECT_EQ(tp.substr(3, 32), parent.trace_id);
  const std::string span = tp.substr(36, 16);
  EXPECT_EQ(span.find_first_not_of("0123456789abcdef"), std::string::npos) << span;
  EXPECT_NE(span, parent.span_id);
  EXPECT_EQ(h["x-request-id"], "req-123");
  EXPECT_EQ(h["content-type"], "application/json");
  EXPECT_EQ(seen().last_body, R"({"a":1})");

  // Every call is a new span of the same trace.
  ASSERT_EQ(call(get("/echo")).status, 200);
  const std::string tp2 = seen().last_headers["traceparent"];
  ASSERT_EQ(tp2.size(), 55u);
  EXPECT_EQ(tp2.substr(3, 32), parent.trace_id);
  EXPECT_NE(tp2.substr(36, 16), span);
  EXPECT_EQ(seen().last_headers.count("content-type"), 0u);  // no body, no content type
}

TEST_F(ClientTest, StartsATraceWhenTheParentHasNone) {
  make_client();
  parent = LogContext{};
  ASSERT_EQ(call(get("/echo")).status, 200);
  const std::string tp = seen().last_headers["traceparent"];
  ASSERT_EQ(tp.size(), 55u);
  EXPECT_NE(tp.substr(3, 32), std::string(32, '0'));
  EXPECT_EQ(seen().last_headers.count("x-request-id"), 0u);
}

TEST_F(ClientTest, ConnectionClosedByServerWhileIdleIsReplacedEvenForPost) {
  make_client();
  ASSERT_EQ(call(get("/drop")).status, 200);
  EXPECT_EQ(seen().connections, 1);
  auto post = get("/ok", 0);
  post.method = "POST";
  post.body = "{}";
  EXPECT_EQ(call(post).status, 200);
  EXPECT_EQ(seen().hits["/ok"], 1);
  EXPECT_EQ(seen().connections, 2);
}

TEST_F(ClientTest, ConnectionRefusedIsUpstreamUnavailableAndCountsAsFailure) {
  make_client({.failure_threshold = 3, .open_ms = 1'000});
  server.reset();  // nothing listens on that port any more
  expect_unavailable(get("/ok", 2));
  EXPECT_EQ(client->breaker_state("svc"), CircuitBreaker::State::open);
}

TEST_F(ClientTest, HeadRequestHasNoBodyToRead) {
  make_client();
  auto req = get("/ok");
  req.method = "HEAD";
  EXPECT_EQ(call(req).status, 200);
  // The connection stays usable: a following GET reuses it.
  EXPECT_EQ(call(get("/ok")).body, "ok");
  EXPECT_EQ(seen().connections, 1);
}

TEST_F(ClientTest, UnknownPeerIsUpstreamUnavailable) {
  make_client();
  try {
    run(ioc, client->call("nope", get("/ok"), parent));
    ADD_FAILURE() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.code(), "upstream_unavailable");
  }
  EXPECT_THROW(client->breaker_state("nope"), std::out_of_range);
}

TEST(HttpClientConfig, RejectsNonHttpBaseUrl) {
  asio::io_context ioc;
  HttpClient c(std::make_shared<ManualClock>(), ioc.get_executor());
  EXPECT_THROW(c.add_remote_peer("x", "https://example.com"), std::invalid_argument);
  EXPECT_THROW(c.add_remote_peer("x", "not a url"), std::invalid_argument);
  EXPECT_NO_THROW(c.add_remote_peer("x", "http://auth:3001"));
  EXPECT_EQ(c.breaker_state("x"), CircuitBreaker::State::closed);
}

// A peer served by this process goes through Server::dispatch: no socket, same router and
// middleware, same breaker and retry rules.
TEST(LocalPeer, DispatchesInProcessWithTraceRetryAndBreakerRules) {
  asio::io_context ioc;
  metrics::Registry registry;
  Router router;
  int fails = 0;
  router.add("GET", "/internal/things/{id}", [](Request& req) -> Task<Response> {
    co_return Response::text(200, req.param("id") + "|" + req.query_param("q").value_or("-") + "|" +
                                      req.log.trace_id + "|" + req.log.request_id + "|" + req.body);
  });
  router.add("POST", "/internal/fail", [&fails](Request&) -> Task<Response> {
    ++fails;
    co_return Response::json(500, "{}");
  });
  ServerOptions opts;
  opts.listen = "127.0.0.1:0";
  opts.threads = 1;
  opts.access_log = false;
  Server server(opts, std::move(router), registry);

  auto clock = std::make_shared<ManualClock>();
  HttpClient client(clock, ioc.get_executor());
  client.set_breaker_options({.failure_threshold = 2, .open_ms = 1'000});
  client.add_local_peer("things", &server);
  const LogContext parent{"tester", "req-9", ids::new_trace_id(), ids::new_span_id()};

  ClientRequest get;
  get.path = "/internal/things/a%20b?q=x%26y";
  auto res = run(ioc, client.call("things", get, parent));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "a b|x&y|" + parent.trace_id + "|req-9|");

  ClientRequest missing;
  missing.path = "/internal/nothing";
  EXPECT_EQ(run(ioc, client.call("things", missing, parent)).status, 404);

  ClientRequest post;
  post.method = "POST";
  post.path = "/internal/fail";
  post.body = "{}";
  for (int i = 0; i < 3; ++i) {
    try {
      run(ioc, client.call("things", post, parent));
      ADD_FAILURE() << "expected ApiError";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), "upstream_unavailable");
    }
  }
  // Not retried (POST), and the third call was short-circuited by the open breaker.
  EXPECT_EQ(fails, 2);
  EXPECT_EQ(client.breaker_state("things"), CircuitBreaker::State::open);
}

}  // namespace
}  // namespace tiketi::net
