#include "services/payment/gateway/simulator.hpp"

#include "services/common/html.hpp"

#include <pthread.h>
#include <signal.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "net/server.hpp"
#include "services/payment/gateway/toss_gateway.hpp"

namespace tiketi::payment {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

enum class Behaviour { normal, decline, timeout_once, lose_once };

struct SimPayment {
  std::string key;
  std::string order_id;
  std::string order_name;
  std::int64_t total = 0;
  std::int64_t balance = 0;
  std::string status = "READY";
  Behaviour behaviour = Behaviour::normal;
  std::string requested_at;
  std::string approved_at;
  json cancels = json::array();
};

struct Cached {
  int status;
  std::string body;
};

std::string iso_now() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

json payment_json(const SimPayment& p) {
  return json{{"mId", "tiketi_sim"},
              {"version", "2022-11-16"},
              {"paymentKey", p.key},
              {"type", "NORMAL"},
              {"orderId", p.order_id},
              {"orderName", p.order_name},
              {"currency", "KRW"},
              {"method", "카드"},
              {"totalAmount", p.total},
              {"balanceAmount", p.balance},
              {"status", p.status},
              {"requestedAt", p.requested_at},
              {"approvedAt", p.approved_at.empty() ? json(nullptr) : json(p.approved_at)},
              {"cancels", p.cancels.empty() ? json(nullptr) : p.cancels},
              {"testMode", true}};
}

net::Response error(int status, const std::string& code, const std::string& message) {
  return net::Response::json(status, json{{"code", code}, {"message", message}}.dump());
}

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    const auto amp = body.find('&', pos);
    const auto part = body.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    const auto eq = part.find('=');
    if (!part.empty()) {
      out[net::percent_decode(part.substr(0, eq), true)] =
          eq == std::string::npos ? "" : net::percent_decode(part.substr(eq + 1), true);
    }
    if (amp == std::string::npos) {
      break;
    }
    pos = amp + 1;
  }
  return out;
}

std::string with_query(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

Task<void> sleep_ms(std::int64_t ms) {
  if (ms <= 0) {
    co_return;
  }
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

struct PgSimulator::Impl {
  PgSimOptions opts;
  metrics::Registry registry;
  std::unique_ptr<net::Server> server;
  std::string expected_auth;

  mutable std::mutex mu;
  PgSimKnobs knobs;
  PgSimStats stats;
  std::map<std::string, SimPayment> by_key;
  std::map<std::string, std::string> key_by_order;
  std::map<std::string, std::int64_t> charges_by_order;
  std::map<std::string, Cached> idempotent;  // "<op>:<Idempotency-Key>" -> first answer

  bool authorized(const net::Request& req) const {
    if (expected_auth.empty()) {
      return true;
    }
    auto h = req.header("Authorization");
    return h && *h == expected_auth;
  }

  net::Response remember(const std::string& idem, net::Response r) {
    if (!idem.empty()) {
      idempotent[idem] = Cached{r.status, r.body};
    }
    return r;
  }

  Task<net::Response> confirm(net::Request& req) {
    if (!authorized(req)) {
      co_return error(401, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.");
    }
    std::int64_t latency = 0;
    std::int64_t hang = 0;
    {
      std::lock_guard lk(mu);
      latency = knobs.latency_ms;
      hang = knobs.hang_ms;
      ++stats.confirms;
    }
    co_await sleep_ms(latency);
    json body;
    try {
      body = json::parse(req.body);
    } catch (const std::exception&) {
      co_return error(400, "INVALID_REQUEST", "잘못된 요청입니다.");
    }
    if (!body.is_object() || !body.contains("paymentKey") || !body["paymentKey"].is_string() ||
        !body.contains("orderId") || !body["orderId"].is_string() || !body.contains("amount") ||
        !body["amount"].is_number_integer()) {
      co_return error(400, "INVALID_REQUEST", "paymentKey, orderId and amount are required.");
    }
    const std::string key = body["paymentKey"];
    const std::string order = body["orderId"];
    const std::int64_t amount = body["amount"];
    const std::string idem =
        req.header("Idempotency-Key") ? "confirm:" + std::string(*req.header("Idempotency-Key")) : "";

    enum class Then { answer, hang_unprocessed, hang_processed } then = Then::answer;
    net::Response resp;
    {
      std::lock_guard lk(mu);
      if (!idem.empty()) {
        if (auto it = idempotent.find(idem); it != idempotent.end()) {
          co_return net::Response::json(it->second.status, it->second.body);
        }
      }
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        co_return error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.");
      }
      SimPayment& p = it->second;
      bool decline = p.behaviour == Behaviour::decline;
      bool timeout = false;
      bool lose = false;
      if (knobs.decline_next > 0) {
        --knobs.decline_next;
        decline = true;
      } else if (knobs.timeout_next > 0) {
        --knobs.timeout_next;
        timeout = true;
      } else if (knobs.lose_response_next > 0) {
        --knobs.lose_response_next;
        lose = true;
      } else if (p.behaviour == Behaviour::timeout_once) {
        p.behaviour = Behaviour::normal;
        timeout = true;
      } else if (p.behaviour == Behaviour::lose_once) {
        p.behaviour = Behaviour::normal;
        lose = true;
      }
      if (timeout) {
        then = Then::hang_unprocessed;
      } else if (p.order_id != order || p.total != amount) {
        resp = remember(idem, error(400, "INVALID_REQUEST", "결제 금액 혹은 주문번호가 일치하지 않습니다."));
      } else if (p.status != "READY") {
        resp = error(400, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.");
      } else if (decline) {
        p.status = "ABORTED";
        resp = remember(idem,
                        error(400, "REJECT_CARD_PAYMENT", "한도초과 혹은 잔액부족으로 결제에 실패했습니다."));
      } else {
        p.status = "DONE";
        p.approved_at = iso_now();
        ++stats.charges;
        ++charges_by_order[p.order_id];
        resp = remember(idem, net::Response::json(200, payment_json(p).dump()));
        if (lose) {
          then = Then::hang_processed;
        }
      }
    }
    if (then != Then::answer) {
      // The client gives up before this ends; what it would have read is lost either way.
      co_await sleep_ms(hang);
      co_return error(504, "PROVIDER_TIMEOUT", "timeout");
    }
    co_return resp;
  }

  Task<net::Response> cancel(net::Request& req) {
    if (!authorized(req)) {
      co_return error(401, "UNAUTHORIZED_KEY", "unauthorized");
    }
    std::int64_t latency = 0;
    {
      std::lock_guard lk(mu);
      latency = knobs.latency_ms;
    }
    co_await sleep_ms(latency);
    json body;
    try {
      body = json::parse(req.body.empty() ? "{}" : req.body);
    } catch (const std::exception&) {
      co_return error(400, "INVALID_REQUEST", "invalid JSON");
    }
    const std::string reason =
        body.is_object() && body.contains("cancelReason") && body["cancelReason"].is_string()
            ? body["cancelReason"].get<std::string>()
            : "";
    if (reason.empty()) {
      co_return error(400, "INVALID_REQUEST", "cancelReason is required.");
    }
    const std::string idem =
        req.header("Idempotency-Key") ? "cancel:" + std::string(*req.header("Idempotency-Key")) : "";
    std::lock_guard lk(mu);
    if (!idem.empty()) {
      if (auto it = idempotent.find(idem); it != idempotent.end()) {
        co_return net::Response::json(it->second.status, it->second.body);
      }
    }
    auto it = by_key.find(req.param("paymentKey"));
    if (it == by_key.end()) {
      co_return error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.");
    }
    SimPayment& p = it->second;
    if (knobs.cancel_decline_next > 0) {
      --knobs.cancel_decline_next;
      co_return error(403, "NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다.");
    }
    if (p.status == "CANCELED") {
      co_return error(400, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.");
    }
    if (p.status != "DONE" && p.status != "PARTIAL_CANCELED") {
      co_return remember(idem, error(403, "NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다."));
    }
    std::int64_t amount = p.balance;
    if (body.contains("cancelAmount")) {
      if (!body["cancelAmount"].is_number_integer() || body["cancelAmount"].get<std::int64_t>() <= 0 ||
          body["cancelAmount"].get<std::int64_t>() > p.balance) {
        co_return remember(idem, error(400, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다."));
      }
      amount = body["cancelAmount"];
    }
    p.balance -= amount;
    p.status = p.balance == 0 ? "CANCELED" : "PARTIAL_CANCELED";
    p.cancels.push_back(json{{"cancelAmount", amount},
                             {"cancelReason", reason},
                             {"canceledAt", iso_now()},
                             {"transactionKey", ids::random_hex(12)}});
    ++stats.cancels;
    co_return remember(idem, net::Response::json(200, payment_json(p).dump()));
  }

  Task<net::Response> lookup(net::Request& req, bool by_order) {
    if (!authorized(req)) {
      co_return error(401, "UNAUTHORIZED_KEY", "unauthorized");
    }
    std::int64_t latency = 0;
    {
      std::lock_guard lk(mu);
      latency = knobs.latency_ms;
    }
    co_await sleep_ms(latency);
    std::lock_guard lk(mu);
    if (knobs.lookup_fail_next > 0) {
      --knobs.lookup_fail_next;
      co_return error(500, "FAILED_INTERNAL_SYSTEM_PROCESSING", "simulated failure");
    }
    std::string key = by_order ? "" : req.param("paymentKey");
    if (by_order) {
      auto o = key_by_order.find(req.param("orderId"));
      if (o != key_by_order.end()) {
        key = o->second;
      }
    }
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      co_return error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.");
    }
    co_return net::Response::json(200, payment_json(it->second).dump());
  }

  Task<net::Response> checkout_page(net::Request& req) {
    const auto order = req.query_param("orderId").value_or("");
    const auto amount = req.query_param("amount").value_or("");
    const auto name = req.query_param("orderName").value_or("Tiketi order");
    const auto ok = req.query_param("successUrl").value_or("");
    const auto fail = req.query_param("failUrl").value_or("");
    if (order.empty() || amount.empty() || ok.empty() || fail.empty()) {
      co_return net::Response::text(400, "orderId, amount, successUrl and failUrl are required\n");
    }
    auto hidden = [](const char* n, const std::string& v) {
      return std::string("<input type=\"hidden\" name=\"") + n + "\" value=\"" + common::html_escape(v) + "\">";
    };
    std::string html =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Test payment</title></head><body>"
        "<p><strong>TEST MODE</strong> — simulated payment gateway. No real card is charged.</p>"
        "<h1>" +
        common::html_escape(name) + "</h1><p>Amount: " + common::html_escape(amount) +
        " KRW</p><form method=\"post\" action=\"/checkout/pay\">" + hidden("orderId", order) +
        hidden("amount", amount) + hidden("orderName", name) + hidden("successUrl", ok) +
        hidden("failUrl", fail) +
        "<label>Card number <input name=\"card\" value=\"4242424242424242\" autocomplete=\"off\"></label>"
        "<p>4242…4242 succeeds · 4000…0002 declined · 4000…0119 times out once · 4000…0259 answer lost once ·"
        " 4000…0010 fails at checkout</p><button type=\"submit\">Pay</button></form></body></html>";
    co_return net::Response::text(200, std::move(html), "text/html; charset=utf-8");
  }

  Task<net::Response> checkout_pay(net::Request& req) {
    auto f = parse_form(req.body);
    const std::string order = f["orderId"];
    const std::string ok = f["successUrl"];
    const std::string fail = f["failUrl"];
    std::int64_t amount = -1;
    try {
      std::size_t used = 0;
      amount = std::stoll(f["amount"], &used);
      if (used != f["amount"].size()) {
        amount = -1;
      }
    } catch (const std::exception&) {
      amount = -1;
    }
    if (order.empty() || order.size() > 64 || ok.empty() || fail.empty() || amount <= 0) {
      co_return net::Response::text(400, "invalid checkout form\n");
    }
    std::string card = f["card"];
    std::erase_if(card, [](char c) { return c == ' ' || c == '-'; });
    if (card == "4000000000000010") {
      co_return net::Response::redirect(with_query(
          fail, "code=PAY_PROCESS_CANCELED&message=" + url_encode("사용자에 의해 결제가 취소되었습니다.") +
                    "&orderId=" + url_encode(order)));
    }
    SimPayment p;
    p.key = "tsim_" + ids::random_hex(16);
    p.order_id = order;
    p.order_name = f["orderName"];
    p.total = amount;
    p.balance = amount;
    p.requested_at = iso_now();
    p.behaviour = card == "4000000000000002"   ? Behaviour::decline
                  : card == "4000000000000119" ? Behaviour::timeout_once
                  : card == "4000000000000259" ? Behaviour::lose_once
                                               : Behaviour::normal;
    {
      std::lock_guard lk(mu);
      if (key_by_order.count(order) != 0) {
        // Toss keeps one payment per orderId; a second checkout for it is refused.
        co_return net::Response::redirect(
            with_query(fail, "code=DUPLICATED_ORDER_ID&message=duplicated&orderId=" + url_encode(order)));
      }
      key_by_order[order] = p.key;
      by_key[p.key] = p;
      ++stats.payments;
    }
    co_return net::Response::redirect(with_query(ok, "paymentKey=" + url_encode(p.key) +
                                                         "&orderId=" + url_encode(order) +
                                                         "&amount=" + std::to_string(amount)));
  }

  Task<net::Response> set_knobs_route(net::Request& req) {
    json j;
    try {
      j = json::parse(req.body);
    } catch (const std::exception&) {
      co_return error(400, "INVALID_REQUEST", "invalid JSON");
    }
    std::lock_guard lk(mu);
    knobs.latency_ms = j.value("latencyMs", knobs.latency_ms);
    knobs.hang_ms = j.value("hangMs", knobs.hang_ms);
    knobs.decline_next = j.value("declineNext", knobs.decline_next);
    knobs.timeout_next = j.value("timeoutNext", knobs.timeout_next);
    knobs.lose_response_next = j.value("loseResponseNext", knobs.lose_response_next);
    knobs.lookup_fail_next = j.value("lookupFailNext", knobs.lookup_fail_next);
    knobs.cancel_decline_next = j.value("cancelDeclineNext", knobs.cancel_decline_next);
    co_return net::Response::json(200, knobs_json().dump());
  }

  json knobs_json() const {
    return json{{"latencyMs", knobs.latency_ms},
                {"hangMs", knobs.hang_ms},
                {"declineNext", knobs.decline_next},
                {"timeoutNext", knobs.timeout_next},
                {"loseResponseNext", knobs.lose_response_next},
                {"lookupFailNext", knobs.lookup_fail_next},
                {"cancelDeclineNext", knobs.cancel_decline_next}};
  }

  net::Router routes(const std::shared_ptr<Impl>& self) {
    net::Router r;
    const net::RouteOptions o{.service = "pg-sim"};
    Impl* raw = self.get();
    r.add(
        "POST", "/v1/payments/confirm", [raw](net::Request& q) { return raw->confirm(q); }, o);
    r.add(
        "POST", "/v1/payments/{paymentKey}/cancel", [raw](net::Request& q) { return raw->cancel(q); }, o);
    r.add(
        "GET", "/v1/payments/{paymentKey}", [raw](net::Request& q) { return raw->lookup(q, false); }, o);
    r.add(
        "GET", "/v1/payments/orders/{orderId}", [raw](net::Request& q) { return raw->lookup(q, true); }, o);
    r.add(
        "GET", "/checkout", [raw](net::Request& q) { return raw->checkout_page(q); }, o);
    r.add(
        "POST", "/checkout/pay", [raw](net::Request& q) { return raw->checkout_pay(q); }, o);
    r.add(
        "POST", "/sim/knobs", [raw](net::Request& q) { return raw->set_knobs_route(q); }, o);
    r.add(
        "GET", "/sim/stats",
        [raw](net::Request&) -> Task<net::Response> {
          std::lock_guard lk(raw->mu);
          json j{{"confirms", raw->stats.confirms},
                 {"charges", raw->stats.charges},
                 {"cancels", raw->stats.cancels},
                 {"payments", raw->stats.payments},
                 {"knobs", raw->knobs_json()}};
          co_return net::Response::json(200, j.dump());
        },
        o);
    r.add(
        "POST", "/sim/reset",
        [raw](net::Request&) -> Task<net::Response> {
          std::lock_guard lk(raw->mu);
          raw->knobs = PgSimKnobs{.latency_ms = raw->opts.latency_ms, .hang_ms = raw->opts.hang_ms};
          co_return net::Response::no_content();
        },
        o);
    return r;
  }
};

PgSimulator::PgSimulator(PgSimOptions opts) : impl_(std::make_shared<Impl>()) {
  impl_->opts = std::move(opts);
  impl_->knobs.latency_ms = impl_->opts.latency_ms;
  impl_->knobs.hang_ms = impl_->opts.hang_ms;
  if (!impl_->opts.secret_key.empty()) {
    impl_->expected_auth = basic_auth(impl_->opts.secret_key);
  }
}

PgSimulator::~PgSimulator() { shutdown(); }

void PgSimulator::start() {
  net::ServerOptions so;
  so.listen = impl_->opts.listen;
  so.threads = impl_->opts.threads;
  so.access_log = impl_->opts.access_log;
  so.service_label = "pg-sim";
  so.max_body_bytes = 64 * 1024;
  impl_->server = std::make_unique<net::Server>(so, impl_->routes(impl_), impl_->registry);
  impl_->server->start();
}

std::uint16_t PgSimulator::port() const { return impl_->server ? impl_->server->port() : 0; }

std::string PgSimulator::base_url() const {
  std::string host = impl_->opts.listen.substr(0, impl_->opts.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";
  }
  return "http://" + host + ":" + std::to_string(port());
}

void PgSimulator::shutdown() {
  if (impl_->server) {
    impl_->server->shutdown(200);
    impl_->server->join();
    impl_->server.reset();
  }
}

void PgSimulator::set_knobs(const PgSimKnobs& k) {
  std::lock_guard lk(impl_->mu);
  impl_->knobs = k;
}

PgSimKnobs PgSimulator::knobs() const {
  std::lock_guard lk(impl_->mu);
  return impl_->knobs;
}

PgSimStats PgSimulator::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->stats;
}

std::optional<std::string> PgSimulator::status_of(const std::string& payment_key) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->by_key.find(payment_key);
  if (it == impl_->by_key.end()) {
    return std::nullopt;
  }
  return it->second.status;
}

std::int64_t PgSimulator::charges_for_order(const std::string& order_id) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->charges_by_order.find(order_id);
  return it == impl_->charges_by_order.end() ? 0 : it->second;
}

int run_pg_sim(const PgSimOptions& opts) {
  // Block the signals before the server threads start so only sigwait below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  PgSimulator sim(opts);
  try {
    sim.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg-sim: %s\n", e.what());
    return 1;
  }
  std::printf("pg-sim (TEST MODE payment gateway) listening on %s\n", sim.base_url().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  sim.shutdown();
  return 0;
}

}  // namespace tiketi::payment
