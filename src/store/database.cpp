// Row/Result conversions and the open() factory that picks the adapter from the URL.
#include "store/database.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "store/detail/adapters.hpp"

namespace tiketi::store {

namespace {

std::string describe_column(const std::vector<std::string>* columns, std::size_t i) {
  if (columns != nullptr && i < columns->size()) {
    return (*columns)[i];
  }
  return "#" + std::to_string(i);
}

std::string format_double(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc{}) {
    return std::to_string(v);
  }
  return std::string(buf, end);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Service names become PostgreSQL schema names and SQLite file names: keep them boring.
void check_schema_name(const std::string& schema) {
  if (schema.empty() || schema.size() > 63) {
    throw std::invalid_argument("database schema name must be 1..63 characters");
  }
  for (char c : schema) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      throw std::invalid_argument("database schema name '" + schema + "' may only contain [A-Za-z0-9_]");
    }
  }
}

}  // namespace

Row::Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
    : columns_(std::move(columns)), values_(std::move(values)) {}

bool Row::is_null(std::size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
bool Row::is_null(std::string_view column) const { return is_null(index_of(column)); }

std::size_t Row::index_of(std::string_view column) const {
  if (columns_) {
    auto it = std::find(columns_->begin(), columns_->end(), column);
    if (it != columns_->end()) {
      return static_cast<std::size_t>(it - columns_->begin());
    }
  }
  throw std::out_of_range("no column '" + std::string(column) + "' in result row");
}

std::int64_t Row::i64(std::size_t i) const {
  const Value& v = values_.at(i);
  if (const auto* n = std::get_if<std::int64_t>(&v)) {
    return *n;
  }
  if (const auto* d = std::get_if<double>(&v)) {
    // numeric aggregates (SUM of BIGINT on PostgreSQL) arrive as double when they have a fraction
    if (!std::isfinite(*d) || std::trunc(*d) != *d) {
      throw std::runtime_error("column " + describe_column(columns_.get(), i) + " is not an integer");
    }
    return static_cast<std::int64_t>(*d);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec != std::errc{} || ptr != s->data() + s->size()) {
      throw std::runtime_error("column " + describe_column(columns_.get(), i) + " is not an integer: '" + *s +
                               "'");
    }
    return out;
  }
  throw std::runtime_error("column " + describe_column(columns_.get(), i) + " is NULL");
}

double Row::f64(std::size_t i) const {
  const Value& v = values_.at(i);
  if (const auto* d = std::get_if<double>(&v)) {
    return *d;
  }
  if (const auto* n = std::get_if<std::int64_t>(&v)) {
    return static_cast<double>(*n);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    errno = 0;
    char* end = nullptr;
    const double d = std::strtod(s->c_str(), &end);
    if (end != s->c_str() + s->size() || s->empty() || errno == ERANGE) {
      throw std::runtime_error("column " + describe_column(columns_.get(), i) + " is not a number: '" + *s +
                               "'");
    }
    return d;
  }
  throw std::runtime_error("column " + describe_column(columns_.get(), i) + " is NULL");
}

std::string Row::str(std::size_t i) const {
  const Value& v = values_.at(i);
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  if (const auto* n = std::get_if<std::int64_t>(&v)) {
    return std::to_string(*n);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return format_double(*d);
  }
  throw std::runtime_error("column " + describe_column(columns_.get(), i) + " is NULL");
}

std::int64_t Row::i64(std::string_view column) const { return i64(index_of(column)); }
double Row::f64(std::string_view column) const { return f64(index_of(column)); }
std::string Row::str(std::string_view column) const { return str(index_of(column)); }

std::optional<std::int64_t> Row::opt_i64(std::string_view column) const {
  const std::size_t i = index_of(column);
  if (is_null(i)) {
    return std::nullopt;
  }
  return i64(i);
}

std::optional<std::string> Row::opt_str(std::string_view column) const {
  const std::size_t i = index_of(column);
  if (is_null(i)) {
    return std::nullopt;
  }
  return str(i);
}

const Row& Result::one() const {
  if (rows.size() != 1) {
    throw std::runtime_error("expected exactly one row, got " + std::to_string(rows.size()));
  }
  return rows.front();
}

Task<DatabasePtr> open(Executor ex, OpenOptions opts) {
  check_schema_name(opts.schema);
  const std::string_view url = opts.url;
  if (starts_with(url, "sqlite:")) {
    std::string dir(url.substr(7));
    if (starts_with(dir, "//")) {  // tolerate sqlite:///abs/path
      dir.erase(0, 2);
    }
    if (dir.empty()) {
      throw std::invalid_argument("database url '" + opts.url + "': sqlite needs a directory (sqlite:<dir>)");
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      throw std::invalid_argument("database url '" + opts.url +
                                  "': cannot create directory: " + ec.message());
    }
    std::string file = (std::filesystem::path(dir) / (opts.schema + ".db")).string();
    co_return co_await detail::open_sqlite(std::move(ex), opts, std::move(file));
  }
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
    if (opts.pool_size < 1) {
      throw std::invalid_argument("database pool size must be at least 1");
    }
    co_return co_await detail::open_postgres(std::move(ex), opts);
  }
  // Only the scheme is echoed: the rest of a URL may hold a password.
  const std::string scheme(url.substr(0, std::min(url.find(':'), url.size())));
  throw std::invalid_argument("database url scheme '" + scheme +
                              "' is not supported (use sqlite:<dir> or postgres://user@host:port/db)");
}

}  // namespace tiketi::store
