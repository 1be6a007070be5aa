// The running service against a real SMTP server on 127.0.0.1 (tests/smtp_sink.hpp), with SQLite and,
// when TIKETI_TEST_POSTGRES_URL is set, PostgreSQL. Events go into the coordinator's streams the way
// the outbox relay writes them; the consumer and the sender are driven by hand with a ManualClock.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/testing/servers.hpp"
#include "net/middleware.hpp"
#include "net/router.hpp"
#include "services/notification/sender.hpp"
#include "services/notification/service.hpp"
#include "services/notification/state.hpp"
#include "services/notification/tests/smtp_sink.hpp"
#include "services/notification/tests/tls_smtp_server.hpp"

namespace tiketi::notification {
namespace {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;
using testing::decode_mail;
using testing::SmtpSink;

constexpr Millis kPerformance = 1754042400000;  // Fri 1 Aug 2025 19:00 KST

class NotificationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tiketi-notification-" + ids::random_hex(6));
    fs::create_directories(dir_);
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(pg);
      url_ = pg;
    }
    sink_.start();
    config_.data_dir = dir_.string();
    config_.extra["auth.jwt_secret"] = "test-secret-test-secret-test-secret-0123";
    config_.extra["notification.smtp_url"] = sink_.url();
    config_.extra["notification.smtp_timeout_ms"] = "3000";
    config_.extra["notification.max_attempts"] = "3";
    config_.extra["notification.retry_base_ms"] = "1000";
    config_.extra["notification.retry_max_ms"] = "60000";
    config_.extra["notification.public_url"] = "https://tiketi.example";
    users_["u-ko"] = Recipient{"u-ko", "jieun@example.com", "김지은", "ko"};
    users_["u-en"] = Recipient{"u-en", "sam@example.com", "Sam", "en"};
    clock_ = std::make_shared<ManualClock>(1'750'000'000'000);
    start_service();
  }

  void start_service() {
    service_ = app::make_notification_service();
    run([&]() -> Task<void> {
      store::OpenOptions o;
      o.url = url_;
      if (schema_.empty()) {
        // A fresh schema per test on PostgreSQL; replicas started later in a test share it.
        schema_ = GetParam() == "sqlite" ? "notification" : "notification_t" + ids::random_hex(4);
      }
      o.schema = schema_;
      o.pool_size = 4;
      db_ = co_await store::open(ioc_.get_executor(), o);
      co_await store::migrate(*db_, service_->migrations());
    });
    if (!coord_) {
      coord_ = coord::make_memory_coordinator(ioc_.get_executor(), {clock_});
    }
    router_ = std::make_unique<net::Router>();
    service_->routes(*router_);
    ctx_.config = &config_;
    ctx_.db = db_;
    ctx_.coord = coord_;
    ctx_.clock = clock_;
    ctx_.metrics = &metrics_;
    ctx_.executor = bg_.get_executor();  // background loops are parked: tests drive them by hand
    ctx_.log = LogContext{"notification", {}, {}, {}};
    ctx_.instance_id = "test-" + ids::random_hex(3);
    run([&]() -> Task<void> { co_await service_->start(ctx_); });
    state_ = state_of(*service_);
    ASSERT_NE(state_, nullptr);
    state_->recipients->set_lookup([this](const std::string& id) -> Task<std::optional<Recipient>> {
      ++lookups_;
      auto it = users_.find(id);
      co_return it == users_.end() ? std::nullopt : std::optional<Recipient>(it->second);
    });
  }

  void TearDown() override {
    if (service_ && db_) {
      run([&]() -> Task<void> { co_await service_->stop(); });
      db_->close();
    }
    sink_.stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  template <class F>
  void run(F f) {
    auto fut = asio::co_spawn(ioc_, f(), asio::use_future);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ioc_.run_one();
    }
    fut.get();
  }

  // Writes an event to its stream exactly as the outbox relay does; returns its id.
  std::string publish(const std::string& topic, const json& payload, std::string id = {}) {
    if (id.empty()) {
      id = ids::uuid_v7(clock_->now_ms());
    }
    std::vector<std::pair<std::string, std::string>> fields{{"id", id},
                                                            {"topic", topic},
                                                            {"key", payload.value("reservation_id", "k")},
                                                            {"payload", payload.dump()},
                                                            {"created_at", std::to_string(clock_->now_ms())},
                                                            {"trace_id", ""}};
    run([&]() -> Task<void> { co_await coord_->xadd(coord::stream_for_topic(topic), fields); });
    return id;
  }

  int poll() {
    int n = 0;
    run([&]() -> Task<void> { n = co_await poll_events_once(*service_); });
    return n;
  }

  PassResult send_due() {
    PassResult r;
    run([&]() -> Task<void> { r = co_await sender_of(*service_)->run_once(); });
    return r;
  }

  std::vector<DeliveryView> deliveries() {
    std::vector<DeliveryView> out;
    run([&]() -> Task<void> { out = co_await state_->store->list("", "", "", 100); });
    return out;
  }

  net::Response call(std::string method, std::string target, std::string role = "admin") {
    net::Request req;
    req.method = method;
    req.target = target;
    net::parse_target(target, req.path, req.query);
    if (!role.empty()) {
      req.principal = net::Principal{"u-admin", role, "t"};
    }
    auto m = router_->match(method, req.path);
    if (m.route == nullptr) {
      ADD_FAILURE() << "no route " << method << " " << req.path;
      return {};
    }
    req.params = m.params;
    net::Response res;
    run([&]() -> Task<void> {
      try {
        res = co_await m.route->handler(req);
      } catch (const std::exception& e) {
        res = net::error_response(e, req.log);
      }
    });
    return res;
  }

  double emails(const std::string& template_name, const std::string& result) {
    return metrics_
        .counter("notification_emails_total", "Email delivery attempts by template and result",
                 {{"template", template_name}, {"result", result}})
        .value();
  }

  double gauge(const std::string& name) { return metrics_.gauge(name, "").value(); }

  static json published_event() {
    return json{{"schema_version", 1},
                {"event_id", "e-1"},
                {"title", "IU 콘서트 <HEREH>"},
                {"status", "on_sale"},
                {"performance_start", kPerformance},
                {"ticket_types", json::array()},
                {"seats", json::array()}};
  }

  static json reservation(const std::string& user, const std::string& rid) {
    return json{
        {"schema_version", 1},
        {"reservation_id", rid},
        {"user_id", user},
        {"event_id", "e-1"},
        {"amount", 330000},
        {"quantity", 2},
        {"kind", "seated"},
        {"at", 1750000000000},
        {"items", json::array({json{{"label", "A구역 1열 12번"}, {"unit_price", 165000}, {"quantity", 1}},
                               json{{"label", "A구역 1열 13번"}, {"unit_price", 165000}, {"quantity", 1}}})}};
  }

  static json payment(const std::string& user, const std::string& rid) {
    return json{{"schema_version", 1}, {"payment_id", "p-" + rid}, {"reservation_id", rid},
                {"user_id", user},     {"order_id", "o-1"},        {"amount", 330000},
                {"points_amount", 0},  {"card_amount", 330000},    {"method", "card"},
                {"at", 1750000000000}};
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  asio::io_context bg_;
  fs::path dir_;
  std::string url_;
  std::string schema_;
  Config config_;
  SmtpSink sink_;
  std::shared_ptr<ManualClock> clock_;
  store::DatabasePtr db_;
  coord::CoordinatorPtr coord_;
  metrics::Registry metrics_;
  app::ServicePtr service_;
  std::unique_ptr<net::Router> router_;
  app::ServiceContext ctx_;
  NotificationState* state_ = nullptr;
  std::map<std::string, Recipient> users_;
  int lookups_ = 0;
};

TEST_P(NotificationTest, PurchaseFlowProducesExactlyTheExpectedEmails) {
  publish("event.published", published_event());
  publish("payment.completed", payment("u-ko", "r-1"));
  json confirmed = reservation("u-ko", "r-1");
  confirmed["payment_id"] = "p-r-1";
  confirmed["tickets"] = json::array({json{{"code", "TK-AAAA-1111"}, {"label", "A구역 1열 12번"}},
                                      json{{"code", "TK-BBBB-2222"}, {"label", "A구역 1열 13번"}}});
  publish("reservation.confirmed", confirmed);
  EXPECT_EQ(poll(), 3);
  clock_->advance(1500);
  auto r = send_due();
  EXPECT_EQ(r.claimed, 2);
  EXPECT_EQ(r.sent, 2);

  auto msgs = sink_.messages();
  ASSERT_EQ(msgs.size(), 2u);
  std::map<std::string, testing::DecodedMail> by_subject;
  for (const auto& m : msgs) {
    ASSERT_EQ(m.rcpt_to.size(), 1u);
    EXPECT_EQ(m.rcpt_to[0], "jieun@example.com");
    EXPECT_EQ(m.mail_from, "no-reply@tiketi.local");
    auto d = decode_mail(m.data);
    by_subject[d.subject] = d;
  }
  ASSERT_EQ(by_subject.count("[Tiketi] 결제 완료: ₩330,000"), 1u);
  ASSERT_EQ(by_subject.count("[Tiketi] 예매 확정: IU 콘서트 <HEREH>"), 1u);
  const auto& conf = by_subject["[Tiketi] 예매 확정: IU 콘서트 <HEREH>"];
  EXPECT_NE(conf.text.find("김지은님, 예매가 확정되었습니다."), std::string::npos) << conf.text;
  EXPECT_NE(conf.text.find("일시: 2025년 8월 1일 (금) 19:00"), std::string::npos);
  EXPECT_NE(conf.text.find("결제 금액: ₩330,000"), std::string::npos);
  EXPECT_NE(conf.text.find("- A구역 1열 12번 x1 (₩165,000)"), std::string::npos);
  EXPECT_NE(conf.text.find("- TK-AAAA-1111 (A구역 1열 12번)"), std::string::npos);
  EXPECT_NE(conf.text.find("- TK-BBBB-2222 (A구역 1열 13번)"), std::string::npos);
  EXPECT_NE(conf.text.find("https://tiketi.example/reservations/r-1"), std::string::npos);
  EXPECT_NE(conf.html.find("IU 콘서트 &lt;HEREH&gt;"), std::string::npos);  // escaped in HTML
  EXPECT_NE(conf.html.find("<code>TK-BBBB-2222</code>"), std::string::npos);

  for (const auto& d : deliveries()) {
    EXPECT_EQ(d.status, "SENT");
    EXPECT_EQ(d.attempts, 1);
    EXPECT_EQ(d.email.value_or(""), "jieun@example.com");
    EXPECT_EQ(d.last_code.value_or(0), 250);
  }
  EXPECT_EQ(lookups_, 1);  // the second email used the cached recipient
  EXPECT_EQ(send_due().claimed, 0);
  EXPECT_EQ(sink_.messages().size(), 2u);
  EXPECT_DOUBLE_EQ(metrics_
                       .counter("notification_emails_total", "Email delivery attempts by template and result",
                                {{"template", "reservation_confirmed"}, {"result", "sent"}})
                       .value(),
                   1.0);
  EXPECT_NE(metrics_.expose().find("notification_smtp_duration_seconds_count 2"), std::string::npos);
}

TEST_P(NotificationTest, EnglishCancellationAndRefund) {
  publish("event.published", published_event());
  json cancelled = reservation("u-en", "r-2");
  cancelled["refund"] = true;
  cancelled["previous_status"] = "CONFIRMED";
  publish("reservation.cancelled", cancelled);
  json refunded = payment("u-en", "r-2");
  refunded["refunded_points"] = 0;
  refunded["refunded_card"] = 330000;
  publish("payment.refunded", refunded);
  poll();
  EXPECT_EQ(send_due().sent, 2);
  std::set<std::string> subjects;
  for (const auto& m : sink_.messages()) {
    auto d = decode_mail(m.data);
    subjects.insert(d.subject);
    if (d.subject.find("cancelled") != std::string::npos) {
      EXPECT_NE(d.text.find("The ₩330,000 you paid will be refunded."), std::string::npos) << d.text;
      EXPECT_NE(d.text.find("When: Fri, 1 Aug 2025 19:00 KST"), std::string::npos);
    }
  }
  EXPECT_EQ(subjects, (std::set<std::string>{"[Tiketi] Booking cancelled: IU 콘서트 <HEREH>",
                                             "[Tiketi] Refund issued: ₩330,000"}));
}

TEST_P(NotificationTest, DuplicateEventsSendOneEmail) {
  const auto id = publish("payment.completed", payment("u-ko", "r-3"));
  publish("payment.completed", payment("u-ko", "r-3"), id);  // the relay published it twice
  poll();
  EXPECT_EQ(send_due().sent, 1);
  // Redelivered again after it was sent (e.g. a consumer crashed before acking).
  publish("payment.completed", payment("u-ko", "r-3"), id);
  poll();
  EXPECT_EQ(send_due().claimed, 0);
  EXPECT_EQ(sink_.messages().size(), 1u);
  EXPECT_EQ(deliveries().size(), 1u);
}

TEST_P(NotificationTest, SmtpDownIsRetriedWithBackoffAndDeliveredOnceBack) {
  const int port = sink_.port();
  sink_.stop();
  publish("payment.completed", payment("u-ko", "r-4"));
  poll();
  auto r = send_due();
  EXPECT_EQ(r.retried, 1);
  auto d = deliveries().at(0);
  EXPECT_EQ(d.status, "PENDING");
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_code.value_or(-1), 0);
  EXPECT_FALSE(d.last_error.value_or("").empty());
  // Backoff: not due again until the delay (500..1000 ms after the first failure) has passed.
  EXPECT_GE(d.next_attempt_at, clock_->now_ms() + 500);
  EXPECT_LT(d.next_attempt_at, clock_->now_ms() + 1000);
  EXPECT_EQ(send_due().claimed, 0);

  clock_->advance(1000);
  EXPECT_EQ(send_due().retried, 1);  // still down: second attempt, longer delay
  d = deliveries().at(0);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_GE(d.next_attempt_at, clock_->now_ms() + 1000);

  sink_.start(port);
  clock_->advance(2000);
  r = send_due();
  EXPECT_EQ(r.sent, 1);
  d = deliveries().at(0);
  EXPECT_EQ(d.status, "SENT");
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(sink_.messages().size(), 1u);
  clock_->advance(3'600'000);
  EXPECT_EQ(send_due().claimed, 0);
  EXPECT_EQ(sink_.messages().size(), 1u);
}

TEST_P(NotificationTest, DeadLetterAfterMaxAttempts) {
  sink_.stop();
  publish("payment.completed", payment("u-ko", "r-5"));
  poll();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send_due().claimed, 1) << i;
    clock_->advance(60'000);
  }
  auto d = deliveries().at(0);
  EXPECT_EQ(d.status, "FAILED");
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(send_due().claimed, 0);
}

TEST_P(NotificationTest, PermanentRejectionIsNotRetriedAndVisibleToAdmins) {
  sink_.reject_recipient("jieun@example.com");
  publish("payment.completed", payment("u-ko", "r-6"));
  poll();
  auto r = send_due();
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.retried, 0);
  clock_->advance(3'600'000);
  EXPECT_EQ(send_due().claimed, 0);
  EXPECT_TRUE(sink_.messages().empty());

  auto res = call("GET", "/api/v1/admin/notifications?status=FAILED");
  ASSERT_EQ(res.status, 200) << res.body;
  auto body = json::parse(res.body);
  ASSERT_EQ(body["items"].size(), 1u);
  const auto& item = body["items"][0];
  EXPECT_EQ(item["status"], "FAILED");
  EXPECT_EQ(item["attempts"], 1);
  EXPECT_EQ(item["last_code"], 550);
  EXPECT_NE(item["last_error"].get<std::string>().find("User unknown"), std::string::npos) << item.dump();
  EXPECT_EQ(item["template"], "payment_completed");

  EXPECT_EQ(call("GET", "/api/v1/admin/notifications", "user").status, 403);
  EXPECT_EQ(call("GET", "/api/v1/admin/notifications", "").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/admin/notifications?status=NOPE").status, 400);

  // The admin fixes the mailbox and resends.
  sink_.reset_rejections();
  const std::string id = item["id"];
  res = call("POST", "/api/v1/admin/notifications/" + id + "/resend");
  ASSERT_EQ(res.status, 202) << res.body;
  EXPECT_EQ(json::parse(res.body)["status"], "PENDING");
  EXPECT_EQ(call("POST", "/api/v1/admin/notifications/" + id + "/resend").status, 409);
  EXPECT_EQ(send_due().sent, 1);
  EXPECT_EQ(sink_.messages().size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/admin/notifications/" + id).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/admin/notifications/nope").status, 404);
}

TEST_P(NotificationTest, UnknownRecipientFailsWithoutSending) {
  publish("payment.completed", payment("u-ghost", "r-7"));
  poll();
  EXPECT_EQ(send_due().failed, 1);
  EXPECT_NE(deliveries().at(0).last_error.value_or("").find("not known"), std::string::npos);
  EXPECT_TRUE(sink_.messages().empty());
}

TEST_P(NotificationTest, ReplicasNeverSendTheSameDeliveryTwice) {
  for (int i = 0; i < 20; ++i) {
    std::string rid = "r-x";
    rid.append(std::to_string(i));
    publish("payment.completed", payment("u-ko", rid));
  }
  EXPECT_EQ(poll(), 20);
  // A second replica on the same database claims at the same time as the first.
  app::ServicePtr first = std::move(service_);
  Sender* first_sender = sender_of(*first);
  start_service();
  Sender* second_sender = sender_of(*service_);
  PassResult a, b;
  auto fa = asio::co_spawn(ioc_, first_sender->run_once(), asio::use_future);
  auto fb = asio::co_spawn(ioc_, second_sender->run_once(), asio::use_future);
  while (fa.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
         fb.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ioc_.run_one();
  }
  a = fa.get();
  b = fb.get();
  EXPECT_EQ(a.claimed + b.claimed, 20);
  EXPECT_EQ(a.sent + b.sent, 20);
  EXPECT_EQ(sink_.messages().size(), 20u);
  std::set<std::string> ids;
  for (const auto& m : sink_.messages()) {
    ids.insert(decode_mail(m.data).message_id);
  }
  EXPECT_EQ(ids.size(), 20u);
  run([&]() -> Task<void> { co_await first->stop(); });
}

TEST_P(NotificationTest, EmbeddedDefaultWritesEmlFiles) {
  run([&]() -> Task<void> { co_await service_->stop(); });
  config_.extra.erase("notification.smtp_url");
  start_service();
  publish("payment.completed", payment("u-en", "r-8"));
  poll();
  std::string logged;
  log::set_sink_for_tests(&logged);
  EXPECT_EQ(send_due().sent, 1);
  log::flush();
  log::set_sink_for_tests(nullptr);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir_ / "outbox")) {
    files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].extension(), ".eml");
  std::ifstream in(files[0], std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto d = decode_mail(data);
  EXPECT_EQ(d.subject, "[Tiketi] Payment received: ₩330,000");
  EXPECT_TRUE(sink_.messages().empty());
  // ... and the log says where it went.
  bool seen = false;
  std::istringstream lines(logged);
  for (std::string line; std::getline(lines, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == "email written to the outbox directory") {
      seen = true;
      EXPECT_EQ(j.value("path", ""), files[0].string()) << line;
      EXPECT_EQ(j.value("template", ""), "payment_completed") << line;
    }
  }
  EXPECT_TRUE(seen) << logged;
}

// Production-like transport: STARTTLS required and AUTH against aiosmtpd. A wrong password and a
// certificate that does not verify are both transient (retried, not dead-lettered) and visible in
// the delivery log; once the operator fixes the configuration the same delivery goes out once.
TEST_P(NotificationTest, SmtpAuthAndCertificateFailuresAreRetriedAndVisible) {
  if (!testing::TlsSmtpServer::available()) {
    if (test_support::require_servers()) {
      FAIL() << "python3-aiosmtpd or openssl is missing";
    }
    GTEST_SKIP() << "python3-aiosmtpd or openssl not installed";
  }
  testing::TlsSmtpServer::make_cert(dir_, "server");
  testing::TlsSmtpServer::make_cert(dir_, "other");
  testing::TlsSmtpServer tls;
  tls.start(dir_, "server", "starttls", "ses-user", "right-password");
  auto restart = [&](const std::string& password, const std::string& ca) {
    run([&]() -> Task<void> { co_await service_->stop(); });
    config_.extra["notification.smtp_url"] = tls.url();
    config_.extra["notification.smtp_tls"] = "starttls";
    config_.extra["notification.smtp_username"] = "ses-user";
    config_.extra["notification.smtp_password"] = password;
    config_.extra["notification.smtp_ca_file"] = (dir_ / (ca + ".crt")).string();
    start_service();
  };

  restart("wrong-password", "server");
  publish("payment.completed", payment("u-en", "r-tls"));
  poll();
  auto r = send_due();
  EXPECT_EQ(r.retried, 1);
  EXPECT_EQ(r.failed, 0);
  auto d = deliveries().at(0);
  EXPECT_EQ(d.status, "PENDING");
  EXPECT_EQ(d.last_code.value_or(0), 535);
  EXPECT_NE(d.last_error.value_or("").find("535"), std::string::npos) << d.last_error.value_or("");
  auto res = call("GET", "/api/v1/admin/notifications?status=PENDING");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(json::parse(res.body)["items"][0]["last_code"], 535);

  restart("right-password", "other");
  clock_->advance(60'000);
  r = send_due();
  EXPECT_EQ(r.retried, 1);
  d = deliveries().at(0);
  EXPECT_EQ(d.status, "PENDING");
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.last_code.value_or(-1), 0);
  EXPECT_NE(d.last_error.value_or("").find("certificate"), std::string::npos) << d.last_error.value_or("");
  EXPECT_TRUE(tls.messages().empty());

  restart("right-password", "server");
  clock_->advance(60'000);
  r = send_due();
  EXPECT_EQ(r.sent, 1);
  d = deliveries().at(0);
  EXPECT_EQ(d.status, "SENT");
  EXPECT_EQ(d.attempts, 3);
  auto msgs = tls.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["rcpt_tos"], json::array({"sam@example.com"}));
  EXPECT_EQ(msgs[0]["tls"], true);
  EXPECT_EQ(decode_mail(msgs[0]["data"].get<std::string>()).subject, "[Tiketi] Payment received: ₩330,000");
  clock_->advance(3'600'000);
  EXPECT_EQ(send_due().claimed, 0);
  EXPECT_EQ(tls.messages().size(), 1u);
}

// Many deliveries failing at the same moment must not all come back at the same moment: the
// backoff has jitter (a fixed delay would make every replica hammer a recovering server at once).
TEST_P(NotificationTest, RetriesOfSimultaneousFailuresAreSpreadByJitter) {
  sink_.stop();
  for (int i = 0; i < 16; ++i) {
    std::string rid = "r-j";
    rid.append(std::to_string(i));
    publish("payment.completed", payment("u-ko", rid));
  }
  EXPECT_EQ(poll(), 16);
  const Millis failed_at = clock_->now_ms();
  EXPECT_EQ(send_due().retried, 16);
  std::set<Millis> due;
  for (const auto& d : deliveries()) {
    EXPECT_EQ(d.attempts, 1);
    EXPECT_GE(d.next_attempt_at, failed_at + 500);  // base 1000 ms, half jitter: [500, 1000)
    EXPECT_LT(d.next_attempt_at, failed_at + 1000);
    due.insert(d.next_attempt_at);
  }
  // 16 uniform draws over 500 ms: all equal only if there is no jitter.
  EXPECT_GE(due.size(), 8u);
}

// A 4xx reply (greylisting, throttling) is transient: retried with backoff, then dead-lettered after
// max_attempts with the server's reply visible to admins. The metrics count each outcome by
// template, and the queue gauges show what waits and for how long.
TEST_P(NotificationTest, TransientRepliesAreRetriedThenDeadLetteredWithTheReply) {
  sink_.reject_recipient("jieun@example.com", "451 4.7.1 Greylisted, please try again later");
  publish("payment.completed", payment("u-ko", "r-451"));
  EXPECT_EQ(poll(), 1);
  clock_->advance(5'000);  // the delivery waited 5 s before the first pass
  auto r = send_due();
  EXPECT_EQ(r.retried, 1);
  EXPECT_EQ(r.failed, 0);
  EXPECT_DOUBLE_EQ(gauge("notification_deliveries_pending"), 1.0);
  EXPECT_DOUBLE_EQ(gauge("notification_queue_lag_seconds"), 5.0);
  auto d = deliveries().at(0);
  EXPECT_EQ(d.status, "PENDING");
  EXPECT_EQ(d.last_code.value_or(0), 451);
  clock_->advance(60'000);
  EXPECT_EQ(send_due().retried, 1);
  EXPECT_DOUBLE_EQ(gauge("notification_queue_lag_seconds"), 65.0);
  clock_->advance(60'000);
  r = send_due();  // third attempt of max_attempts = 3
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.retried, 0);
  EXPECT_TRUE(sink_.messages().empty());
  EXPECT_DOUBLE_EQ(emails("payment_completed", "retried"), 2.0);
  EXPECT_DOUBLE_EQ(emails("payment_completed", "failed"), 1.0);
  EXPECT_DOUBLE_EQ(emails("payment_completed", "sent"), 0.0);
  clock_->advance(3'600'000);
  EXPECT_EQ(send_due().claimed, 0);  // dead: never tried again by itself
  EXPECT_DOUBLE_EQ(gauge("notification_deliveries_pending"), 0.0);
  EXPECT_DOUBLE_EQ(gauge("notification_queue_lag_seconds"), 0.0);

  auto res = call("GET", "/api/v1/admin/notifications?status=FAILED");
  ASSERT_EQ(res.status, 200) << res.body;
  const auto item = json::parse(res.body)["items"].at(0);
  EXPECT_EQ(item["attempts"], 3);
  EXPECT_EQ(item["last_code"], 451);
  EXPECT_NE(item["last_error"].get<std::string>().find("451 4.7.1 Greylisted"), std::string::npos)
      << item.dump();
  const std::string exposed = metrics_.expose();
  for (const char* name : {"notification_emails_total", "notification_smtp_duration_seconds",
                           "notification_delivery_lag_seconds", "notification_queue_lag_seconds",
                           "notification_deliveries_pending"}) {
    EXPECT_NE(exposed.find(name), std::string::npos) << name;
  }
}

// The last two mailed topics through the running service; an event without user_id mails nobody.
TEST_P(NotificationTest, ExpiryAndConfirmationFailureAreMailed) {
  publish("event.published", published_event());
  json expired = reservation("u-en", "r-exp");
  expired["reason"] = "hold_expired";
  publish("reservation.expired", expired);
  json failed = reservation("u-ko", "r-cf");
  failed["payment_id"] = "p-cf";
  failed["reason"] = "seats_taken";
  failed["refund"] = true;
  publish("reservation.confirmation_failed", failed);
  // The shape confirmation_failed_payload() has when the reservation row is gone: no user_id.
  publish("reservation.confirmation_failed",
          json{{"schema_version", 1}, {"reservation_id", "r-gone"}, {"payment_id", "p-g"}, {"refund", true}});
  EXPECT_EQ(poll(), 4);
  EXPECT_EQ(send_due().sent, 2);
  std::map<std::string, testing::DecodedMail> by_to;
  for (const auto& m : sink_.messages()) {
    by_to[m.rcpt_to.at(0)] = decode_mail(m.data);
  }
  ASSERT_EQ(by_to.size(), 2u);
  EXPECT_EQ(by_to["sam@example.com"].subject, "[Tiketi] Your hold expired: IU 콘서트 <HEREH>");
  EXPECT_NE(by_to["sam@example.com"].text.find("https://tiketi.example/events/e-1"), std::string::npos)
      << by_to["sam@example.com"].text;
  EXPECT_EQ(by_to["jieun@example.com"].subject, "[Tiketi] 예매 확정 실패 및 환불 안내");
  EXPECT_NE(by_to["jieun@example.com"].text.find("결제 금액 ₩330,000은(는) 자동으로 환불됩니다."),
            std::string::npos)
      << by_to["jieun@example.com"].text;
  EXPECT_EQ(deliveries().size(), 2u);
}

// An operator's template directory replaces files of the compiled-in set at start-up (no rebuild);
// a variable the templates use but the event does not provide fails that delivery (FAILED, with
// the template and variable named for the admin) instead of sending an email with a blank in it.
TEST_P(NotificationTest, OperatorTemplatesOverrideAndAMissingVariableFailsTheDelivery) {
  const fs::path tpl = dir_ / "my-templates";
  fs::create_directories(tpl / "payment_completed");
  std::ofstream(tpl / "payment_completed" / "en.subject.txt") << "Thanks {{name}}: {{amount}} received\n";
  std::ofstream(tpl / "payment_completed" / "ko.body.txt") << "{{name}}님 {{amount}} {{loyalty_tier}}\n";
  run([&]() -> Task<void> { co_await service_->stop(); });
  config_.extra["notification.templates_dir"] = tpl.string();
  start_service();
  publish("payment.completed", payment("u-en", "r-tpl-en"));
  publish("payment.completed", payment("u-ko", "r-tpl-ko"));
  EXPECT_EQ(poll(), 2);
  auto r = send_due();
  EXPECT_EQ(r.sent, 1);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.retried, 0);  // a broken template does not fix itself
  auto msgs = sink_.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].rcpt_to.at(0), "sam@example.com");
  const auto mail = decode_mail(msgs[0].data);
  EXPECT_EQ(mail.subject, "Thanks Sam: ₩330,000 received");
  EXPECT_NE(mail.text.find("Hi Sam, we received your payment."), std::string::npos) << mail.text;  // default
  for (const auto& d : deliveries()) {
    if (d.recipient == "u-ko") {
      EXPECT_EQ(d.status, "FAILED");
      EXPECT_EQ(d.attempts, 1);
      const std::string err = d.last_error.value_or("");
      EXPECT_NE(err.find("loyalty_tier"), std::string::npos) << err;
      EXPECT_NE(err.find("payment_completed/ko.body.txt"), std::string::npos) << err;
    }
  }
  // A directory that does not exist stops start-up with the setting's name.
  run([&]() -> Task<void> { co_await service_->stop(); });
  config_.extra["notification.templates_dir"] = (dir_ / "missing").string();
  EXPECT_THROW(start_service(), std::invalid_argument);
  config_.extra.erase("notification.templates_dir");
  start_service();
}

// Several new events of one read go to the consumer's batch handler: one statement queues them all,
// with the same rules as one event at a time (no user_id / not JSON: nothing; a repeat: once).
TEST_P(NotificationTest, ABatchOfEventsIsQueuedByOneStatementWithTheSameRules) {
  publish("event.published", published_event());
  const auto first = publish("payment.completed", payment("u-ko", "r-b1"));
  publish("payment.completed", payment("u-en", "r-b2"));
  publish("payment.completed", payment("u-ko", "r-b1"), first);  // the relay published it twice
  publish("payment.completed", json{{"schema_version", 1}, {"payment_id", "p-x"}, {"amount", 1000}});
  std::vector<std::pair<std::string, std::string>> junk{{"id", ids::uuid_v7(clock_->now_ms())},
                                                        {"topic", "payment.completed"},
                                                        {"key", "k"},
                                                        {"payload", "not json"},
                                                        {"created_at", std::to_string(clock_->now_ms())},
                                                        {"trace_id", ""}};
  run([&]() -> Task<void> { co_await coord_->xadd(coord::stream_for_topic("payment.completed"), junk); });
  for (int i = 0; i < 5; ++i) {
    std::string rid = "r-bb";
    rid.append(std::to_string(i));
    publish("payment.completed", payment(i % 2 == 0 ? "u-en" : "u-ko", rid));
  }
  const Millis created = clock_->now_ms();
  clock_->advance(200);
  poll();
  auto all = deliveries();
  ASSERT_EQ(all.size(), 7u);  // 2 + 5; the repeat, the one without user_id and the junk queue nothing
  std::set<std::string> events;
  for (const auto& d : all) {
    EXPECT_EQ(d.status, "PENDING");
    EXPECT_EQ(d.template_name, "payment_completed");
    EXPECT_EQ(d.topic, "payment.completed");
    EXPECT_EQ(d.attempts, 0);
    EXPECT_TRUE(d.recipient == "u-ko" || d.recipient == "u-en") << d.recipient;
    EXPECT_EQ(d.created_at, created + 200);
    events.insert(d.event_id);
  }
  EXPECT_EQ(events.size(), 7u);
  EXPECT_EQ(events.count(first), 1u);
  auto r = send_due();
  EXPECT_EQ(r.sent, 7);
  EXPECT_EQ(sink_.messages().size(), 7u);
  // The delivery lag runs from the event's creation (carried through the batch), not from queueing.
  const std::string exposed = metrics_.expose();
  EXPECT_NE(exposed.find("notification_delivery_lag_seconds_bucket{le=\"0.1\"} 0"), std::string::npos)
      << exposed;
  EXPECT_NE(exposed.find("notification_delivery_lag_seconds_bucket{le=\"0.25\"} 7"), std::string::npos)
      << exposed;
  // The same batch again (a consumer that crashed before acking): nothing new, nothing resent.
  publish("payment.completed", payment("u-ko", "r-b1"), first);
  poll();
  EXPECT_EQ(deliveries().size(), 7u);
  EXPECT_EQ(send_due().claimed, 0);
}

// Recipient details are cached per user (notification.recipient cache, 5 minutes), then asked again.
TEST_P(NotificationTest, RecipientLookupsAreCachedForFiveMinutes) {
  publish("payment.completed", payment("u-ko", "r-c1"));
  poll();
  EXPECT_EQ(send_due().sent, 1);
  publish("payment.completed", payment("u-ko", "r-c2"));
  poll();
  EXPECT_EQ(send_due().sent, 1);
  EXPECT_EQ(lookups_, 1);
  users_["u-ko"].email = "jieun.new@example.com";  // changed at the auth service meanwhile
  clock_->advance(300'001);
  publish("payment.completed", payment("u-ko", "r-c3"));
  poll();
  EXPECT_EQ(send_due().sent, 1);
  EXPECT_EQ(lookups_, 2);
  auto msgs = sink_.messages();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[2].rcpt_to.at(0), "jieun.new@example.com");
}

// The admin delivery log pages newest first with a cursor and filters by recipient.
TEST_P(NotificationTest, AdminListPagesWithACursorAndFiltersByRecipient) {
  for (const char* rid : {"r-p1", "r-p2", "r-p3"}) {
    publish("payment.completed", payment("u-ko", rid));
    clock_->advance(5);
  }
  publish("payment.completed", payment("u-en", "r-p4"));
  poll();
  auto page = json::parse(call("GET", "/api/v1/admin/notifications?recipient=u-ko&limit=2").body);
  ASSERT_EQ(page["items"].size(), 2u) << page.dump();
  ASSERT_TRUE(page["next_cursor"].is_string()) << page.dump();
  const std::string cursor = page["next_cursor"];
  EXPECT_GT(page["items"][0]["id"].get<std::string>(), page["items"][1]["id"].get<std::string>());
  auto rest =
      json::parse(call("GET", "/api/v1/admin/notifications?recipient=u-ko&limit=2&cursor=" + cursor).body);
  ASSERT_EQ(rest["items"].size(), 1u) << rest.dump();
  EXPECT_TRUE(rest["next_cursor"].is_null());
  std::set<std::string> seen;
  for (const auto& i : page["items"]) {
    seen.insert(i["id"]);
    EXPECT_EQ(i["recipient"], "u-ko");
  }
  seen.insert(rest["items"][0]["id"].get<std::string>());
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(json::parse(call("GET", "/api/v1/admin/notifications?status=PENDING").body)["items"].size(), 4u);
  EXPECT_EQ(call("GET", "/api/v1/admin/notifications?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/admin/notifications?limit=abc").status, 400);
}

INSTANTIATE_TEST_SUITE_P(Engines, NotificationTest, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace tiketi::notification
