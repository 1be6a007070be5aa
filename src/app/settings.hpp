#pragma once
// Resolves a Config from its four sources in precedence order: flags > TIKETI_* environment >
// config file > defaults. Kept free of CLI11 so the precedence rules are unit-tested directly.
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace tiketi::app {

struct SettingSources {
  std::map<std::string, std::string> flags;  // setting name -> value, only flags given on the command line
  std::map<std::string, std::string> env;    // the process environment (only TIKETI_* are read)
  std::vector<std::pair<std::string, std::string>> file;  // key -> value from the config file
  std::vector<std::string> set_flags;  // repeated --set section.key=value (flag precedence)
};

// The settings every `serve` knows, by name ("listen", "database-url", …) for --help and errors.
std::vector<std::string> setting_names();
std::string env_name(const std::string& setting);  // "database-url" -> "TIKETI_DATABASE_URL"

// Applies the sources and validates. Throws std::invalid_argument("setting X: …").
// Keys that are not core settings become Config::extra entries: file keys "auth.jwt_secret" (from a
// TOML [auth] section), env TIKETI_AUTH__JWT_SECRET (double underscore separates the section), and
// --set auth.jwt_secret=…. An env var ending in _FILE names a file whose content is the value.
Config resolve(const SettingSources& src);

// Reads a TOML/INI config file into key/value pairs ("section.key"). Throws on unreadable files.
std::vector<std::pair<std::string, std::string>> read_config_file(const std::string& path);

}  // namespace tiketi::app
