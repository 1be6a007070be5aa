#include "net/middleware.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "net/tests/test_support.hpp"

namespace tiketi::net {
namespace {

Middleware tag(std::string name, std::vector<std::string>& trace) {
  return [name, &trace](Request& req, const Next& next) -> Task<Response> {
    trace.push_back(name + ">");
    Response r = co_await next(req);
    trace.push_back("<" + name);
    co_return r;
  };
}

TEST(Middleware, ChainRunsFirstOutermost) {
  std::vector<std::string> trace;
  Handler h = chain({tag("a", trace), tag("b", trace)}, [&](Request&) -> Task<Response> {
    trace.push_back("handler");
    co_return Response::text(200, "x");
  });
  Request req;
  auto resp = test::run_sync([&]() -> Task<Response> { co_return co_await h(req); }());
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(trace, (std::vector<std::string>{"a>", "b>", "handler", "<b", "<a"}));
}

TEST(Middleware, ChainCanShortCircuit) {
  bool called = false;
  Middleware deny = [](Request&, const Next&) -> Task<Response> { co_return Response::json(401, "{}"); };
  Handler h = chain({deny}, [&](Request&) -> Task<Response> {
    called = true;
    co_return Response::text(200, "x");
  });
  Request req;
  auto resp = test::run_sync([&]() -> Task<Response> { co_return co_await h(req); }());
  EXPECT_EQ(resp.status, 401);
  EXPECT_FALSE(called);
}

TEST(Traceparent, ParsesValidHeader) {
  std::string trace, parent;
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", trace, parent));
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parent, "00f067aa0ba902b7");
  // A future version may append fields.
  EXPECT_TRUE(
      parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", trace, parent));
}

TEST(Traceparent, RejectsMalformed) {
  std::string trace = "keep", parent = "keep";
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",           // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // v00 must be exact
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",        // non-hex
       }) {
    EXPECT_FALSE(parse_traceparent(bad, trace, parent)) << bad;
  }
  EXPECT_EQ(trace, "keep");
  EXPECT_EQ(parent, "keep");
}

TEST(Traceparent, MakeRoundTrips) {
  std::string tp = make_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
  EXPECT_EQ(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  std::string trace, parent;
  EXPECT_TRUE(parse_traceparent(tp, trace, parent));
}

TEST(ErrorResponse, ApiErrorBecomesJsonWithStatus) {
  auto r = error_response(errors::not_found("event"), LogContext{});
  EXPECT_EQ(r.status, 404);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_EQ(find_header(r.headers, "Content-Type"), "application/json");
  EXPECT_FALSE(find_header(r.headers, "Retry-After").has_value());
}

TEST(ErrorResponse, RateLimitedCarriesRetryAfter) {
  auto r = error_response(errors::rate_limited(7), LogContext{});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(find_header(r.headers, "Retry-After"), "7");
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "rate_limited");
}

TEST(ErrorResponse, UnknownExceptionIsInternalAndDoesNotLeak) {
  std::string sink;
  log::set_sink_for_tests(&sink);
  auto r = error_response(std::runtime_error("db password is hunter2"), LogContext{"svc", "rid-1", "", ""});
  log::flush();
  log::set_sink_for_tests(nullptr);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "internal");
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
  // ... but the operator can find it in the log.
  EXPECT_NE(sink.find("hunter2"), std::string::npos);
  EXPECT_NE(sink.find("rid-1"), std::string::npos);
}

}  // namespace
}  // namespace tiketi::net
