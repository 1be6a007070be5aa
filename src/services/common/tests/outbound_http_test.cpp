// OutboundHttp against real servers on 127.0.0.1: the project's own HTTP server for plain HTTP
// (method, headers, body, Basic auth, timeouts, refused connections, many requests in flight) and
// `openssl s_server` with a certificate made by the test for HTTPS (trusted CA vs untrusted).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "core/metrics.hpp"
#include "core/testing/loop.hpp"
#include "net/router.hpp"
#include "net/server.hpp"
#include "services/common/outbound_http.hpp"

namespace tiketi::common {
namespace {

using namespace std::chrono_literals;
using test_support::Loop;

class OutboundHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net::Router router;
    router.add("POST", "/echo", [](net::Request& req) -> Task<net::Response> {
      std::string auth(req.header("Authorization").value_or(""));
      std::string ctype(req.header("Content-Type").value_or(""));
      std::string custom(req.header("X-Custom").value_or(""));
      auto r = net::Response::text(201, req.method + "|" + auth + "|" + ctype + "|" + custom + "|" + req.body);
      r.header("X-Answer", "42");
      co_return r;
    });
    router.add("PUT", "/echo", [](net::Request& req) -> Task<net::Response> {
      co_return net::Response::text(200, req.method + ":" + req.body);
    });
    router.add("GET", "/slow", [](net::Request&) -> Task<net::Response> {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 2s);
      co_await timer.async_wait(boost::asio::use_awaitable);
      co_return net::Response::text(200, "late");
    });
    router.add("GET", "/status/{code}", [](net::Request& req) -> Task<net::Response> {
      co_return net::Response::text(std::stoi(req.param("code")), "s");
    });
    net::ServerOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.threads = 1;
    opts.access_log = false;
    server_ = std::make_unique<net::Server>(opts, std::move(router), registry_);
    server_->start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->shutdown(100);
    server_->join();
  }

  metrics::Registry registry_;
  std::unique_ptr<net::Server> server_;
  std::string base_;
  Loop loop_;
};

TEST_F(OutboundHttpTest, SendsMethodHeadersBodyAndBasicAuth) {
  OutboundHttp http;
  OutboundRequest req;
  req.method = "POST";
  req.url = base_ + "/echo";
  req.body = R"({"a":1})";
  req.headers = {{"Content-Type", "application/json"}, {"X-Custom", "v"}};
  req.basic_auth = std::make_pair(std::string("test_sk"), std::string(""));
  auto resp = loop_.run(http.send(req));
  ASSERT_TRUE(resp.ok()) << resp.error;
  EXPECT_EQ(resp.status, 201);
  // "test_sk:" base64 = dGVzdF9zazo=
  EXPECT_EQ(resp.body, R"(POST|Basic dGVzdF9zazo=|application/json|v|{"a":1})");
  EXPECT_EQ(resp.header("x-answer").value_or(""), "42");
  EXPECT_EQ(resp.header("X-Answer").value_or(""), "42");
  EXPECT_TRUE(resp.sent);

  OutboundRequest put;
  put.method = "PUT";
  put.url = base_ + "/echo";
  put.body = "object bytes";
  auto r2 = loop_.run(http.send(put));
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, "PUT:object bytes");
}

TEST_F(OutboundHttpTest, ErrorStatusesAreAnswersNotErrors) {
  OutboundHttp http;
  OutboundRequest req;
  req.url = base_ + "/status/503";
  auto resp = loop_.run(http.send(req));
  EXPECT_TRUE(resp.ok());
  EXPECT_EQ(resp.status, 503);
}

TEST_F(OutboundHttpTest, TimeoutIsAnUnknownOutcome) {
  OutboundHttp http;
  OutboundRequest req;
  req.url = base_ + "/slow";
  req.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto resp = loop_.run(http.send(req));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(resp.ok());
  EXPECT_TRUE(resp.timed_out);
  EXPECT_TRUE(resp.sent);  // the server got the request: the outcome is unknown, never "not sent"
  EXPECT_EQ(resp.status, 0);
  EXPECT_LT(took, 1500ms);
}

TEST_F(OutboundHttpTest, RefusedConnectionIsNotSent) {
  OutboundHttp http;
  OutboundRequest req;
  req.url = "http://127.0.0.1:1/nothing";
  auto resp = loop_.run(http.send(req));
  EXPECT_FALSE(resp.ok());
  EXPECT_FALSE(resp.timed_out);
  EXPECT_FALSE(resp.sent);
}

TEST_F(OutboundHttpTest, RejectsHeaderInjectionAndOtherSchemes) {
  OutboundHttp http;
  OutboundRequest req;
  req.url = base_ + "/status/200";
  req.headers = {{"X-Evil", "a\r\nHost: other"}};
  auto resp = loop_.run(http.send(req));
  EXPECT_FALSE(resp.ok());
  EXPECT_FALSE(resp.sent);
  OutboundRequest file;
  file.url = "file:///etc/passwd";
  auto r2 = loop_.run(http.send(file));
  EXPECT_FALSE(r2.ok());
  EXPECT_TRUE(r2.body.empty());
}

TEST_F(OutboundHttpTest, ManyRequestsInFlightOnOneThread) {
  // 200 requests to a route that takes 2 s, each with a 2.5 s timeout: they can only all succeed
  // if they run concurrently (sequentially it would take 400 s).
  OutboundHttp http;
  auto one = [&http, this]() -> Task<int> {
    OutboundRequest req;
    req.url = base_ + "/slow";
    req.timeout = 6s;
    auto resp = co_await http.send(req);
    co_return resp.status;
  };
  std::vector<std::future<int>> futures;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    futures.push_back(loop_.spawn(one()));
  }
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get() == 200 ? 1 : 0;
  }
  EXPECT_EQ(ok, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6s);
  EXPECT_EQ(http.in_flight(), 0u);
}

// --- HTTPS -------------------------------------------------------------------------------------

class TlsServer {
 public:
  explicit TlsServer(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
               "-addext subjectAltName=IP:127.0.0.1 -keyout " +
               (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() + " 2>/dev/null";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) {
      return;
    }
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = 20000 + static_cast<int>((::getpid() * 7 + attempt * 7919) % 40000);
      pid_t pid = ::fork();
      if (pid == 0) {
        auto port = "127.0.0.1:" + std::to_string(port_);
        auto cert = (dir_ / "cert.pem").string();
        auto key = (dir_ / "key.pem").string();
        ::execlp("openssl", "openssl", "s_server", "-quiet", "-accept", port.c_str(), "-cert", cert.c_str(),
                 "-key", key.c_str(), "-www", static_cast<char*>(nullptr));
        ::_exit(127);
      }
      // Wait until it listens (or died because the port was taken).
      for (int i = 0; i < 50; ++i) {
        std::this_thread::sleep_for(100ms);
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          pid = -1;
          break;
        }
        if (std::system(("ss -Htln 'sport = :" + std::to_string(port_) + "' | grep -q .").c_str()) == 0) {
          break;
        }
      }
      pid_ = pid;
    }
  }
  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  bool ok() const { return ok_ && pid_ > 0; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::string ca() const { return (dir_ / "cert.pem").string(); }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(OutboundHttpsTest, TrustsTheConfiguredCaAndRefusesAnUntrustedCertificate) {
  Loop loop;
  TlsServer tls(std::filesystem::temp_directory_path() / ("tiketi-tls-" + test_support::random_suffix()));
  ASSERT_TRUE(tls.ok()) << "openssl could not start a TLS server";

  OutboundHttp trusted(OutboundOptions{.ca_file = tls.ca()});
  OutboundRequest req;
  req.url = tls.url();
  auto resp = loop.run(trusted.send(req));
  ASSERT_TRUE(resp.ok()) << resp.error;
  EXPECT_EQ(resp.status, 200);
  EXPECT_NE(resp.body.find("s_server"), std::string::npos);

  OutboundHttp system_store;  // the self-signed certificate is not in the system store
  auto bad = loop.run(system_store.send(req));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status, 0);
  EXPECT_FALSE(bad.sent);  // refused during the handshake: nothing reached the server
}

}  // namespace
}  // namespace tiketi::common
