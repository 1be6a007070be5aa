#pragma once
// Settings for one `tiketi serve` process. Precedence: flags > TIKETI_* environment > config file
// (TOML/INI via --config) > defaults. Parsing lives in app/cli.cpp; validation here so that every
// invalid setting is one clear start-up error naming the setting.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tiketi {

struct Config {
  std::vector<std::string> services;  // expanded: "all" -> the six names, in start order
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string database_url;  // "" -> sqlite under data_dir; "sqlite:/path/dir" or "postgres://..."
  std::string redis_url;     // "" -> in-process coordination; "redis://host:port/db"
  std::string config_file;
  std::string log_level = "info";
  int threads = 0;  // io_contexts; 0 -> hardware concurrency

  // HTTP limits
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  int read_timeout_ms = 15'000;
  int idle_timeout_ms = 60'000;
  int shutdown_grace_ms = 20'000;
  // After SIGTERM, readiness is 503 for this long while requests are still served normally, so a
  // load balancer stops sending new traffic before the listener closes.
  int drain_delay_ms = 1'000;
  double rate_limit_rps = 0;              // per client IP; 0 = off
  double rate_limit_burst = 0;            // bucket size; 0 -> 2 * rps
  std::vector<std::string> cors_origins;  // empty = CORS off; "*" allowed
  std::string web_root;                   // directory with the built web UI ("" = none)
  int db_pool_size = 8;

  // Where each service can be reached when it is not in this process (scaled shape).
  // Key: service name; value: base URL like "http://127.0.0.1:3001". Defaults to the standard
  // ports 3001..3006 on 127.0.0.1.
  std::map<std::string, std::string> peers;

  // Secrets and per-service settings that services read by key ("auth.jwt_secret", ...).
  std::map<std::string, std::string> extra;

  std::optional<std::string> get(const std::string& key) const {
    auto it = extra.find(key);
    if (it == extra.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  // An integer service setting in [lo, hi], or `def` when unset or empty. Throws
  // std::invalid_argument("setting <key>: …") on anything else.
  std::int64_t get_int(const std::string& key, std::int64_t def, std::int64_t lo, std::int64_t hi) const;

  bool embedded_database() const { return database_url.empty() || database_url.rfind("sqlite:", 0) == 0; }
  bool embedded_coordination() const { return redis_url.empty(); }
};

// The six services in their start order.
const std::vector<std::string>& all_service_names();
// Default port of a service in the scaled shape (auth 3001 … notification 3006).
int default_port(const std::string& service);

// Throws std::invalid_argument("setting <name>: <why>") on the first invalid value.
void validate(Config& c);

}  // namespace tiketi
