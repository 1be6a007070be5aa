#include "net/router.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tiketi::net {
namespace {

Handler ok() {
  return [](Request&) -> Task<Response> { co_return Response::text(200, "ok"); };
}

std::string param(const Match& m, const std::string& name) {
  for (const auto& [k, v] : m.params) {
    if (k == name) {
      return v;
    }
  }
  return "<missing>";
}

TEST(Router, MatchesStaticAndParamSegments) {
  Router r;
  r.add("GET", "/api/v1/events", ok());
  r.add("GET", "/api/v1/events/{id}", ok());
  r.add("GET", "/api/v1/events/{eventId}/seats/{seat}", ok());

  auto m = r.match("GET", "/api/v1/events");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/api/v1/events");
  EXPECT_TRUE(m.params.empty());

  m = r.match("GET", "/api/v1/events/42");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/api/v1/events/{id}");
  EXPECT_EQ(param(m, "id"), "42");

  m = r.match("GET", "/api/v1/events/7/seats/A-12");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/api/v1/events/{eventId}/seats/{seat}");
  EXPECT_EQ(param(m, "eventId"), "7");
  EXPECT_EQ(param(m, "seat"), "A-12");
}

TEST(Router, StaticBeatsParamAndBacktracks) {
  Router r;
  r.add("GET", "/events/{id}", ok());
  r.add("GET", "/events/new", ok());
  r.add("GET", "/a/{x}/c", ok());
  r.add("GET", "/a/b/d", ok());

  auto m = r.match("GET", "/events/new");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/events/new");
  m = r.match("GET", "/events/newer");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/events/{id}");

  // "b" matches the static branch first, which then fails on "c": the param branch must win.
  m = r.match("GET", "/a/b/c");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/a/{x}/c");
  EXPECT_EQ(param(m, "x"), "b");
}

TEST(Router, MethodSpecificBranchWins) {
  Router r;
  r.add("POST", "/a/b", ok());
  r.add("GET", "/a/{x}", ok());
  auto m = r.match("GET", "/a/b");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->templ, "/a/{x}");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router r;
  r.add("GET", "/items/{id}", ok());
  r.add("DELETE", "/items/{id}", ok());

  auto m = r.match("GET", "/nope");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);

  m = r.match("GET", "/items");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);

  m = r.match("POST", "/items/3");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "DELETE"}));
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  r.add("GET", "/x", ok());
  auto m = r.match("HEAD", "/x");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
}

TEST(Router, DuplicateRouteThrows) {
  Router r;
  r.add("GET", "/items/{id}", ok());
  EXPECT_THROW(r.add("GET", "/items/{other}", ok()), std::logic_error);
  EXPECT_NO_THROW(r.add("PUT", "/items/{id}", ok()));
  EXPECT_THROW(r.add("PUT", "/items/{id}", ok()), std::logic_error);
}

TEST(Router, TrailingAndRepeatedSlashesAreIgnored) {
  Router r;
  r.add("GET", "/health/live", ok());
  EXPECT_NE(r.match("GET", "/health/live/").route, nullptr);
  EXPECT_NE(r.match("GET", "//health//live").route, nullptr);
  EXPECT_EQ(r.match("GET", "/health").route, nullptr);
  EXPECT_EQ(r.match("GET", "/health/live/x").route, nullptr);
}

TEST(Router, RootAndWebSocketRoutes) {
  Router r;
  r.add("GET", "/", ok());
  r.add_ws("/ws/{topic}", [](Request&, WebSocketPtr) -> Task<void> { co_return; });
  auto m = r.match("GET", "/");
  ASSERT_NE(m.route, nullptr);
  m = r.match("GET", "/ws/news");
  ASSERT_NE(m.route, nullptr);
  EXPECT_TRUE(m.route->options.websocket);
  EXPECT_TRUE(static_cast<bool>(m.route->ws_handler));
  EXPECT_EQ(param(m, "topic"), "news");
  EXPECT_EQ(r.routes().size(), 2u);
}

TEST(Http, ParseTargetDecodesPathAndQuery) {
  std::string path;
  std::vector<std::pair<std::string, std::string>> q;
  parse_target("/a%20b/c?x=1&y=hello+world&z=%2F&flag", path, q);
  EXPECT_EQ(path, "/a b/c");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[1].second, "hello world");
  EXPECT_EQ(q[2].second, "/");
  EXPECT_EQ(q[3].first, "flag");
  EXPECT_EQ(percent_decode("%zz%4", false), "%zz%4");

  Request req;
  req.query = q;
  EXPECT_EQ(req.query_param("x"), "1");
  EXPECT_FALSE(req.query_param("nope").has_value());
  req.params = {{"id", "5"}};
  EXPECT_EQ(req.param("id"), "5");
  EXPECT_THROW(req.param("missing"), std::exception);
}

TEST(Http, HeadersAreCaseInsensitive) {
  Headers h;
  set_header(h, "Content-Type", "a");
  set_header(h, "content-type", "b");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(find_header(h, "CONTENT-TYPE"), "b");
  auto r = Response::json(201, "{}");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(find_header(r.headers, "content-type"), "application/json");
  EXPECT_EQ(Response::redirect("/x").status, 302);
  EXPECT_EQ(Response::no_content().status, 204);
}

}  // namespace
}  // namespace tiketi::net
