#include <gtest/gtest.h>

#include <thread>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"

namespace tiketi {
namespace {

TEST(ApiError, JsonBodyAndStatusFromTable) {
  auto e = errors::make("seat_unavailable");
  EXPECT_EQ(e.status(), 409);
  auto j = nlohmann::json::parse(e.to_json());
  EXPECT_EQ(j["error"]["code"], "seat_unavailable");
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
}

TEST(ApiError, FieldErrorsAndInvalidUtf8AreSafe) {
  auto e = errors::validation({{"email", std::string("bad \xff\xfe")}});
  auto j = nlohmann::json::parse(e.to_json());
  EXPECT_EQ(j["error"]["fields"][0]["field"], "email");
  EXPECT_EQ(e.status(), 400);
}

TEST(ApiError, RateLimitedCarriesRetryAfter) {
  auto e = errors::rate_limited(3);
  EXPECT_EQ(e.status(), 429);
  EXPECT_EQ(e.retry_after(), 3);
}

TEST(Log, OneJsonObjectPerLineWithContext) {
  std::string sink;
  log::set_sink_for_tests(&sink);
  LogContext ctx{"queue", "req-1", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"};
  log::info(ctx, "joined \"line\"\n", {lf("position", 42), lf("user", "u1")});
  log::debug(ctx, "hidden");
  log::set_sink_for_tests(nullptr);
  ASSERT_EQ(std::count(sink.begin(), sink.end(), '\n'), 1) << sink;
  auto j = nlohmann::json::parse(sink);
  EXPECT_EQ(j["service"], "queue");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "joined \"line\"\n");
  EXPECT_EQ(j["request_id"], "req-1");
  EXPECT_EQ(j["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(j["position"], 42);
  EXPECT_EQ(j["user"], "u1");
  EXPECT_TRUE(j["ts"].get<std::string>().ends_with("Z"));
}

TEST(Log, FieldsViewMoveAndFormatWithoutChangingTheText) {
  std::string sink;
  log::set_sink_for_tests(&sink);
  LogContext ctx{"net", {}, {}, {}};
  std::string lvalue = "a \"quoted\" value with a tab\t and \x01 control";
  auto make = [] { return std::string(40, 'x'); };  // an rvalue: moved into the field
  log::info(ctx, "fields",
            {lf("lvalue", lvalue), lf("rvalue", make()), lf("view", std::string_view("sv")),
             lf("cstr", static_cast<const char*>(nullptr)), lf("ms", 0.125), lf("neg", -7),
             lf("big", 1e21), lf("flag", true)});
  log::set_sink_for_tests(nullptr);
  auto j = nlohmann::json::parse(sink);
  EXPECT_EQ(j["lvalue"], lvalue);
  EXPECT_EQ(j["rvalue"], std::string(40, 'x'));
  EXPECT_EQ(j["view"], "sv");
  EXPECT_EQ(j["cstr"], "");
  EXPECT_DOUBLE_EQ(j["ms"].get<double>(), 0.125);
  EXPECT_EQ(j["neg"], -7);
  EXPECT_DOUBLE_EQ(j["big"].get<double>(), 1e21);
  EXPECT_EQ(j["flag"], true);
  EXPECT_NE(sink.find("\\u0001"), std::string::npos) << sink;
}

TEST(Log, LinesFromManyThreadsNeverInterleave) {
  std::string sink;
  log::set_sink_for_tests(&sink);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      LogContext ctx{"net", std::to_string(t), {}, {}};
      for (int i = 0; i < 500; ++i) {
        log::info(ctx, "line", {lf("i", i), lf("pad", std::string(100, 'p'))});
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  log::set_sink_for_tests(nullptr);
  std::size_t lines = 0;
  std::size_t pos = 0;
  while (pos < sink.size()) {
    auto nl = sink.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    auto j = nlohmann::json::parse(sink.substr(pos, nl - pos));  // throws on a torn line
    EXPECT_EQ(j["msg"], "line");
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 2000u);
}

TEST(Ids, FormatsAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto u = ids::uuid_v4();
    EXPECT_EQ(u.size(), 36u);
    EXPECT_EQ(u[14], '4');
    EXPECT_TRUE(seen.insert(u).second);
  }
  EXPECT_EQ(ids::new_trace_id().size(), 32u);
  EXPECT_EQ(ids::new_span_id().size(), 16u);
  EXPECT_EQ(ids::random_token(32).size(), 43u);
}

TEST(Ids, UuidV7SortsByTime) {
  auto a = ids::uuid_v7(1'700'000'000'000);
  auto b = ids::uuid_v7(1'700'000'000'001);
  EXPECT_LT(a, b);
  EXPECT_EQ(a[14], '7');
}

}  // namespace
}  // namespace tiketi
