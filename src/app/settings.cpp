#include "app/settings.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace tiketi::app {
namespace {

[[noreturn]] void bad(const std::string& setting, const std::string& why) {
  throw std::invalid_argument("setting " + setting + ": " + why);
}

long long to_int(const std::string& setting, const std::string& v, long long lo, long long hi) {
  try {
    std::size_t pos = 0;
    long long n = std::stoll(v, &pos);
    if (pos != v.size() || n < lo || n > hi) {
      throw std::out_of_range(v);
    }
    return n;
  } catch (const std::exception&) {
    bad(setting, "expected a whole number between " + std::to_string(lo) + " and " + std::to_string(hi) +
                     ", got '" + v + "'");
  }
}

double to_double(const std::string& setting, const std::string& v) {
  try {
    std::size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos != v.size()) {
      throw std::invalid_argument(v);
    }
    return d;
  } catch (const std::exception&) {
    bad(setting, "expected a number, got '" + v + "'");
  }
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

using Setter = std::function<void(Config&, const std::string& name, const std::string& value)>;

const std::vector<std::pair<std::string, Setter>>& table() {
  static const std::vector<std::pair<std::string, Setter>> t{
      {"services", [](Config& c, auto&, auto& v) { c.services = split_list(v); }},
      {"listen", [](Config& c, auto&, auto& v) { c.listen = v; }},
      {"data-dir", [](Config& c, auto&, auto& v) { c.data_dir = v; }},
      {"database-url", [](Config& c, auto&, auto& v) { c.database_url = v; }},
      {"redis-url", [](Config& c, auto&, auto& v) { c.redis_url = v; }},
      {"log-level", [](Config& c, auto&, auto& v) { c.log_level = v; }},
      {"threads", [](Config& c, auto& n, auto& v) { c.threads = static_cast<int>(to_int(n, v, 0, 256)); }},
      {"max-body-bytes",
       [](Config& c, auto& n, auto& v) {
         c.max_body_bytes = static_cast<std::size_t>(to_int(n, v, 1, 64 << 20));
       }},
      {"read-timeout-ms",
       [](Config& c, auto& n, auto& v) { c.read_timeout_ms = static_cast<int>(to_int(n, v, 1, 3'600'000)); }},
      {"idle-timeout-ms",
       [](Config& c, auto& n, auto& v) { c.idle_timeout_ms = static_cast<int>(to_int(n, v, 1, 3'600'000)); }},
      {"shutdown-grace-ms",
       [](Config& c, auto& n, auto& v) { c.shutdown_grace_ms = static_cast<int>(to_int(n, v, 0, 600'000)); }},
      {"drain-delay-ms",
       [](Config& c, auto& n, auto& v) { c.drain_delay_ms = static_cast<int>(to_int(n, v, 0, 600'000)); }},
      {"rate-limit-rps", [](Config& c, auto& n, auto& v) { c.rate_limit_rps = to_double(n, v); }},
      {"rate-limit-burst", [](Config& c, auto& n, auto& v) { c.rate_limit_burst = to_double(n, v); }},
      {"cors-origins", [](Config& c, auto&, auto& v) { c.cors_origins = split_list(v); }},
      {"web-root", [](Config& c, auto&, auto& v) { c.web_root = v; }},
      {"db-pool-size",
       [](Config& c, auto& n, auto& v) { c.db_pool_size = static_cast<int>(to_int(n, v, 1, 200)); }},
      {"peers",
       [](Config& c, auto& n, auto& v) {
         for (const auto& item : split_list(v)) {
           auto eq = item.find('=');
           if (eq == std::string::npos || eq == 0) {
             bad(n, "expected name=url, got '" + item + "'");
           }
           c.peers[item.substr(0, eq)] = item.substr(eq + 1);
         }
       }},
  };
  return t;
}

const Setter* find_setter(const std::string& name) {
  for (const auto& [n, s] : table()) {
    if (n == name) {
      return &s;
    }
  }
  return nullptr;
}

std::string read_file(const std::string& setting, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    bad(setting, "cannot read file '" + path + "'");
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

// "auth.jwt_secret" <- TIKETI_AUTH__JWT_SECRET
std::string extra_key_from_env(std::string rest) {
  std::string key;
  auto sep = rest.find("__");
  std::transform(rest.begin(), rest.end(), rest.begin(), ::tolower);
  if (sep == std::string::npos) {
    return {};
  }
  key = rest.substr(0, sep) + "." + rest.substr(sep + 2);
  return key;
}

}  // namespace

std::vector<std::string> setting_names() {
  std::vector<std::string> out;
  for (const auto& [n, s] : table()) {
    out.push_back(n);
  }
  return out;
}

std::string env_name(const std::string& setting) {
  std::string e = "TIKETI_";
  for (char c : setting) {
    e.push_back(c == '-' ? '_' : static_cast<char>(::toupper(static_cast<unsigned char>(c))));
  }
  return e;
}

Config resolve(const SettingSources& src) {
  Config c;
  bool listen_given = false;
  auto apply = [&c, &listen_given](const std::string& key, const std::string& value,
                                   const std::string& origin) {
    listen_given = listen_given || key == "listen";
    if (const auto* s = find_setter(key)) {
      (*s)(c, key, value);
    } else if (key.find('.') != std::string::npos) {
      c.extra[key] = value;
    } else {
      bad(key, "unknown setting (from " + origin + ")");
    }
  };

  // Lowest precedence first, so that each later source overrides the earlier ones.
  for (const auto& [k, v] : src.file) {
    apply(k, v, "config file");
  }
  for (const auto& [k, v] : src.env) {
    if (k.rfind("TIKETI_", 0) != 0 || k == "TIKETI_CONFIG" || k.rfind("TIKETI_TEST", 0) == 0) {
      continue;
    }
    std::string rest = k.substr(7);
    bool from_file = rest.size() > 5 && rest.ends_with("_FILE");
    if (from_file) {
      rest.resize(rest.size() - 5);
    }
    std::string name = rest;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return ch == '_' ? '-' : static_cast<char>(::tolower(ch)); });
    std::string key;
    if (rest.find("__") != std::string::npos) {
      key = extra_key_from_env(rest);
    } else if (find_setter(name)) {
      key = name;
    } else {
      continue;  // other TIKETI_* variables belong to scripts and tests
    }
    apply(key, from_file ? read_file(key, v) : v, "environment " + k);
  }
  for (const auto& [k, v] : src.flags) {
    apply(k, v, "command line");
  }
  for (const auto& kv : src.set_flags) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || kv.substr(0, eq).find('.') == std::string::npos) {
      bad("set", "expected section.key=value, got '" + kv + "'");
    }
    c.extra[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  validate(c);
  // One service per process (the scaled shape): it listens on its standard port unless told otherwise.
  if (!listen_given && c.services.size() == 1) {
    c.listen = "127.0.0.1:" + std::to_string(default_port(c.services.front()));
  }
  return c;
}

std::vector<std::pair<std::string, std::string>> read_config_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    bad("config", "cannot read config file '" + path + "'");
  }
  std::vector<std::pair<std::string, std::string>> out;
  try {
    for (const auto& item : CLI::ConfigTOML().from_config(f)) {
      if (item.name == "++" || item.name == "--") {
        continue;  // CLI11's section open/close markers
      }
      std::string key;
      for (const auto& p : item.parents) {
        key += p + ".";
      }
      key += item.name;
      std::string value;
      for (std::size_t i = 0; i < item.inputs.size(); ++i) {
        value += (i ? "," : "") + item.inputs[i];
      }
      std::replace(key.begin(), key.end(), '_', '-');
      // extra keys keep underscores after the section dot ("auth.jwt_secret").
      if (auto dot = key.find('.'); dot != std::string::npos) {
        std::replace(key.begin() + static_cast<long>(dot), key.end(), '-', '_');
      }
      out.emplace_back(key, value);
    }
  } catch (const CLI::Error& e) {
    bad("config", std::string("cannot parse '") + path + "': " + e.what());
  }
  return out;
}

}  // namespace tiketi::app
