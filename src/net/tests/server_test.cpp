#include "net/server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <sys/resource.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "net/tests/test_support.hpp"

namespace tiketi::net {
namespace {

using test::RawClient;
using namespace std::chrono_literals;

std::string error_code_of(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) {
    return "<not an error body: " + body + ">";
  }
  return j["error"]["code"].get<std::string>();
}

Router basic_routes() {
  Router r;
  r.add("GET", "/hello", [](Request&) -> Task<Response> { co_return Response::text(200, "hello"); });
  r.add(
      "GET", "/items/{id}",
      [](Request& req) -> Task<Response> {
        co_return Response::json(
            200, nlohmann::json{{"id", req.param("id")}, {"q", req.query_param("q").value_or("")}}.dump());
      },
      RouteOptions{.service = "event"});
  r.add(
      "POST", "/echo", [](Request& req) -> Task<Response> { co_return Response::text(200, req.body); },
      RouteOptions{.service = "event", .max_body = 100});
  r.add("POST", "/big", [](Request& req) -> Task<Response> {
    co_return Response::text(200, std::to_string(req.body.size()));
  });
  r.add("GET", "/boom", [](Request&) -> Task<Response> {
    throw std::runtime_error("secret detail");
    co_return Response::text(200, "unreachable");
  });
  r.add("GET", "/conflict", [](Request&) -> Task<Response> {
    throw errors::conflict("seat_unavailable", "taken");
    co_return Response::text(200, "unreachable");
  });
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void start(Router r, ServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    if (o.threads == 0) {
      o.threads = 2;
    }
    server_ = std::make_unique<Server>(o, std::move(r), registry_);
    server_->start();
  }
  void TearDown() override {
    if (server_) {
      server_->shutdown(1000);
      server_->join();
    }
    log::set_sink_for_tests(nullptr);
  }
  std::uint16_t port() const { return server_->port(); }

  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start(basic_routes());
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 5; ++i) {
    auto r = c.request("GET", "/hello");
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "hello");
    EXPECT_FALSE(r.header("Connection").has_value());
  }
  EXPECT_EQ(server_->active_connections(), 1u);
  auto r = c.request("GET", "/items/42?q=x%20y");
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["id"], "42");
  EXPECT_EQ(j["q"], "x y");
  auto head = c.request("HEAD", "/hello");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "5");
  EXPECT_EQ(c.request("GET", "/hello").body, "hello");  // HEAD sent no body: framing intact
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405Json) {
  start(basic_routes());
  RawClient c(port());
  auto r = c.request("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code_of(r.body), "not_found");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  r = c.request("DELETE", "/hello");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(error_code_of(r.body), "method_not_allowed");
  EXPECT_EQ(r.header("Allow"), "GET");
  // Still serving on the same connection.
  EXPECT_EQ(c.request("GET", "/hello").status, 200);
}

TEST_F(ServerTest, ErrorsMapToJsonAndNeverLeakDetails) {
  start(basic_routes());
  RawClient c(port());
  auto r = c.request("GET", "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(error_code_of(r.body), "internal");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
  r = c.request("GET", "/conflict");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code_of(r.body), "seat_unavailable");
}

TEST_F(ServerTest, BodyOverRouteLimitIs413ThenClose) {
  start(basic_routes());
  {
    RawClient c(port());
    auto ok = c.request("POST", "/echo", std::string(100, 'a'));
    EXPECT_EQ(ok.status, 200);
    auto r = c.request("POST", "/echo", std::string(101, 'a'));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(error_code_of(r.body), "payload_too_large");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // Chunked body: no Content-Length to check up front, the parser enforces the limit.
    RawClient c(port());
    std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    req += "c8\r\n" + std::string(200, 'b') + "\r\n0\r\n\r\n";
    ASSERT_TRUE(c.send_all(req));
    EXPECT_EQ(c.read_response().status, 413);
  }
  {
    // Server default (1 MiB here) applies to routes without their own limit.
    RawClient c(port());
    EXPECT_EQ(c.request("POST", "/big", std::string(1000, 'x')).body, "1000");
    auto r = c.request("POST", "/big", std::string((1 << 20) + 1, 'x'));
    EXPECT_EQ(r.status, 413);
  }
  RawClient next(port());
  EXPECT_EQ(next.request("GET", "/hello").status, 200);
}

TEST_F(ServerTest, OversizedHeaderIsRejected) {
  ServerOptions o;
  o.max_header_bytes = 4096;
  start(basic_routes(), o);
  RawClient c(port());
  auto r = c.request("GET", "/hello", {}, {"X-Big: " + std::string(8000, 'h')});
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(c.wait_closed());
  RawClient next(port());
  EXPECT_EQ(next.request("GET", "/hello").status, 200);
}

TEST_F(ServerTest, MalformedRequestIs400AndServerKeepsServing) {
  start(basic_routes());
  for (std::string garbage :
       {"GARBAGE\r\n\r\n", "GET /hello HTTP/9.9\r\n\r\n", "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        "GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    RawClient c(port());
    ASSERT_TRUE(c.send_all(garbage));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 400) << garbage;
    EXPECT_TRUE(c.wait_closed()) << garbage;
  }
  RawClient next(port());
  EXPECT_EQ(next.request("GET", "/hello").status, 200);
}

TEST_F(ServerTest, IdleKeepAliveAndSlowRequestsAreTimedOut) {
  ServerOptions o;
  o.idle_timeout_ms = 200;
  o.read_timeout_ms = 300;
  start(basic_routes(), o);
  RawClient idle(port());
  EXPECT_EQ(idle.request("GET", "/hello").status, 200);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);

  RawClient slow(port());
  ASSERT_TRUE(slow.send_all("GET /hello HTTP/1.1\r\nHo"));  // never finishes its headers
  EXPECT_TRUE(slow.wait_closed());
}

TEST_F(ServerTest, RateLimitAnswers429WithRetryAfter) {
  ServerOptions o;
  o.rate_limit_rps = 0.5;
  o.rate_limit_burst = 2;
  start(basic_routes(), o);
  RawClient c(port());
  EXPECT_EQ(c.request("GET", "/hello").status, 200);
  EXPECT_EQ(c.request("GET", "/hello").status, 200);
  auto r = c.request("GET", "/hello");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(error_code_of(r.body), "rate_limited");
  ASSERT_TRUE(r.header("Retry-After").has_value());
  EXPECT_GE(std::stoi(std::string(*r.header("Retry-After"))), 1);
}

TEST_F(ServerTest, RequestIdIsEchoedOrGenerated) {
  start(basic_routes());
  RawClient c(port());
  auto r = c.request("GET", "/hello", {}, {"X-Request-Id: abc-123"});
  EXPECT_EQ(r.header("X-Request-Id"), "abc-123");
  r = c.request("GET", "/hello", {}, {"X-Request-Id: <script>"});
  ASSERT_TRUE(r.header("X-Request-Id").has_value());
  EXPECT_NE(*r.header("X-Request-Id"), "<script>");
  EXPECT_EQ(r.header("X-Request-Id")->size(), 16u);
  auto r2 = c.request("GET", "/nope");
  EXPECT_NE(r2.header("X-Request-Id"), r.header("X-Request-Id"));
}

TEST_F(ServerTest, AccessLogCarriesTraceIdAndRouteTemplate) {
  start(basic_routes());
  std::string sink;
  log::set_sink_for_tests(&sink);
  RawClient c(port());
  auto r = c.request(
      "GET", "/items/7", {},
      {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "X-Request-Id: rid-77"});
  ASSERT_EQ(r.status, 200);
  log::flush();
  std::string captured = sink;  // the line is written before the response is sent
  log::set_sink_for_tests(nullptr);
  auto pos = captured.find("rid-77");
  ASSERT_NE(pos, std::string::npos) << captured;
  auto line_start = captured.rfind('\n', pos);
  auto line =
      captured.substr(line_start == std::string::npos ? 0 : line_start + 1,
                      captured.find('\n', pos) - (line_start == std::string::npos ? 0 : line_start + 1));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(j["route"], "/items/{id}");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["service"], "event");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_TRUE(j.contains("duration_ms"));
}

TEST_F(ServerTest, MetricsUseRouteTemplateNotRawPath) {
  start(basic_routes());
  RawClient c(port());
  EXPECT_EQ(c.request("GET", "/items/1").status, 200);
  EXPECT_EQ(c.request("GET", "/items/2").status, 200);
  EXPECT_EQ(c.request("GET", "/some/random/path").status, 404);
  std::string text = registry_.expose();
  EXPECT_NE(text.find("route=\"/items/{id}\""), std::string::npos) << text;
  EXPECT_EQ(text.find("/items/1"), std::string::npos);
  EXPECT_EQ(text.find("/some/random/path"), std::string::npos);
  EXPECT_NE(text.find("http_request_duration_seconds"), std::string::npos);
  EXPECT_NE(text.find("status=\"404\""), std::string::npos);
  // The counter for the template saw both requests.
  auto pos = text.find("http_requests_total{");
  ASSERT_NE(pos, std::string::npos);
  bool found_two = false;
  for (std::size_t p = text.find("http_requests_total{"); p != std::string::npos;
       p = text.find("http_requests_total{", p + 1)) {
    auto eol = text.find('\n', p);
    auto line = text.substr(p, eol - p);
    if (line.find("/items/{id}") != std::string::npos && line.find("status=\"200\"") != std::string::npos) {
      found_two = line.substr(line.rfind(' ') + 1) == "2";
    }
  }
  EXPECT_TRUE(found_two) << text;
  EXPECT_NE(text.find("http_connections_active"), std::string::npos);
  EXPECT_NE(text.find("websocket_connections"), std::string::npos);
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightAndRefusesNew) {
  std::promise<void> started;
  auto started_f = started.get_future();
  Router r = basic_routes();
  r.add("GET", "/slow", [&started](Request&) -> Task<Response> {
    started.set_value();
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor);
    t.expires_after(300ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Response::text(200, "done");
  });
  start(std::move(r));
  RawClient idle(port());
  EXPECT_EQ(idle.request("GET", "/hello").status, 200);  // an idle keep-alive connection
  RawClient c(port());
  ASSERT_TRUE(c.send_all("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_EQ(started_f.wait_for(5s), std::future_status::ready);
  server_->shutdown(5000);
  RawClient refused(port());
  EXPECT_FALSE(refused.connected());
  EXPECT_EQ(refused.connect_errno(), ECONNREFUSED);
  auto resp = c.read_response();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "done");
  EXPECT_EQ(resp.header("Connection"), "close");
  EXPECT_TRUE(idle.wait_closed());  // idle keep-alive was cut, not left to time out
  server_->join();
  EXPECT_EQ(server_->active_connections(), 0u);
}

TEST_F(ServerTest, ServerSentEventsStreamChunks) {
  Router r;
  r.add("GET", "/stream", [](Request&) -> Task<Response> {
    Response resp = Response::text(200, "", "text/event-stream");
    resp.header("Cache-Control", "no-cache");
    resp.stream = [](ResponseStream& s) -> Task<void> {
      for (int i = 0; i < 3; ++i) {
        if (!co_await s.write("data: " + std::to_string(i) + "\n\n")) {
          co_return;
        }
      }
    };
    co_return resp;
  });
  r.add("GET", "/hello", [](Request&) -> Task<Response> { co_return Response::text(200, "hello"); });
  start(std::move(r));
  RawClient c(port());
  auto resp = c.request("GET", "/stream");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(resp.header("Transfer-Encoding"), "chunked");
  ASSERT_EQ(resp.chunks.size(), 3u);
  EXPECT_EQ(resp.chunks[0], "data: 0\n\n");
  EXPECT_EQ(resp.chunks[2], "data: 2\n\n");
  EXPECT_EQ(c.request("GET", "/hello").status, 200);  // keep-alive after a finished stream
}

TEST_F(ServerTest, CorsPreflightAndHeaders) {
  ServerOptions o;
  o.cors_origins = {"https://app.example"};
  start(basic_routes(), o);
  RawClient c(port());
  auto pre = c.request("OPTIONS", "/echo", {},
                       {"Origin: https://app.example", "Access-Control-Request-Method: POST",
                        "Access-Control-Request-Headers: content-type"});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(pre.header("Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(pre.header("Access-Control-Allow-Headers"), "content-type");
  auto get = c.request("GET", "/hello", {}, {"Origin: https://app.example"});
  EXPECT_EQ(get.header("Access-Control-Allow-Origin"), "https://app.example");
  auto other = c.request("GET", "/hello", {}, {"Origin: https://evil.example"});
  EXPECT_FALSE(other.header("Access-Control-Allow-Origin").has_value());
}

TEST_F(ServerTest, UserMiddlewareRunsAfterBuiltInChain) {
  Router r = basic_routes();
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  server_ = std::make_unique<Server>(o, std::move(r), registry_);
  server_->use([](Request& req, const Next& next) -> Task<Response> {
    if (req.header("Authorization") != "Bearer ok") {
      throw errors::unauthorized();
    }
    EXPECT_FALSE(req.log.request_id.empty());  // built-in context is already there
    Response resp = co_await next(req);
    resp.header("X-User", "yes");
    co_return resp;
  });
  server_->start();
  RawClient c(port());
  auto denied = c.request("GET", "/hello");
  EXPECT_EQ(denied.status, 401);
  EXPECT_TRUE(denied.header("X-Request-Id").has_value());
  auto ok = c.request("GET", "/hello", {}, {"Authorization: Bearer ok"});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("X-User"), "yes");
  EXPECT_THROW(server_->use([](Request& req, const Next& next) { return next(req); }), std::logic_error);
}

TEST_F(ServerTest, DispatchRunsWithoutSocket) {
  start(basic_routes());
  Request req;
  req.method = "GET";
  req.target = "/items/9?q=z";
  req.headers = {{"X-Request-Id", "inproc-1"}};
  auto resp = test::run_sync(server_->dispatch(std::move(req)));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(nlohmann::json::parse(resp.body)["id"], "9");
  EXPECT_EQ(find_header(resp.headers, "X-Request-Id"), "inproc-1");
  Request bad;
  bad.method = "GET";
  bad.target = "/nope";
  EXPECT_EQ(test::run_sync(server_->dispatch(std::move(bad))).status, 404);
}

TEST_F(ServerTest, ConnectionsBeyondBudgetAreShed) {
  ServerOptions o;
  o.max_connections = 1;
  o.threads = 1;
  start(basic_routes(), o);
  EXPECT_EQ(server_->connection_limit(), 1u);
  RawClient first(port());
  EXPECT_EQ(first.request("GET", "/hello").status, 200);
  RawClient second(port());
  ASSERT_TRUE(second.connected());  // the kernel completes the handshake; the server closes at once
  EXPECT_TRUE(second.wait_closed());
  EXPECT_EQ(first.request("GET", "/hello").status, 200);
}

TEST_F(ServerTest, OverBudgetClientsGetA503WithRetryAfterAndAreCounted) {
  ServerOptions o;
  o.max_connections = 1;
  o.threads = 1;
  start(basic_routes(), o);
  RawClient first(port());
  EXPECT_EQ(first.request("GET", "/hello").status, 200);
  for (int i = 0; i < 3; ++i) {
    RawClient extra(port());
    auto r = extra.read_response();  // answered before it sends anything: never left waiting
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("Retry-After"), "1");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_EQ(error_code_of(r.body), "unavailable");
    EXPECT_TRUE(extra.wait_closed());
  }
  // The server may count the refusal just after the client saw the close: poll briefly.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = registry_.expose();
    if (text.find("connections_refused_total{reason=\"fd_budget\"} 3\n") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(text.find("connections_refused_total{reason=\"fd_budget\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("http_connections_limit 1\n"), std::string::npos) << text;
  first.close();
  // Once the first client is gone there is room again.
  for (int i = 0; i < 50; ++i) {
    if (server_->active_connections() == 0) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  RawClient later(port());
  EXPECT_EQ(later.request("GET", "/hello").status, 200);
}

TEST_F(ServerTest, BudgetFollowsTheOpenFileLimitMinusTheReserve) {
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  ServerOptions o;
  o.fd_reserve = 100;
  o.threads = 1;
  start(basic_routes(), o);
  if (rl.rlim_cur == RLIM_INFINITY) {
    GTEST_SKIP() << "no open-file limit";
  }
  EXPECT_EQ(server_->connection_limit(), static_cast<std::size_t>(rl.rlim_cur) - 100);
}

TEST_F(ServerTest, BeforeChecksRunInOrderAndCanRefuse) {
  Router r = basic_routes();
  auto seen = std::make_shared<std::vector<std::string>>();
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  server_ = std::make_unique<Server>(o, std::move(r), registry_);
  server_->before([seen](Request& req) {
    seen->push_back("first " + req.route);
    req.headers.emplace_back("X-Checked", "yes");
  });
  server_->before([seen](Request& req) {
    seen->push_back("second " + std::string(req.header("X-Checked").value_or("no")));
    if (req.query_param("deny")) {
      throw errors::forbidden("denied by check");
    }
  });
  server_->start();
  RawClient c(port());
  EXPECT_EQ(c.request("GET", "/items/7").status, 200);
  auto denied = c.request("GET", "/items/7?deny=1");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(error_code_of(denied.body), "forbidden");
  EXPECT_EQ(c.request("GET", "/nope").status, 404);  // unmatched routes run no checks
  ASSERT_EQ(seen->size(), 4u);
  EXPECT_EQ((*seen)[0], "first /items/{id}");
  EXPECT_EQ((*seen)[1], "second yes");
  EXPECT_THROW(server_->before([](Request&) {}), std::logic_error);
}

class StaticFilesTest : public ServerTest {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("tiketi-web-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_ / "assets");
    std::ofstream(root_ / "index.html") << "<html>app</html>";
    std::ofstream(root_ / "assets" / "app.1234.js") << "console.log(1)";
    std::ofstream(std::filesystem::temp_directory_path() / "tiketi-secret.txt") << "secret";
  }
  void TearDown() override {
    ServerTest::TearDown();
    std::filesystem::remove_all(root_);
  }
  std::filesystem::path root_;
};

TEST_F(StaticFilesTest, ServesFilesWithTypesCachingAndSpaFallback) {
  ServerOptions o;
  o.web_root = root_.string();
  start(basic_routes(), o);
  RawClient c(port());
  auto index = c.request("GET", "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<html>app</html>");
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.header("Cache-Control"), "no-cache");

  auto js = c.request("GET", "/assets/app.1234.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.header("Cache-Control"), "public, max-age=31536000, immutable");
  ASSERT_TRUE(js.header("ETag").has_value());
  auto again =
      c.request("GET", "/assets/app.1234.js", {}, {"If-None-Match: " + std::string(*js.header("ETag"))});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());

  auto spa = c.request("GET", "/events/42");
  EXPECT_EQ(spa.status, 200);
  EXPECT_EQ(spa.body, "<html>app</html>");

  EXPECT_EQ(c.request("GET", "/assets/missing.js").status, 404);
  EXPECT_EQ(c.request("GET", "/../tiketi-secret.txt").status, 404);
  EXPECT_EQ(c.request("GET", "/%2e%2e/tiketi-secret.txt").status, 404);
  auto api = c.request("GET", "/api/v1/nothing");
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(error_code_of(api.body), "not_found");
  EXPECT_EQ(c.request("GET", "/hello").body, "hello");  // routes still win
}

}  // namespace
}  // namespace tiketi::net
