#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace tiketi {

LogField lf(std::string_view key, std::string_view v) { return {key, std::string(v), false}; }
LogField lf(std::string_view key, const char* v) { return {key, std::string(v ? v : ""), false}; }
LogField lf(std::string_view key, long long v) { return {key, std::to_string(v), true}; }
LogField lf(std::string_view key, double v) { return {key, fmt::format("{}", v), true}; }
LogField lf(std::string_view key, bool v) { return {key, v ? "true" : "false", true}; }

namespace log {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::mutex g_mu;
std::string* g_test_sink = nullptr;

// stdout is fully buffered and flushed by a background thread every 200 ms (and at once for
// warnings/errors): one write(2) per request would dominate a 70k req/s access-logged route.
class Flusher {
 public:
  Flusher() {
    std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
    thread_ = std::thread([this] {
      std::unique_lock lk(m_);
      while (!stop_) {
        cv_.wait_for(lk, std::chrono::milliseconds(200));
        std::lock_guard g(g_mu);
        std::fflush(stdout);
      }
    });
  }
  ~Flusher() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard g(g_mu);
    std::fflush(stdout);
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

void ensure_flusher() { static Flusher f; }

void append_escaped(std::string& out, std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(ch);
        }
    }
  }
}

void append_kv(std::string& out, std::string_view key, std::string_view value, bool raw) {
  out += ",\"";
  append_escaped(out, key);
  out += "\":";
  if (raw) {
    out += value;
  } else {
    out.push_back('"');
    append_escaped(out, value);
    out.push_back('"');
  }
}

// "2026-11-21T21:29:41.123Z"; the seconds part is cached per thread.
void append_timestamp(std::string& out) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  thread_local long long cached_sec = -1;
  thread_local char cached[32];
  long long sec = ms / 1000;
  if (sec != cached_sec) {
    std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_sec = sec;
  }
  out += cached;
  out += fmt::format(".{:03d}Z", static_cast<int>(ms % 1000));
}

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

void set_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel level() { return static_cast<LogLevel>(g_level.load()); }

bool parse_level(std::string_view text, LogLevel& out) {
  if (text == "debug") {
    out = LogLevel::debug;
  } else if (text == "info") {
    out = LogLevel::info;
  } else if (text == "warn" || text == "warning") {
    out = LogLevel::warn;
  } else if (text == "error") {
    out = LogLevel::error;
  } else if (text == "off") {
    out = LogLevel::off;
  } else {
    return false;
  }
  return true;
}

void write(LogLevel lvl, const LogContext& ctx, std::string_view msg,
           std::initializer_list<LogField> fields) {
  if (static_cast<int>(lvl) < g_level.load(std::memory_order_relaxed) || lvl == LogLevel::off) {
    return;
  }
  thread_local std::string line;
  line.clear();
  line += "{\"ts\":\"";
  append_timestamp(line);
  line += '"';
  append_kv(line, "level", kLevelNames[static_cast<int>(lvl)], false);
  append_kv(line, "service", ctx.service.empty() ? std::string_view("tiketi") : ctx.service, false);
  append_kv(line, "msg", msg, false);
  if (!ctx.request_id.empty()) {
    append_kv(line, "request_id", ctx.request_id, false);
  }
  if (!ctx.trace_id.empty()) {
    append_kv(line, "trace_id", ctx.trace_id, false);
  }
  if (!ctx.span_id.empty()) {
    append_kv(line, "span_id", ctx.span_id, false);
  }
  for (const auto& f : fields) {
    append_kv(line, f.key, f.value, f.raw);
  }
  line += "}\n";

  std::lock_guard g(g_mu);
  if (g_test_sink != nullptr) {
    *g_test_sink += line;
    return;
  }
  ensure_flusher();
  std::fwrite(line.data(), 1, line.size(), stdout);
  if (lvl >= LogLevel::warn) {
    std::fflush(stdout);
  }
}

void set_sink_for_tests(std::string* sink) {
  std::lock_guard g(g_mu);
  g_test_sink = sink;
}

void flush() {
  std::lock_guard g(g_mu);
  std::fflush(stdout);
}

}  // namespace log
}  // namespace tiketi
