#include "app/cli.hpp"

#include <CLI/CLI.hpp>

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "app/runtime.hpp"
#include "app/settings.hpp"
#include "services/payment/gateway/simulator.hpp"

extern char** environ;

namespace tiketi::app {
namespace {

struct Flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> peers;
  std::vector<std::string> sets;
  std::string config_file;
};

// Adds the settings shared by serve/migrate. Values are strings here: types are checked in
// settings.cpp so that a flag, an env var and a config file value fail with the same message.
void add_settings(CLI::App* cmd, Flags& f, bool server_flags) {
  struct Spec {
    const char* name;
    const char* help;
    bool server;
  };
  static const Spec specs[] = {
      {"services", "all, or a comma-separated list of auth,event,queue,reservation,payment,notification",
       false},
      {"listen", "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free port)", true},
      {"data-dir", "directory for SQLite files, the email outbox and images (default ./data)", false},
      {"database-url", "sqlite:DIR or postgres://user:pass@host:port/db (default SQLite in --data-dir)",
       false},
      {"redis-url", "redis://host:port[/db] (default: in-process coordination)", true},
      {"log-level", "debug, info, warn, error or off", false},
      {"threads", "I/O threads, one io_context each (default: one per core)", true},
      {"max-body-bytes", "default request body limit (413 beyond)", true},
      {"read-timeout-ms", "time allowed to receive a whole request", true},
      {"idle-timeout-ms", "keep-alive idle timeout", true},
      {"shutdown-grace-ms", "time in-flight requests get on SIGTERM", true},
      {"drain-delay-ms", "after SIGTERM, how long readiness is 503 before the listener closes", true},
      {"rate-limit-rps", "per-IP requests per second (0 = off)", true},
      {"rate-limit-burst", "per-IP burst (default 2 x rps)", true},
      {"cors-origins", "comma-separated allowed origins for CORS (* for any)", true},
      {"web-root", "directory with the built web UI to serve at /", true},
      {"db-pool-size", "PostgreSQL connections per service", false},
  };
  for (const auto& s : specs) {
    if (s.server && !server_flags) {
      continue;
    }
    std::string name = s.name;
    cmd->add_option_function<std::string>(
           "--" + name, [&f, name](const std::string& v) { f.values[name] = v; },
           std::string(s.help) + " [env " + env_name(name) + "]")
        ->option_text("TEXT");
  }
  if (server_flags) {
    cmd->add_option("--peer", f.peers,
                    "where a service not in this process is reached: name=http://host:port")
        ->option_text("NAME=URL ...");
  }
  cmd->add_option("--set", f.sets, "a service setting: section.key=value (e.g. auth.jwt_secret=…)");
  cmd->add_option("--config", f.config_file, "TOML/INI config file [env TIKETI_CONFIG]");
}

Config resolve_flags(const Flags& f) {
  SettingSources src;
  src.flags = f.values;
  if (!f.peers.empty()) {
    std::string joined;
    for (const auto& p : f.peers) {
      joined += (joined.empty() ? "" : ",") + p;
    }
    src.flags["peers"] = joined;
  }
  src.set_flags = f.sets;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) {
      src.env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  std::string file = f.config_file;
  if (file.empty()) {
    if (const char* env = std::getenv("TIKETI_CONFIG")) {
      file = env;
    }
  }
  if (!file.empty()) {
    src.file = read_config_file(file);
  }
  return resolve(src);
}

// The admin password is never a flag value (it would show in `ps` and shell history) and never
// printed: it comes from --password-file, TIKETI_ADMIN_PASSWORD, or a no-echo prompt on a terminal.
std::string read_admin_password(const std::string& file) {
  if (!file.empty()) {
    std::ifstream f(file);
    if (!f) {
      throw std::invalid_argument("setting password-file: cannot read '" + file + "'");
    }
    std::string pw;
    std::getline(f, pw);
    return pw;
  }
  if (const char* env = std::getenv("TIKETI_ADMIN_PASSWORD")) {
    return env;
  }
  if (!isatty(STDIN_FILENO)) {
    throw std::invalid_argument(
        "setting password: give --password-file FILE or TIKETI_ADMIN_PASSWORD, or run on a terminal");
  }
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  auto ask = [&](const char* prompt) {
    std::cerr << prompt << std::flush;
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string pw;
    std::getline(std::cin, pw);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    return pw;
  };
  auto first = ask("Admin password: ");
  if (ask("Repeat password: ") != first) {
    throw std::invalid_argument("setting password: the two passwords differ");
  }
  return first;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"Tiketi — ticketing for high-demand on-sales"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");

  Flags serve_flags;
  auto* serve_cmd = app.add_subcommand("serve", "Run services (all in one process by default)");
  add_settings(serve_cmd, serve_flags, true);

  Flags migrate_flags;
  auto* migrate_cmd = app.add_subcommand("migrate", "Apply every selected service's schema migrations");
  add_settings(migrate_cmd, migrate_flags, false);

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  payment::PgSimOptions pg_sim;
  auto* pg_sim_cmd =
      app.add_subcommand("pg-sim", "Run the payment gateway simulator (test mode: no real money)");
  pg_sim_cmd->add_option("--listen", pg_sim.listen, "HOST:PORT (port 0 picks a free one, logged)");
  pg_sim_cmd->add_option("--latency-ms", pg_sim.latency_ms, "added latency on every gateway call");
  pg_sim_cmd->add_option("--secret-key", pg_sim.secret_key,
                         "require this secret key (HTTP Basic); empty accepts any");
  pg_sim_cmd->add_option("--threads", pg_sim.threads, "I/O threads");
  pg_sim_cmd->add_flag("--access-log", pg_sim.access_log, "log every request");

  Flags routes_flags;
  auto* routes_cmd =
      app.add_subcommand("routes", "List the HTTP and WebSocket routes of the selected services");
  add_settings(routes_cmd, routes_flags, false);

  Flags seed_flags;
  bool seed_demo_flag = false;
  auto* seed_cmd = app.add_subcommand("seed", "Add data to an installation");
  seed_cmd->add_flag("--demo", seed_demo_flag, "the demo catalogue: venue with 2,000 seats, events, news")
      ->required();
  add_settings(seed_cmd, seed_flags, false);

  Flags admin_flags;
  std::string admin_email;
  std::string admin_name = "Administrator";
  std::string admin_password_file;
  auto* admin_cmd = app.add_subcommand("admin", "Administration tasks");
  admin_cmd->require_subcommand(1);
  auto* admin_create_cmd =
      admin_cmd->add_subcommand("create", "Create an admin account (or promote an existing one)");
  admin_create_cmd->add_option("--email", admin_email, "the admin's email")->required();
  admin_create_cmd->add_option("--name", admin_name, "display name");
  admin_create_cmd->add_option(
      "--password-file", admin_password_file,
      "file whose first line is the password (else TIKETI_ADMIN_PASSWORD, else a prompt)");
  add_settings(admin_create_cmd, admin_flags, false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*version_cmd) {
      std::cout << "tiketi " << TIKETI_VERSION << "\n";
      return 0;
    }
    if (*serve_cmd) {
      return serve(resolve_flags(serve_flags));
    }
    if (*migrate_cmd) {
      return migrate(resolve_flags(migrate_flags));
    }
    if (*pg_sim_cmd) {
      return payment::run_pg_sim(pg_sim);
    }
    if (*routes_cmd) {
      return print_routes(resolve_flags(routes_flags));
    }
    if (*seed_cmd) {
      return seed_demo(resolve_flags(seed_flags));
    }
    if (*admin_create_cmd) {
      auto cfg = resolve_flags(admin_flags);
      return admin_create(cfg, admin_email, admin_name, read_admin_password(admin_password_file));
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "tiketi: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace tiketi::app
