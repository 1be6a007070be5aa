#pragma once
// JSON logs, one object per line on stdout: {"ts","level","service","msg","request_id","trace_id",...}.
// Context travels explicitly (coroutines hop threads, so no thread-locals).
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tiketi {

struct LogContext {
  std::string service;     // "auth", "queue", ... or "tiketi" for the process itself
  std::string request_id;  // empty outside a request
  std::string trace_id;    // 32 hex, from traceparent or generated
  std::string span_id;     // 16 hex, this hop's span
};

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// A field of one log line. Text values are viewed, not copied (the line is written before the
// log call's full expression ends, so an argument outlives its field); an rvalue std::string is
// moved in; numbers are formatted into the field itself. Nothing here allocates except the
// moved string, so an access-log line per request costs no heap traffic.
struct LogField {
  std::string_view key;
  std::string_view text;
  std::string owned;
  char num[32];
  unsigned char num_len = 0;
  bool use_owned = false;
  bool raw = false;  // written unquoted (numbers, booleans)

  std::string_view value() const {
    if (num_len != 0) {
      return {num, num_len};
    }
    return use_owned ? std::string_view(owned) : text;
  }
};
LogField lf(std::string_view key, std::string_view v);
LogField lf(std::string_view key, const char* v);
LogField lf(std::string_view key, const std::string& v);
LogField lf(std::string_view key, std::string&& v);
LogField lf(std::string_view key, long long v);
LogField lf(std::string_view key, double v);
LogField lf(std::string_view key, bool v);
inline LogField lf(std::string_view key, int v) { return lf(key, static_cast<long long>(v)); }
inline LogField lf(std::string_view key, long v) { return lf(key, static_cast<long long>(v)); }
inline LogField lf(std::string_view key, unsigned long v) {
  return lf(key, static_cast<long long>(v));
}

namespace log {
void set_level(LogLevel level);
LogLevel level();
bool parse_level(std::string_view text, LogLevel& out);
// Lines are formatted on the calling thread and appended to one in-memory buffer (a short lock,
// no system call); a background thread writes that buffer to stdout every 100 ms, so a slow
// stdout (pipe, file, terminal) never blocks an I/O thread. Warnings and errors are written at
// once. Lines from different threads never interleave. When the writer falls more than 8 MiB
// behind, callers write themselves (back-pressure instead of unbounded memory).
void write(LogLevel level, const LogContext& ctx, std::string_view msg,
           std::initializer_list<LogField> fields = {});
inline void debug(const LogContext& c, std::string_view m, std::initializer_list<LogField> f = {}) {
  write(LogLevel::debug, c, m, f);
}
inline void info(const LogContext& c, std::string_view m, std::initializer_list<LogField> f = {}) {
  write(LogLevel::info, c, m, f);
}
inline void warn(const LogContext& c, std::string_view m, std::initializer_list<LogField> f = {}) {
  write(LogLevel::warn, c, m, f);
}
inline void error(const LogContext& c, std::string_view m, std::initializer_list<LogField> f = {}) {
  write(LogLevel::error, c, m, f);
}
// Tests capture output here instead of stdout (nullptr restores stdout).
void set_sink_for_tests(std::string* sink);
void flush();
}  // namespace log

}  // namespace tiketi
