#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tiketi::metrics {
namespace {

TEST(Metrics, CounterExposition) {
  Registry r;
  r.counter("http_requests_total", "Requests.", {{"route", "/a/{id}"}, {"status", "200"}}).inc();
  r.counter("http_requests_total", "Requests.", {{"route", "/a/{id}"}, {"status", "200"}}).inc(2);
  auto text = r.expose();
  EXPECT_NE(text.find("# TYPE http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/a/{id}\",status=\"200\"} 3\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "Latency.", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.expose();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_sum 5.55\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.gauge("g", "G.", {{"k", "a\"b\\c"}}).set(1);
  EXPECT_NE(r.expose().find("g{k=\"a\\\"b\\\\c\"} 1"), std::string::npos);
}

TEST(Metrics, ConcurrentIncrementsAreExact) {
  Registry r;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        r.counter("c_total", "C.", {{"t", "x"}}).inc();
      }
    });
  }
  for (auto& t : ts) {
    t.join();
  }
  EXPECT_DOUBLE_EQ(r.counter("c_total", "C.", {{"t", "x"}}).value(), 40000);
}

TEST(Metrics, TypeClashIsALogicError) {
  Registry r;
  r.counter("x", "X.");
  EXPECT_THROW(r.gauge("x", "X."), std::logic_error);
}

TEST(Metrics, CallbacksAndProcessMetrics) {
  Registry r;
  register_process_metrics(r);
  auto text = r.expose();
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
}

}  // namespace
}  // namespace tiketi::metrics
