#include "core/config.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace tiketi {
namespace {

[[noreturn]] void bad(const std::string& setting, const std::string& why) {
  throw std::invalid_argument("setting " + setting + ": " + why);
}

bool valid_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return false;
  }
  auto port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) {
    return false;
  }
  return std::stoi(port) <= 65535;
}

}  // namespace

std::int64_t Config::get_int(const std::string& key, std::int64_t def, std::int64_t lo,
                             std::int64_t hi) const {
  auto v = get(key);
  if (!v || v->empty()) {
    return def;
  }
  try {
    std::size_t used = 0;
    const long long n = std::stoll(*v, &used);
    if (used != v->size() || n < lo || n > hi) {
      throw std::out_of_range(*v);
    }
    return n;
  } catch (const std::exception&) {
    bad(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
}

const std::vector<std::string>& all_service_names() {
  static const std::vector<std::string> names{"auth",        "event",   "queue",
                                              "reservation", "payment", "notification"};
  return names;
}

int default_port(const std::string& service) {
  const auto& names = all_service_names();
  auto it = std::find(names.begin(), names.end(), service);
  if (it == names.end()) {
    return 0;
  }
  return 3001 + static_cast<int>(it - names.begin());
}

void validate(Config& c) {
  // services: "all" or a list of known names, deduplicated, kept in the canonical start order.
  std::vector<std::string> wanted;
  for (const auto& s : c.services) {
    if (s == "all") {
      wanted = all_service_names();
      break;
    }
    if (default_port(s) == 0) {
      bad("services", "unknown service '" + s +
                          "' (expected all or a list of auth, event, queue, reservation, "
                          "payment, notification)");
    }
    wanted.push_back(s);
  }
  if (c.services.empty()) {
    wanted = all_service_names();
  }
  std::vector<std::string> ordered;
  for (const auto& n : all_service_names()) {
    if (std::find(wanted.begin(), wanted.end(), n) != wanted.end()) {
      ordered.push_back(n);
    }
  }
  c.services = ordered;

  if (!valid_host_port(c.listen)) {
    bad("listen", "expected HOST:PORT, got '" + c.listen + "'");
  }
  if (c.data_dir.empty()) {
    bad("data-dir", "must not be empty");
  }
  if (!c.database_url.empty() && c.database_url.rfind("sqlite:", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0 && c.database_url.rfind("postgresql://", 0) != 0) {
    bad("database-url", "expected sqlite:DIR or postgres://…");
  }
  if (!c.redis_url.empty() && c.redis_url.rfind("redis://", 0) != 0) {
    bad("redis-url", "expected redis://HOST:PORT[/DB]");
  }
  if (c.threads < 0 || c.threads > 256) {
    bad("threads", "must be between 0 and 256");
  }
  if (c.threads == 0) {
    c.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (c.max_body_bytes == 0 || c.max_body_bytes > (64u << 20)) {
    bad("max-body-bytes", "must be between 1 and 67108864");
  }
  if (c.read_timeout_ms <= 0) {
    bad("read-timeout-ms", "must be positive");
  }
  if (c.idle_timeout_ms <= 0) {
    bad("idle-timeout-ms", "must be positive");
  }
  if (c.shutdown_grace_ms < 0) {
    bad("shutdown-grace-ms", "must not be negative");
  }
  if (c.drain_delay_ms < 0 || c.drain_delay_ms > 600'000) {
    bad("drain-delay-ms", "must be between 0 and 600000");
  }
  if (c.rate_limit_rps < 0 || c.rate_limit_burst < 0) {
    bad("rate-limit-rps", "must not be negative");
  }
  if (c.db_pool_size < 1 || c.db_pool_size > 200) {
    bad("db-pool-size", "must be between 1 and 200");
  }
  for (const auto& [name, url] : c.peers) {
    if (default_port(name) == 0) {
      bad("peer", "unknown service '" + name + "'");
    }
    if (url.rfind("http://", 0) != 0) {
      bad("peer", "URL for " + name + " must start with http://");
    }
  }
  for (const auto& n : all_service_names()) {
    if (!c.peers.count(n)) {
      c.peers[n] = "http://127.0.0.1:" + std::to_string(default_port(n));
    }
  }
}

}  // namespace tiketi
