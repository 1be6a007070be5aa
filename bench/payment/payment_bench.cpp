// Load client for bench/payment/run.sh: confirmed card payments per second through the payment
// service with the gateway simulator at a fixed latency.
//
//   tiketi_payment_bench --payment URL --reservation URL --event URL --sim URL --jwt-secret S
//                        [--holds N] [--concurrency C] [--duration SEC] [--sim-secret S] [--raw-duration SEC]
//                        [--warmup SEC] [--phase-cmd CMD]   (run as "CMD setup_done" and "CMD flow_done"
//                        between phases)
//
// 1. setup (not measured): an admin token and user tokens are minted with the services' JWT secret
//    (no sign-up on the hot path), a general-admission event with a 1,000,000 quota is created and
//    published, and N PENDING reservations of one ticket are held (20 per user, the per-user limit).
// 1b. warm-up (not measured, --warmup, default 2 s): the same flow as 2., so the services' database
//    pools, prepared statements and keep-alive connections exist before measuring (steady state).
// 2. flow (measured): C concurrent clients, each one payment at a time: POST /api/v1/payments
//    (card, Idempotency-Key) -> the hosted checkout at the simulator (POST /checkout/pay, the
//    browser's step) -> POST /api/v1/payments/{id}/confirm -> 200 CONFIRMED.
// 3. raw (same run, comparison): the same C clients straight at the simulator: checkout + confirm,
//    no payment service, i.e. what the gateway latency alone allows.
// Prints one JSON object with the figures (run.sh turns it into markdown). One io_context thread;
// its CPU time is reported so the client's own cost is visible.
#include <sys/resource.h>

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
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "net/client.hpp"
#include "services/common/auth_verify.hpp"
#include "services/payment/gateway/toss_gateway.hpp"

namespace asio = boost::asio;
using nlohmann::json;
using tiketi::Task;
using Clock = std::chrono::steady_clock;

namespace {

struct Opts {
  std::string payment, reservation, event, sim, jwt_secret;
  std::string sim_secret = "test_sk_bench";
  int holds = 20'000;
  int concurrency = 256;
  double duration = 15;
  double raw_duration = 5;
  double warmup = 2;  // seconds of the same flow before the measured phase (not measured)
  int setup_concurrency = 64;
  std::string phase_cmd;  // run as "<cmd> setup_done" / "<cmd> flow_done"
};

struct Stats {
  std::vector<double> latency_ms;  // per completed payment (create -> confirmed)
  std::vector<double> confirm_ms;  // the confirm call alone
  std::int64_t ok = 0;
  std::int64_t errors = 0;
  std::map<std::string, std::int64_t> error_kinds;
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

class Bench {
 public:
  Bench(Opts o, asio::io_context& io)
      : o_(std::move(o)), io_(io), clock_(std::make_shared<tiketi::SystemClock>()), client_(clock_, io.get_executor()) {
    client_.set_breaker_options(tiketi::net::CircuitBreaker::Options{.failure_threshold = 1'000'000, .open_ms = 1});
    client_.set_max_idle_per_peer(static_cast<std::size_t>(o_.concurrency) * 2);
    client_.add_remote_peer("payment", o_.payment);
    client_.add_remote_peer("reservation", o_.reservation);
    client_.add_remote_peer("event", o_.event);
    client_.add_remote_peer("sim", o_.sim);
    tiketi::Config cfg;
    cfg.extra["auth.jwt_secret"] = o_.jwt_secret;
    keys_ = tiketi::common::load_auth_keys(cfg);
    codec_ = std::make_unique<tiketi::auth::JwtCodec>(keys_.current);
  }

  std::string token(const std::string& user, const std::string& role = "user") {
    auto claims = codec_->claims_for(user, role, *clock_);
    claims.exp += 3'600;  // the whole run
    return codec_->sign(claims);
  }

  Task<tiketi::net::ClientResponse> call(std::string peer, std::string method, std::string path, std::string body,
                                         std::string bearer, std::string idem, std::string content_type) {
    tiketi::net::ClientRequest req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.body = std::move(body);
    req.timeout = std::chrono::milliseconds(30'000);
    req.idempotent = false;
    req.max_retries = 0;
    tiketi::net::set_header(req.headers, "Content-Type", content_type);
    if (!bearer.empty()) {
      tiketi::net::set_header(req.headers, "Authorization", "Bearer " + bearer);
    }
    if (!idem.empty()) {
      tiketi::net::set_header(req.headers, "Idempotency-Key", idem);
    }
    const tiketi::LogContext parent{};
    auto resp = co_await client_.call(peer, std::move(req), parent);
    co_return resp;
  }

  Task<json> expect(std::string peer, std::string method, std::string path, json body, std::string bearer,
                    int want) {
    const std::string text = body.is_null() ? std::string() : body.dump();
    auto r = co_await call(peer, method, path, text, bearer, none_, json_);
    if (r.status != want) {
      throw std::runtime_error(method + " " + path + " -> " + std::to_string(r.status) + " " + r.body.substr(0, 300));
    }
    co_return r.body.empty() ? json() : json::parse(r.body);
  }

  // ---- setup -----------------------------------------------------------------------------------

  Task<void> setup() {
    admin_ = token("bench-admin", "admin");
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::int64_t day = 86'400'000;
    json venue_body{{"name", "Bench Arena"}, {"city", "Seoul"}};
    const std::string ev_peer = "event";
    const std::string post = "POST";
    std::string path = "/api/v1/admin/venues";
    json venue = co_await expect(ev_peer, post, path, venue_body, admin_, 201);
    json ev_body{{"title", "Payment bench"},
                 {"venue_id", venue["id"]},
                 {"category", "concert"},
                 {"artist", "Bench"},
                 {"description", "bench"},
                 {"sale_start", now - 60'000},
                 {"sale_end", now + 7 * day},
                 {"performance_start", now + 8 * day},
                 {"performance_end", now + 8 * day + 3'600'000},
                 {"per_user_limit", 20},
                 {"hold_minutes", 30},
                 {"waiting_room", json{{"enabled", false}}}};
    path = "/api/v1/admin/events";
    json ev = co_await expect(ev_peer, post, path, ev_body, admin_, 201);
    event_id_ = ev["id"];
    json tt_body{{"name", "GA"}, {"kind", "general_admission"}, {"quota", 1'000'000}, {"price", 10'000}};
    path = "/api/v1/admin/events/" + event_id_ + "/ticket-types";
    json tt = co_await expect(ev_peer, post, path, tt_body, admin_, 201);
    ticket_type_ = tt["id"];
    json empty = json::object();
    path = "/api/v1/admin/events/" + event_id_ + "/publish";
    co_await expect(ev_peer, post, path, empty, admin_, 200);
    // The reservation service learns about it from event.published.
    const std::string res_peer = "reservation";
    const std::string get = "GET";
    const std::string none;
    path = "/api/v1/events/" + event_id_ + "/seats";
    for (int i = 0; i < 300; ++i) {
      auto r = co_await call(res_peer, get, path, none, none, none, json_);
      if (r.status == 200 && !json::parse(r.body)["quotas"].empty()) {
        break;
      }
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::use_awaitable);
    }
    const int users = (o_.holds + 19) / 20;
    for (int u = 0; u < users; ++u) {
      users_.push_back("bench-user-" + std::to_string(u));
      tokens_.push_back(token(users_.back()));
    }
    holds_.assign(static_cast<std::size_t>(o_.holds), {});
    next_ = 0;
    const auto t0 = Clock::now();
    co_await run_workers(o_.setup_concurrency, Mode::hold, nullptr, Clock::now());
    setup_hold_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    std::erase_if(holds_, [](const auto& h) { return h.first.empty(); });
  }

  Task<void> hold_worker() {
    for (;;) {
      const int i = next_++;
      if (i >= o_.holds) {
        co_return;
      }
      const auto u = static_cast<std::size_t>(i / 20);
      json body{{"eventId", event_id_}, {"ticketTypeId", ticket_type_}, {"quantity", 1}};
      const std::string peer = "reservation";
      const std::string method = "POST";
      const std::string path = "/api/v1/reservations";
      const std::string text = body.dump();
      const std::string idem = "hold-" + std::to_string(i);
      try {
        auto r = co_await call(peer, method, path, text, tokens_[u], idem, json_);
        if (r.status == 201 || r.status == 200) {
          holds_[static_cast<std::size_t>(i)] = {json::parse(r.body)["id"].get<std::string>(), u};
        } else {
          ++setup_errors_;
        }
      } catch (const std::exception&) {
        ++setup_errors_;
      }
    }
  }

  // ---- measured flow ---------------------------------------------------------------------------

  static std::string query_value(const std::string& location, const std::string& name) {
    const auto k = location.find(name + "=");
    if (k == std::string::npos) {
      return {};
    }
    const auto start = k + name.size() + 1;
    const auto end = location.find('&', start);
    return location.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }

  // The browser's step at the hosted checkout; returns the paymentKey.
  Task<std::string> checkout(std::string order_id, std::int64_t amount) {
    const std::string form = "orderId=" + order_id + "&amount=" + std::to_string(amount) +
                             "&orderName=Bench&successUrl=%2Fok&failUrl=%2Ffail&card=4242424242424242";
    const std::string peer = "sim";
    const std::string method = "POST";
    const std::string path = "/checkout/pay";
    const std::string none;
    const std::string type = "application/x-www-form-urlencoded";
    auto r = co_await call(peer, method, path, form, none, none, type);
    std::string loc;
    for (const auto& [k, v] : r.headers) {
      if (k.size() == 8 && (k == "Location" || k == "location")) {
        loc = v;
      }
    }
    if (r.status != 302 || loc.rfind("/ok?", 0) != 0) {
      throw std::runtime_error("checkout -> " + std::to_string(r.status) + " " + loc);
    }
    co_return query_value(loc, "paymentKey");
  }

  void fail(Stats& st, const std::string& kind) {
    ++st.errors;
    ++st.error_kinds[kind.substr(0, 80)];
  }

  Task<void> flow_worker(Stats& st, Clock::time_point end) {
    while (Clock::now() < end) {
      const int i = hold_next_++;  // holds are used once, across the warm-up and the measured phase
      if (i >= static_cast<int>(holds_.size())) {
        co_return;
      }
      const auto& [rid, u] = holds_[static_cast<std::size_t>(i)];
      const std::string& tok = tokens_[u];
      const auto t0 = Clock::now();
      try {
        json body{{"reservationId", rid}, {"points", 0}};
        const std::string peer = "payment";
        const std::string method = "POST";
        std::string path = "/api/v1/payments";
        const std::string text = body.dump();
        const std::string idem = "pay-" + rid;
        auto c = co_await call(peer, method, path, text, tok, idem, json_);
        if (c.status != 201) {
          fail(st, "create " + std::to_string(c.status) + " " + c.body);
          continue;
        }
        json p = json::parse(c.body);
        const std::string id = p["id"];
        const std::string order = p["orderId"].get<std::string>();
        const std::int64_t amount = p["cardAmount"].get<std::int64_t>();
        const std::string key = co_await checkout(order, amount);
        const auto t1 = Clock::now();
        json cb{{"paymentKey", key}};
        path = "/api/v1/payments/" + id + "/confirm";
        const std::string ctext = cb.dump();
        auto r = co_await call(peer, method, path, ctext, tok, none_, json_);
        const auto t2 = Clock::now();
        if (r.status != 200 || json::parse(r.body)["status"] != "CONFIRMED") {
          fail(st, "confirm " + std::to_string(r.status) + " " + r.body);
          continue;
        }
        if (t2 <= end) {
          ++st.ok;
          st.latency_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
          st.confirm_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        }
      } catch (const std::exception& e) {
        fail(st, e.what());
      }
    }
  }

  // The simulator alone: checkout + confirm straight at it.
  Task<void> raw_worker(Stats& st, Clock::time_point end) {
    const std::string auth = tiketi::payment::basic_auth(o_.sim_secret);
    while (Clock::now() < end) {
      const int n = next_++;
      const std::string order = "raw_" + std::to_string(n) + "_" + std::to_string(o_.concurrency);
      const auto t0 = Clock::now();
      try {
        const std::int64_t amount = 10'000;
        const std::string key = co_await checkout(order, amount);
        json body{{"paymentKey", key}, {"orderId", order}, {"amount", 10'000}};
        tiketi::net::ClientRequest req;
        req.method = "POST";
        req.path = "/v1/payments/confirm";
        req.body = body.dump();
        req.timeout = std::chrono::milliseconds(30'000);
        req.max_retries = 0;
        tiketi::net::set_header(req.headers, "Content-Type", "application/json");
        tiketi::net::set_header(req.headers, "Authorization", auth);
        const tiketi::LogContext parent{};
        const std::string peer = "sim";
        auto r = co_await client_.call(peer, std::move(req), parent);
        const auto t1 = Clock::now();
        if (r.status != 200) {
          fail(st, "raw confirm " + std::to_string(r.status) + " " + r.body);
          continue;
        }
        if (t1 <= end) {
          ++st.ok;
          st.latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
      } catch (const std::exception& e) {
        fail(st, e.what());
      }
    }
  }

  enum class Mode { hold, flow, raw };

  Task<void> worker(Mode mode, Stats* st, Clock::time_point end) {
    if (mode == Mode::hold) {
      co_await hold_worker();
    } else if (mode == Mode::flow) {
      co_await flow_worker(*st, end);
    } else {
      co_await raw_worker(*st, end);
    }
  }

  Task<void> run_workers(int n, Mode mode, Stats* st, Clock::time_point end) {
    std::vector<std::future<void>> fs;
    for (int i = 0; i < n; ++i) {
      fs.push_back(asio::co_spawn(io_, worker(mode, st, end), asio::use_future));
    }
    // Wait without blocking the (single) io thread: poll the futures on a timer.
    for (auto& f : fs) {
      while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
        co_await t.async_wait(asio::use_awaitable);
      }
      f.get();
    }
  }

  Task<json> measure(bool raw, double seconds) {
    Stats st;
    next_ = 0;
    const int holds_before = hold_next_.load();
    const auto cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
    if (raw) {
      co_await run_workers(o_.concurrency, Mode::raw, &st, end);
    } else {
      co_await run_workers(o_.concurrency, Mode::flow, &st, end);
    }
    const double wall = std::min(std::chrono::duration<double>(Clock::now() - t0).count(), seconds);
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    json errors = json::object();
    for (const auto& [k, v] : st.error_kinds) {
      errors[k] = v;
    }
    json out{{"ok", st.ok},
             {"errors", st.errors},
             {"error_kinds", errors},
             {"seconds", wall},
             {"per_second", wall > 0 ? static_cast<double>(st.ok) / wall : 0.0},
             {"p50_ms", pct(st.latency_ms, 0.50)},
             {"p99_ms", pct(st.latency_ms, 0.99)},
             {"client_cpu_percent", 100.0 * (cpu_seconds() - cpu0) / elapsed}};
    if (!raw) {
      out["confirm_p50_ms"] = pct(st.confirm_ms, 0.50);
      out["confirm_p99_ms"] = pct(st.confirm_ms, 0.99);
      out["holds_used"] = std::min<int>(hold_next_.load(), static_cast<int>(holds_.size())) - holds_before;
      out["holds_available"] = holds_.size();
    }
    co_return out;
  }

  // Lets run.sh take CPU snapshots between the phases (so setup is not charged to the measured
  // phase). Blocks the client between phases only.
  void phase(const std::string& name) const {
    if (!o_.phase_cmd.empty()) {
      const std::string cmd = o_.phase_cmd + " " + name;
      if (std::system(cmd.c_str()) != 0) {
        std::cerr << "bench: phase command failed: " << cmd << "\n";
      }
    }
  }

  Task<json> run() {
    co_await setup();
    json report{{"concurrency", o_.concurrency},
                {"holds", holds_.size()},
                {"setup_hold_errors", setup_errors_.load()},
                {"setup_holds_per_second", static_cast<double>(holds_.size()) / std::max(setup_hold_seconds_, 1e-9)}};
    if (o_.warmup > 0) {
      // The same flow, not measured: every pool connection (and its prepared statements) and every
      // keep-alive connection exists before the measured phase starts, as in a service at steady state.
      auto warm = co_await measure(false, o_.warmup);
      report["warmup"] = warm;
      asio::steady_timer settle(co_await asio::this_coro::executor, std::chrono::milliseconds(500));
      co_await settle.async_wait(asio::use_awaitable);
    }
    phase("setup_done");
    report["flow"] = co_await measure(false, o_.duration);
    phase("flow_done");
    report["raw_sim"] = co_await measure(true, o_.raw_duration);
    co_return report;
  }

 private:
  Opts o_;
  asio::io_context& io_;
  tiketi::ClockPtr clock_;
  tiketi::net::HttpClient client_;
  tiketi::common::AuthKeys keys_;
  std::unique_ptr<tiketi::auth::JwtCodec> codec_;
  std::string admin_, event_id_, ticket_type_;
  std::vector<std::string> users_, tokens_;
  std::vector<std::pair<std::string, std::size_t>> holds_;
  std::atomic<int> next_{0};
  std::atomic<int> hold_next_{0};
  std::atomic<int> setup_errors_{0};
  double setup_hold_seconds_ = 0;
  const std::string none_;
  const std::string json_ = "application/json";
};

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--payment") o.payment = v;
    else if (k == "--reservation") o.reservation = v;
    else if (k == "--event") o.event = v;
    else if (k == "--sim") o.sim = v;
    else if (k == "--jwt-secret") o.jwt_secret = v;
    else if (k == "--sim-secret") o.sim_secret = v;
    else if (k == "--holds") o.holds = std::stoi(v);
    else if (k == "--concurrency") o.concurrency = std::stoi(v);
    else if (k == "--duration") o.duration = std::stod(v);
    else if (k == "--raw-duration") o.raw_duration = std::stod(v);
    else if (k == "--warmup") o.warmup = std::stod(v);
    else if (k == "--phase-cmd") o.phase_cmd = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  if (o.payment.empty() || o.reservation.empty() || o.event.empty() || o.sim.empty() || o.jwt_secret.empty()) {
    std::cerr << "usage: tiketi_payment_bench --payment URL --reservation URL --event URL --sim URL --jwt-secret S "
                 "[--holds N] [--concurrency C] [--duration S] [--raw-duration S] [--warmup S] [--sim-secret S] "
                 "[--phase-cmd CMD]\n";
    return 2;
  }
  asio::io_context io(1);
  Bench bench(o, io);
  auto fut = asio::co_spawn(io, bench.run(), asio::use_future);
  io.run();
  try {
    std::cout << fut.get().dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
