#include "core/log.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

namespace tiketi {

LogField lf(std::string_view key, std::string_view v) {
  LogField f;
  f.key = key;
  f.text = v;
  return f;
}
LogField lf(std::string_view key, const char* v) { return lf(key, std::string_view(v != nullptr ? v : "")); }
LogField lf(std::string_view key, const std::string& v) { return lf(key, std::string_view(v)); }
LogField lf(std::string_view key, std::string&& v) {
  LogField f;
  f.key = key;
  f.owned = std::move(v);
  f.use_owned = true;
  return f;
}
LogField lf(std::string_view key, long long v) {
  LogField f;
  f.key = key;
  auto [end, ec] = std::to_chars(f.num, f.num + sizeof f.num, v);
  f.num_len = static_cast<unsigned char>(end - f.num);
  f.raw = true;
  return f;
}
LogField lf(std::string_view key, double v) {
  LogField f;
  f.key = key;
  // Shortest text that reads back as the same double (what fmt's "{}" printed before).
  auto [end, ec] = std::to_chars(f.num, f.num + sizeof f.num, v);
  if (ec != std::errc{}) {
    end = f.num;
    *end++ = '0';
  }
  f.num_len = static_cast<unsigned char>(end - f.num);
  f.raw = true;
  return f;
}
LogField lf(std::string_view key, bool v) {
  LogField f;
  f.key = key;
  f.text = v ? "true" : "false";
  f.raw = true;
  return f;
}

namespace log {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

constexpr std::size_t kBacklogLimit = 8u << 20;  // beyond this, callers write themselves
constexpr auto kFlushEvery = std::chrono::milliseconds(100);

// Pending lines, appended under a short lock; `drain` swaps them out and writes outside it.
struct Sink {
  std::mutex mu;             // guards pending, spare, test_sink, stop
  std::mutex write_mu;       // serialises writes to stdout, so lines keep their order
  std::condition_variable cv;
  std::string pending;
  std::string spare;  // the previous buffer, reused so steady state allocates nothing
  std::string* test_sink = nullptr;
  bool stop = false;
  bool started = false;
  std::thread writer;

  ~Sink() {
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    cv.notify_all();
    if (writer.joinable()) {
      writer.join();
    }
    drain();
  }

  void start_writer_locked() {
    if (started) {
      return;
    }
    started = true;
    writer = std::thread([this] {
      std::unique_lock lk(mu);
      while (!stop) {
        cv.wait_for(lk, kFlushEvery);
        if (pending.empty()) {
          continue;
        }
        lk.unlock();
        drain();
        lk.lock();
      }
    });
  }

  // Writes everything pending, in order. Safe from any thread.
  void drain() {
    std::lock_guard w(write_mu);
    std::string out;
    {
      std::lock_guard lk(mu);
      if (pending.empty()) {
        return;
      }
      out.swap(spare);
      out.swap(pending);  // pending takes the spare's capacity, out holds the lines
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    out.clear();
    if (out.capacity() > (1u << 20)) {
      out.shrink_to_fit();  // one burst must not pin a large buffer forever
    }
    std::lock_guard lk(mu);
    if (spare.capacity() < out.capacity()) {
      spare.swap(out);
    }
  }
};

Sink& sink() {
  static Sink s;
  return s;
}

// Characters that must be escaped in a JSON string.
constexpr std::array<bool, 256> kEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) {
    t[static_cast<std::size_t>(c)] = true;
  }
  t['"'] = true;
  t['\\'] = true;
  return t;
}();

void append_escaped(std::string& out, std::string_view s) {
  std::size_t run = 0;  // start of the current run of plain characters
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (!kEscape[c]) {
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
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
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(u, sizeof u);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
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
  thread_local std::size_t cached_len = 0;
  long long sec = ms / 1000;
  if (sec != cached_sec) {
    std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    gmtime_r(&t, &tm);
    cached_len = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_sec = sec;
  }
  out.append(cached, cached_len);
  auto milli = static_cast<int>(ms % 1000);
  char frac[5] = {'.', static_cast<char>('0' + milli / 100), static_cast<char>('0' + milli / 10 % 10),
                  static_cast<char>('0' + milli % 10), 'Z'};
  out.append(frac, sizeof frac);
}

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

void set_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

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
  if (line.capacity() > (64u << 10)) {
    line = std::string();  // one huge line (a long error text) must not pin a large buffer
  }
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
    append_kv(line, f.key, f.value(), f.raw);
  }
  line += "}\n";

  auto& s = sink();
  bool flush_now = lvl >= LogLevel::warn;
  {
    std::lock_guard lk(s.mu);
    if (s.test_sink != nullptr) {
      *s.test_sink += line;
      return;
    }
    s.start_writer_locked();
    s.pending += line;
    flush_now = flush_now || s.pending.size() > kBacklogLimit;
  }
  if (flush_now) {
    s.drain();
  }
}

void set_sink_for_tests(std::string* out) {
  auto& s = sink();
  s.drain();
  std::lock_guard lk(s.mu);
  s.test_sink = out;
}

void flush() { sink().drain(); }

}  // namespace log
}  // namespace tiketi
