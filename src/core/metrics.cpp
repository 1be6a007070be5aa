#include "core/metrics.hpp"

#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace tiketi::metrics {
namespace {

double from_bits(std::uint64_t b) { return std::bit_cast<double>(b); }
std::uint64_t to_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

void atomic_add(std::atomic<std::uint64_t>& a, double v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, to_bits(from_bits(cur) + v), std::memory_order_relaxed)) {
  }
}

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// `{a="x",b="y"}` or "" — also the series key inside a family.
std::string label_text(const Labels& labels, std::string_view extra_key = {},
                       std::string_view extra_val = {}) {
  if (labels.empty() && extra_key.empty()) {
    return {};
  }
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) {
      s += ',';
    }
    first = false;
    s += k;
    s += "=\"";
    s += escape_label(v);
    s += '"';
  }
  if (!extra_key.empty()) {
    if (!first) {
      s += ',';
    }
    s += extra_key;
    s += "=\"";
    s += extra_val;
    s += '"';
  }
  s += '}';
  return s;
}

std::string fmt_double(double v) {
  if (v == static_cast<double>(static_cast<long long>(v)) && v < 1e15 && v > -1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  return fmt::format("{}", v);
}

enum class Type { counter, gauge, histogram, callback };

struct Series {
  Labels labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> fn;
};

}  // namespace

class Family {
 public:
  Type type;
  std::string help;
  std::map<std::string, Series> series;  // by label text, sorted for stable output
};

void Counter::inc(double v) {
  // Counts are almost always whole (requests, errors): those take a single fetch_add.
  if (v >= 0 && v < 4294967296.0 && v == static_cast<double>(static_cast<std::uint64_t>(v))) {
    whole_.fetch_add(static_cast<std::uint64_t>(v), std::memory_order_relaxed);
    return;
  }
  atomic_add(bits_, v);
}
double Counter::value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         from_bits(bits_.load(std::memory_order_relaxed));
}
void Gauge::set(double v) { bits_.store(to_bits(v), std::memory_order_relaxed); }
void Gauge::add(double v) { atomic_add(bits_, v); }
double Gauge::value() const { return from_bits(bits_.load(std::memory_order_relaxed)); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0);
  }
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_bits_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    out[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return out;
}
double Histogram::sum() const { return from_bits(sum_bits_.load(std::memory_order_relaxed)); }
std::uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

struct Registry::Impl {
  mutable std::shared_mutex mu;
  std::map<std::string, Family, std::less<>> families;

  Series& get(std::string_view name, std::string_view help, Type type, const Labels& labels,
              const std::vector<double>* bounds) {
    std::string key = label_text(labels);
    {
      std::shared_lock lk(mu);
      auto f = families.find(name);
      if (f != families.end()) {
        if (f->second.type != type) {
          throw std::logic_error("metric " + std::string(name) + " registered with two types");
        }
        auto s = f->second.series.find(key);
        if (s != f->second.series.end()) {
          return s->second;
        }
      }
    }
    std::unique_lock lk(mu);
    auto [f, inserted] = families.try_emplace(std::string(name));
    if (inserted) {
      f->second.type = type;
      f->second.help = std::string(help);
    } else if (f->second.type != type) {
      throw std::logic_error("metric " + std::string(name) + " registered with two types");
    }
    auto [s, fresh] = f->second.series.try_emplace(key);
    if (fresh) {
      s->second.labels = labels;
      switch (type) {
        case Type::counter:
          s->second.counter = std::make_unique<Counter>();
          break;
        case Type::gauge:
          s->second.gauge = std::make_unique<Gauge>();
          break;
        case Type::histogram:
          s->second.histogram = std::make_unique<Histogram>(*bounds);
          break;
        case Type::callback:
          break;
      }
    }
    return s->second;
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  return *impl_->get(name, help, Type::counter, labels, nullptr).counter;
}
Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return *impl_->get(name, help, Type::gauge, labels, nullptr).gauge;
}
Histogram& Registry::histogram(std::string_view name, std::string_view help, const Labels& labels,
                               const std::vector<double>& bounds) {
  return *impl_->get(name, help, Type::histogram, labels, &bounds).histogram;
}
void Registry::gauge_callback(std::string_view name, std::string_view help, const Labels& labels,
                              std::function<double()> fn) {
  auto& s = impl_->get(name, help, Type::callback, labels, nullptr);
  std::unique_lock lk(impl_->mu);
  s.fn = std::move(fn);
}

const std::vector<double>& Registry::default_latency_buckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}

std::string Registry::expose() const {
  // Callbacks run under the shared lock: they must never register metrics themselves.
  std::string out;
  std::shared_lock lk(impl_->mu);
  for (const auto& [name, fam] : impl_->families) {
    const char* type = fam.type == Type::counter     ? "counter"
                       : fam.type == Type::histogram ? "histogram"
                                                     : "gauge";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name, type);
    for (const auto& [key, s] : fam.series) {
      switch (fam.type) {
        case Type::counter:
          out += name + key + ' ' + fmt_double(s.counter->value()) + '\n';
          break;
        case Type::gauge:
          out += name + key + ' ' + fmt_double(s.gauge->value()) + '\n';
          break;
        case Type::callback:
          out += name + key + ' ' + fmt_double(s.fn ? s.fn() : 0.0) + '\n';
          break;
        case Type::histogram: {
          auto counts = s.histogram->bucket_counts();
          const auto& bounds = s.histogram->bounds();
          std::uint64_t cum = 0;
          for (std::size_t i = 0; i < bounds.size(); ++i) {
            cum += counts[i];
            out += name + "_bucket" + label_text(s.labels, "le", fmt_double(bounds[i])) + ' ' +
                   std::to_string(cum) + '\n';
          }
          cum += counts[bounds.size()];
          out += name + "_bucket" + label_text(s.labels, "le", "+Inf") + ' ' + std::to_string(cum) + '\n';
          out += name + "_sum" + key + ' ' + fmt_double(s.histogram->sum()) + '\n';
          out += name + "_count" + key + ' ' + std::to_string(cum) + '\n';
          break;
        }
      }
    }
  }
  return out;
}

Registry& global() {
  static Registry r;
  return r;
}

void register_process_metrics(Registry& r) {
  static const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  r.gauge_callback("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", {},
                   [] { return start; });
  r.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.", {}, [] {
    std::ifstream f("/proc/self/statm");
    long pages = 0;
    long rss = 0;
    f >> pages >> rss;
    return static_cast<double>(rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
  });
  r.gauge_callback("process_open_fds", "Number of open file descriptors.", {}, [] {
    std::error_code ec;
    double n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      n += 1;
    }
    return n;
  });
  r.gauge_callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {}, [] {
    std::ifstream f("/proc/self/stat");
    std::string tok;
    double ticks = 0;
    for (int i = 1; i <= 15 && f >> tok; ++i) {
      if (i == 14 || i == 15) {
        ticks += std::stod(tok);
      }
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  });
}

}  // namespace tiketi::metrics
