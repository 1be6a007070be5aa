#include "app/runtime.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/service.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "net/server.hpp"
#include "services/auth/service.hpp"
#include "services/common/auth_verify.hpp"
#include "services/event/service.hpp"

namespace tiketi::app {
namespace asio = boost::asio;
namespace {

struct Running {
  ServicePtr service;
  ServiceContext ctx;
  bool started = false;
};

// Everything one `serve` process holds; lives on serve()'s stack until the server has joined.
struct Process {
  Config cfg;
  LogContext log{"tiketi", {}, {}, {}};
  std::vector<Running> services;
  coord::CoordinatorPtr coord;
  ClockPtr clock = std::make_shared<SystemClock>();
  std::atomic<int> phase{0};  // 0 starting, 1 ready, 2 draining
  std::atomic<bool> failed{false};
  std::string instance_id = ids::random_hex(6);
};

// `tiketi serve` without --web-root still serves the UI when one is built where it is usually
// found: web/dist under the working directory (the repository root), next to an installed binary
// (../share/tiketi/web) or in the repository above a build tree (build/<preset>/src/app/tiketi).
std::string default_web_root() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates{fs::path("web") / "dist"};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / "share" / "tiketi" / "web");
    candidates.push_back(exe.parent_path() / ".." / ".." / ".." / "web" / "dist");
  }
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c / "index.html", ec)) {
      return fs::weakly_canonical(c, ec).string();
    }
  }
  return {};
}

std::string database_url(const Config& c) {
  return c.database_url.empty() ? "sqlite:" + c.data_dir : c.database_url;
}

std::vector<ServicePtr> make_services(const Config& cfg) {
  std::vector<ServicePtr> out;
  for (const auto& name : cfg.services) {
    for (const auto& [n, factory] : service_catalog()) {
      if (n == name) {
        out.push_back(factory());
      }
    }
  }
  return out;
}

// Each service registers into its own router; its routes are then added to the process router with
// the owning service set, so metrics and logs are labelled even if a service forgets to.
void add_service_routes(net::Router& into, Service& svc) {
  net::Router own;
  svc.routes(own);
  for (const auto& r : own.routes()) {
    auto opts = r.options;
    if (opts.service.empty()) {
      opts.service = svc.name();
    }
    if (r.ws_handler) {
      into.add_ws(r.templ, r.ws_handler, opts);
    } else {
      into.add(r.method, r.templ, r.handler, opts);
    }
  }
}

Task<net::Response> readiness(Process& p) {
  static constexpr const char* kPhase[] = {"starting", "ready", "draining"};
  nlohmann::json checks = nlohmann::json::object();
  if (p.phase.load() != 1) {
    // Starting or draining: answer at once, without touching dependencies that may be going away.
    nlohmann::json body{{"status", kPhase[p.phase.load()]}, {"checks", checks}};
    auto res = net::Response::json(503, body.dump());
    res.header("Retry-After", "1");
    co_return res;
  }
  bool ok = true;
  if (p.coord) {
    bool c = false;
    try {
      c = co_await p.coord->ping();
    } catch (const std::exception&) {
    }
    checks[p.coord->kind()] = c ? "ok" : "failing";
    ok = ok && c;
  }
  for (auto& r : p.services) {
    if (!r.started) {
      continue;
    }
    bool d = false;
    try {
      d = co_await r.ctx.db->ping();
    } catch (const std::exception&) {
    }
    checks[r.service->name() + ".db"] = d ? "ok" : "failing";
    ok = ok && d;
    for (auto& hc : r.service->health_checks()) {
      bool h = false;
      try {
        h = co_await hc.check();
      } catch (const std::exception&) {
      }
      checks[r.service->name() + "." + hc.name] = h ? "ok" : "failing";
      ok = ok && h;
    }
  }
  nlohmann::json body{{"status", ok ? "ready" : "failing"}, {"checks", checks}};
  if (ok) {
    co_return net::Response::json(200, body.dump());
  }
  auto res = net::Response::json(503, body.dump());
  res.header("Retry-After", "1");
  co_return res;
}

void add_platform_routes(net::Router& router, Process& p, metrics::Registry& reg) {
  net::RouteOptions opts{"platform", 0, false};
  router.add(
      "GET", "/health/live",
      [](net::Request&) -> Task<net::Response> {
        co_return net::Response::json(200, R"({"status":"live"})");
      },
      opts);
  router.add(
      "GET", "/health/ready", [&p](net::Request&) -> Task<net::Response> { return readiness(p); }, opts);
  router.add(
      "GET", "/metrics",
      [&reg](net::Request&) -> Task<net::Response> {
        co_return net::Response::text(200, reg.expose(), "text/plain; version=0.0.4; charset=utf-8");
      },
      opts);

  // Routes for the functional tests of the platform itself (graceful shutdown, JSON errors); only
  // present when TIKETI_TEST_ROUTES=1, never in production.
  const char* test_routes = std::getenv("TIKETI_TEST_ROUTES");
  if (test_routes != nullptr && std::string_view(test_routes) == "1") {
    router.add(
        "GET", "/debug/sleep",
        [](net::Request& req) -> Task<net::Response> {
          long ms = 0;
          try {
            ms = std::stol(req.query_param("ms").value_or("0"));
          } catch (const std::exception&) {
            throw errors::bad_request("ms must be a number", {{"ms", "must be a number"}});
          }
          if (ms < 0 || ms > 60'000) {
            throw errors::bad_request("ms out of range", {{"ms", "must be between 0 and 60000"}});
          }
          asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
          co_await t.async_wait(asio::use_awaitable);
          co_return net::Response::json(200, nlohmann::json{{"slept", ms}}.dump());
        },
        opts);
    router.add(
        "POST", "/debug/echo",
        [](net::Request& req) -> Task<net::Response> {
          auto j = nlohmann::json::parse(req.body, nullptr, false);
          if (j.is_discarded()) {
            throw errors::invalid_json("The request body is not valid JSON.");
          }
          co_return net::Response::json(200, j.dump());
        },
        opts);
  }
}

Task<void> start_services(Process& p, net::Server& server, net::HttpClient& client, net::Hub& hub,
                          metrics::Registry& reg) {
  auto ex = server.executor(0);
  p.coord = co_await coord::open(ex, p.cfg.redis_url);
  reg.gauge_callback("coordination_backend", "Coordination backend in use (1 = active).",
                     {{"kind", p.coord->kind()}}, [] { return 1.0; });
  for (auto& r : p.services) {
    const auto name = r.service->name();
    store::OpenOptions o;
    o.url = database_url(p.cfg);
    o.schema = name;
    o.pool_size = p.cfg.db_pool_size;
    auto db = co_await store::open(ex, o);
    int applied = co_await store::migrate(*db, r.service->migrations());
    log::info(p.log, "migrations checked", {lf("target", name), lf("applied", applied)});

    r.ctx.config = &p.cfg;
    r.ctx.db = db;
    r.ctx.coord = p.coord;
    r.ctx.clock = p.clock;
    r.ctx.metrics = &reg;
    r.ctx.client = &client;
    r.ctx.hub = &hub;
    r.ctx.executor = ex;
    r.ctx.log = LogContext{name, {}, {}, {}};
    r.ctx.instance_id = p.instance_id;
    std::weak_ptr<store::Database> weak = db;
    reg.gauge_callback("db_pool_connections", "Database connections by state.",
                       {{"service", name}, {"state", "open"}}, [weak] {
                         auto d = weak.lock();
                         return d ? static_cast<double>(d->pool_size()) : 0.0;
                       });
    reg.gauge_callback("db_pool_connections", "Database connections by state.",
                       {{"service", name}, {"state", "in_use"}}, [weak] {
                         auto d = weak.lock();
                         return d ? static_cast<double>(d->pool_in_use()) : 0.0;
                       });
    co_await r.service->start(r.ctx);
    r.started = true;
    log::info(p.log, "service started", {lf("target", name)});
  }
}

Task<void> stop_services(Process& p) {
  for (auto it = p.services.rbegin(); it != p.services.rend(); ++it) {
    if (!it->started) {
      continue;
    }
    try {
      co_await it->service->stop();
    } catch (const std::exception& e) {
      log::error(p.log, "service stop failed", {lf("target", it->service->name()), lf("error", e.what())});
    }
    log::info(p.log, "service stopped", {lf("target", it->service->name())});
  }
}

void apply_log_level(const Config& cfg) {
  LogLevel lvl = LogLevel::info;
  if (log::parse_level(cfg.log_level, lvl)) {
    log::set_level(lvl);
  }
}

}  // namespace

int serve(const Config& config) {
  apply_log_level(config);
  Process p;
  p.cfg = config;
  auto& reg = metrics::global();
  metrics::register_process_metrics(reg);

  // Signals are taken by sigwait on this thread only; every worker thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  for (auto& s : make_services(p.cfg)) {
    p.services.push_back(Running{std::move(s), {}, false});
  }

  net::Router router;
  add_platform_routes(router, p, reg);
  for (auto& r : p.services) {
    add_service_routes(router, *r.service);
  }

  net::ServerOptions opts;
  opts.listen = p.cfg.listen;
  opts.threads = p.cfg.threads;
  opts.max_body_bytes = p.cfg.max_body_bytes;
  opts.max_header_bytes = p.cfg.max_header_bytes;
  opts.read_timeout_ms = p.cfg.read_timeout_ms;
  opts.idle_timeout_ms = p.cfg.idle_timeout_ms;
  opts.rate_limit_rps = p.cfg.rate_limit_rps;
  opts.rate_limit_burst = p.cfg.rate_limit_burst;
  opts.cors_origins = p.cfg.cors_origins;
  opts.web_root = p.cfg.web_root.empty() ? default_web_root() : p.cfg.web_root;
  opts.service_label = p.cfg.services.size() == 1 ? p.cfg.services.front() : "tiketi";

  // Every process verifies access tokens locally (no call to the auth service). A missing or weak
  // secret in the scaled shape is a start-up error naming the setting.
  common::AuthenticatorPtr authenticator;
  try {
    // Connection budget (see net::ServerOptions): server.max_connections caps connections
    // (0 = only the descriptor budget), server.fd_reserve keeps descriptors for everything else.
    opts.max_connections =
        static_cast<std::size_t>(p.cfg.get_int("server.max_connections", 0, 0, 10'000'000));
    opts.fd_reserve = static_cast<std::size_t>(
        p.cfg.get_int("server.fd_reserve", static_cast<std::int64_t>(opts.fd_reserve), 0, 1'000'000));
    authenticator = common::Authenticator::from_config(p.cfg, p.clock);
  } catch (const std::exception& e) {
    log::error(p.log, "invalid configuration", {lf("error", e.what())});
    log::flush();
    return 2;
  }

  net::Server server(opts, std::move(router), reg);
  // Until every service has started (and again while draining) only the platform routes answer.
  // Both checks are synchronous (Server::before): no coroutine frame per request.
  server.before([&p](net::Request& req) {
    const int phase = p.phase.load(std::memory_order_relaxed);
    if (phase != 1 && !req.path.starts_with("/health/") && req.path != "/metrics" &&
        !req.path.starts_with("/debug/")) {
      throw errors::unavailable(phase == 0 ? "Starting up." : "Shutting down.", 1);
    }
  });
  // What common::bearer_middleware does, without its coroutine: fill req.principal from a valid
  // token (an invalid one only makes require_user() answer 401 later).
  server.before([authenticator](net::Request& req) { common::authenticate_request(*authenticator, req); });

  try {
    server.start();
  } catch (const std::exception& e) {
    log::error(p.log, "cannot listen", {lf("listen", p.cfg.listen), lf("error", e.what())});
    log::flush();
    return 1;
  }
  log::info(p.log, "listening",
            {lf("address", p.cfg.listen), lf("port", static_cast<long long>(server.port())),
             lf("services",
                [&] {
                  std::string s;
                  for (const auto& n : p.cfg.services) {
                    s += (s.empty() ? "" : ",") + n;
                  }
                  return s;
                }()),
             lf("web_root", opts.web_root.empty() ? std::string("none (--web-root)") : opts.web_root),
             lf("database", p.cfg.embedded_database() ? "sqlite" : "postgres"),
             lf("coordination", p.cfg.embedded_coordination() ? "memory" : "redis")});
  log::flush();

  net::HttpClient client(p.clock, server.executor(0));
  for (const auto& name : all_service_names()) {
    bool local = std::find(p.cfg.services.begin(), p.cfg.services.end(), name) != p.cfg.services.end();
    if (local) {
      client.add_local_peer(name, &server);
    } else {
      client.add_remote_peer(name, p.cfg.peers.at(name));
    }
  }
  net::Hub hub;

  asio::co_spawn(server.executor(0), start_services(p, server, client, hub, reg), [&p](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error(p.log, "start-up failed", {lf("error", ex.what())});
      }
      p.failed = true;
      kill(getpid(), SIGTERM);
      return;
    }
    if (p.phase.load() == 0) {
      p.phase = 1;
      log::info(p.log, "ready");
      log::flush();
    }
  });

  int sig = 0;
  sigwait(&signals, &sig);
  p.phase = 2;
  log::info(p.log, "draining", {lf("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")});
  log::flush();

  // Readiness is already 503; keep serving while load balancers notice, then stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(p.cfg.drain_delay_ms));

  // Background jobs stop first (they may still need the server's executors), then the server drains.
  auto stopped = asio::co_spawn(server.executor(0), stop_services(p), asio::use_future);
  if (stopped.wait_for(std::chrono::milliseconds(p.cfg.shutdown_grace_ms + 1000)) !=
      std::future_status::ready) {
    log::warn(p.log, "services did not stop in time");
  }
  server.shutdown(p.cfg.shutdown_grace_ms);
  server.join();
  for (auto& r : p.services) {
    if (r.ctx.db) {
      r.ctx.db->close();
    }
  }
  if (p.coord) {
    p.coord->close();
  }
  log::info(p.log, "stopped", {lf("exit_code", p.failed ? 1 : 0)});
  log::flush();
  return p.failed ? 1 : 0;
}

int migrate(const Config& config) {
  apply_log_level(config);
  LogContext plog{"tiketi", {}, {}, {}};
  auto services = make_services(config);
  asio::io_context ioc;
  auto done = asio::co_spawn(
      ioc,
      [&]() -> Task<int> {
        int total = 0;
        for (auto& s : services) {
          store::OpenOptions o;
          o.url = database_url(config);
          o.schema = s->name();
          o.pool_size = 1;
          auto db = co_await store::open(ioc.get_executor(), o);
          int n = co_await store::migrate(*db, s->migrations());
          log::info(plog, "migrations applied", {lf("target", s->name()), lf("applied", n)});
          total += n;
          db->close();
        }
        co_return total;
      },
      asio::use_future);
  ioc.run();
  try {
    int total = done.get();
    log::info(plog, "migrate finished", {lf("applied", total)});
    log::flush();
    return 0;
  } catch (const std::exception& e) {
    log::error(plog, "migrate failed", {lf("error", e.what())});
    log::flush();
    return 1;
  }
}

namespace {

// Runs fn against one service's migrated database on a private io_context (CLI subcommands).
template <class T>
T with_service_db(const Config& config, Service& svc, std::function<Task<T>(store::Database&)> fn) {
  asio::io_context ioc;
  auto done = asio::co_spawn(
      ioc,
      [&]() -> Task<T> {
        store::OpenOptions o;
        o.url = database_url(config);
        o.schema = svc.name();
        o.pool_size = 1;
        auto db = co_await store::open(ioc.get_executor(), o);
        co_await store::migrate(*db, svc.migrations());
        auto result = co_await fn(*db);
        db->close();
        co_return result;
      },
      asio::use_future);
  ioc.run();
  return done.get();
}

int report_failure(const LogContext& plog, std::string_view what, const std::exception& e) {
  log::error(plog, what, {lf("error", e.what())});
  log::flush();
  return 1;
}

}  // namespace

int admin_create(const Config& config, const std::string& email, const std::string& name,
                 const std::string& password) {
  apply_log_level(config);
  LogContext plog{"auth", {}, {}, {}};
  auto svc = make_auth_service();
  SystemClock clock;
  try {
    auto r = with_service_db<auth::AdminCreateResult>(config, *svc, [&](store::Database& db) {
      return auth::create_admin(db, clock, email, password, name);
    });
    log::info(plog,
              r == auth::AdminCreateResult::created ? "admin created" : "existing account promoted to admin",
              {lf("email", email)});
    log::flush();
    return 0;
  } catch (const std::invalid_argument& e) {
    log::flush();
    std::fprintf(stderr, "tiketi: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    return report_failure(plog, "admin create failed", e);
  }
}

int print_routes(const Config& config) {
  Process p;
  p.cfg = config;
  for (auto& svc : make_services(config)) {
    p.services.push_back(Running{std::move(svc), {}, false});
  }
  net::Router router;
  add_platform_routes(router, p, metrics::global());
  for (auto& r : p.services) {
    add_service_routes(router, *r.service);
  }
  std::printf("| service | method | route |\n|---|---|---|\n");
  for (const auto& r : router.routes()) {
    if (r.templ.starts_with("/debug/")) {
      continue;
    }
    std::printf("| %s | %s | `%s` |\n", r.options.service.c_str(),
                r.ws_handler ? "GET (WebSocket)" : r.method.c_str(), r.templ.c_str());
  }
  return 0;
}

int seed_demo(const Config& config) {
  apply_log_level(config);
  LogContext plog{"event", {}, {}, {}};
  auto svc = make_event_service();
  SystemClock clock;
  try {
    auto r = with_service_db<event::SeedResult>(
        config, *svc, [&](store::Database& db) { return event::seed_demo(db, clock); });
    log::info(plog, r.created ? "demo data created" : "demo data already present", {lf("events", r.events)});
    log::flush();
    // No built-in admin password exists: the operator creates one.
    std::fprintf(stderr,
                 "Demo data is ready. Sign up as a fan in the web UI, and create an admin account with:\n"
                 "  tiketi admin create --email you@example.com   (asks for a password)\n");
    return 0;
  } catch (const std::exception& e) {
    return report_failure(plog, "seed failed", e);
  }
}

}  // namespace tiketi::app
