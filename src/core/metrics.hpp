#pragma once
// A small Prometheus registry written by hand because prometheus-cpp is not packaged in Debian.
// Hot path: a labelled series is looked up once (shared lock) and then updated with relaxed atomics;
// callers that update the same series often keep the returned reference.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tiketi::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const;

 private:
  std::atomic<std::uint64_t> whole_{0};  // whole increments: one fetch_add, no CAS loop
  std::atomic<std::uint64_t> bits_{0};   // fractional increments: double stored as bits
};

class Gauge {
 public:
  void set(double v);
  void add(double v);
  double value() const;

 private:
  std::atomic<std::uint64_t> bits_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  std::vector<std::uint64_t> bucket_counts() const;  // non-cumulative, size bounds+1
  double sum() const;
  std::uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> sum_bits_{0};
  std::atomic<std::uint64_t> count_{0};
};

class Family;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Get-or-create a series; the same name must always be used with the same type and help.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {},
                       const std::vector<double>& bounds = default_latency_buckets());
  // A gauge computed at scrape time (pool sizes, queue lengths, process stats).
  void gauge_callback(std::string_view name, std::string_view help, const Labels& labels,
                      std::function<double()> fn);

  // Text exposition format 0.0.4.
  std::string expose() const;

  static const std::vector<double>& default_latency_buckets();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The process-wide registry; services get it through their context but tests may make their own.
Registry& global();

// process_resident_memory_bytes, process_open_fds, process_cpu_seconds_total, process_start_time_seconds
void register_process_metrics(Registry& r);

}  // namespace tiketi::metrics
