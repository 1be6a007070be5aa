// The libcurl mailer against a real SMTP server with TLS and AUTH (Debian's aiosmtpd, started here
// with a certificate made here): STARTTLS required, implicit TLS, AUTH PLAIN and LOGIN, the
// connection reused between messages, a wrong password (535, transient by decision), a certificate
// that does not verify (nothing sent, credentials never offered), STARTTLS required but not offered.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/config.hpp"
#include "core/ids.hpp"
#include "core/testing/servers.hpp"
#include "services/notification/domain/retry.hpp"
#include "services/notification/smtp/mailer.hpp"
#include "services/notification/state.hpp"
#include "services/notification/tests/smtp_sink.hpp"
#include "services/notification/tests/tls_smtp_server.hpp"

namespace tiketi::notification {
namespace {
namespace fs = std::filesystem;
using testing::TlsSmtpServer;

constexpr const char* kUser = "AKIATIKETITEST";
constexpr const char* kPassword = "s3cret/with+chars";

OutgoingEmail mail(const std::string& to, const std::string& subject) {
  OutgoingEmail m;
  m.from = "Tiketi <no-reply@tiketi.example>";
  m.from_addr = "no-reply@tiketi.example";
  m.to = to;
  m.to_name = "Fan";
  m.subject = subject;
  m.text = "안녕하세요 " + subject;
  m.html = "<p>" + subject + "</p>";
  m.message_id = ids::random_hex(8) + "@tiketi.example";
  m.date_ms = 1'750'000'000'000;
  return m;
}

class SmtpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TlsSmtpServer::available()) {
      if (test_support::require_servers()) {
        FAIL() << "python3-aiosmtpd or openssl is missing (scripts/install-deps installs them)";
      }
      GTEST_SKIP() << "python3-aiosmtpd or openssl not installed";
    }
    dir_ = fs::temp_directory_path() / ("tiketi-smtp-tls-" + ids::random_hex(6));
    fs::create_directories(dir_);
    TlsSmtpServer::make_cert(dir_, "server");
    TlsSmtpServer::make_cert(dir_, "other");  // a CA that did not sign the server's certificate
  }
  void TearDown() override {
    server_.stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  SmtpOptions options(SmtpTls tls, std::string password = kPassword) const {
    SmtpOptions o;
    o.url = server_.url();
    o.username = kUser;
    o.password = std::move(password);
    o.tls = tls;
    o.ca_file = (dir_ / "server.crt").string();
    o.timeout_ms = 10'000;
    return o;
  }

  fs::path dir_;
  TlsSmtpServer server_;
};

TEST_F(SmtpTlsTest, StartTlsRequiredWithAuthPlainAndLoginReusesTheConnection) {
  server_.start(dir_, "server", "starttls", kUser, kPassword);
  std::size_t auths_before = 0;
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    auto o = options(SmtpTls::starttls);
    o.auth_mech = mech;
    auto mailer = make_smtp_mailer(o);
    for (int i = 0; i < 3; ++i) {
      auto r = mailer->send(mail("fan" + std::to_string(i) + "@example.com", mech + " " + std::to_string(i)));
      ASSERT_TRUE(r.ok) << mech << " " << i << ": " << r.code << " " << r.reply;
      EXPECT_EQ(r.code, 250);
      EXPECT_NE(r.reply.find("250"), std::string::npos) << r.reply;
    }
    auto auths = server_.auths();
    // One AUTH for three messages: the TLS session and the login are reused between messages.
    ASSERT_EQ(auths.size(), auths_before + 1) << mech;
    EXPECT_EQ(auths.back()["mechanism"], mech);
    EXPECT_EQ(auths.back()["ok"], true);
    EXPECT_EQ(auths.back()["tls"], true);  // credentials only ever travel inside TLS
    auths_before = auths.size();
  }
  auto msgs = server_.messages();
  ASSERT_EQ(msgs.size(), 6u);
  for (const auto& m : msgs) {
    EXPECT_EQ(m["tls"], true);
    EXPECT_EQ(m["authenticated"], true);
    EXPECT_EQ(m["mail_from"], "no-reply@tiketi.example");
  }
  EXPECT_EQ(msgs[0]["rcpt_tos"], nlohmann::json::array({"fan0@example.com"}));
  EXPECT_EQ(msgs[5]["rcpt_tos"], nlohmann::json::array({"fan2@example.com"}));
  EXPECT_NE(msgs[4]["data"].get<std::string>().find("Message-ID: <"), std::string::npos);
}

TEST_F(SmtpTlsTest, ImplicitTls) {
  server_.start(dir_, "server", "tls", kUser, kPassword);
  auto o = options(SmtpTls::tls);  // smtp:// + tls -> smtps://
  auto mailer = make_smtp_mailer(o);
  EXPECT_NE(mailer->describe().find("smtps://"), std::string::npos) << mailer->describe();
  auto r = mailer->send(mail("fan@example.com", "implicit"));
  ASSERT_TRUE(r.ok) << r.code << " " << r.reply;
  auto msgs = server_.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["tls"], true);
  EXPECT_EQ(msgs[0]["authenticated"], true);
  // STARTTLS against a server that speaks TLS from the first byte cannot work: not delivered.
  auto plain = make_smtp_mailer(options(SmtpTls::starttls));
  auto bad = plain->send(mail("fan@example.com", "wrong mode"));
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(server_.messages().size(), 1u);
}

TEST_F(SmtpTlsTest, WrongPasswordIs535AndRetriedNotDeadLettered) {
  server_.start(dir_, "server", "starttls", kUser, kPassword);
  auto mailer = make_smtp_mailer(options(SmtpTls::starttls, "wrong-password"));
  auto r = mailer->send(mail("fan@example.com", "denied"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, 535) << r.reply;
  EXPECT_NE(r.reply.find("535"), std::string::npos) << r.reply;
  EXPECT_TRUE(server_.messages().empty());
  ASSERT_EQ(server_.auths().size(), 1u);
  EXPECT_EQ(server_.auths()[0]["ok"], false);
  // The decision (retry.hpp): a rejected login is about our credentials, not this message.
  RetryPolicy p;
  EXPECT_FALSE(is_permanent_smtp(r.code));
  EXPECT_EQ(after_failure(p, 1, r.code), Outcome::retry);
  EXPECT_EQ(after_failure(p, p.max_attempts, r.code), Outcome::failed);
  // The same mailer works once the password is right (a fresh mailer after a config change).
  auto fixed = make_smtp_mailer(options(SmtpTls::starttls));
  EXPECT_TRUE(fixed->send(mail("fan@example.com", "fixed")).ok);
  EXPECT_EQ(server_.messages().size(), 1u);
}

TEST_F(SmtpTlsTest, CertificateThatDoesNotVerifyIsNotDelivered) {
  server_.start(dir_, "server", "starttls", kUser, kPassword);
  auto o = options(SmtpTls::starttls);
  o.ca_file = (dir_ / "other.crt").string();
  auto r = make_smtp_mailer(o)->send(mail("fan@example.com", "untrusted"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, 0) << r.reply;  // no SMTP verdict on the message: transient
  EXPECT_NE(r.reply.find("certificate"), std::string::npos) << r.reply;
  EXPECT_EQ(after_failure(RetryPolicy{}, 1, r.code), Outcome::retry);
  // The system trust store does not know the self-signed certificate either.
  o.ca_file.clear();
  auto r2 = make_smtp_mailer(o)->send(mail("fan@example.com", "untrusted 2"));
  EXPECT_FALSE(r2.ok);
  EXPECT_NE(r2.reply.find("certificate"), std::string::npos) << r2.reply;
  // Opportunistic STARTTLS still verifies the certificate once TLS is offered.
  o.tls = SmtpTls::automatic;
  EXPECT_FALSE(make_smtp_mailer(o)->send(mail("fan@example.com", "untrusted 3")).ok);
  EXPECT_TRUE(server_.messages().empty());
  EXPECT_TRUE(server_.auths().empty());  // credentials were never offered to the unverified server
}

TEST_F(SmtpTlsTest, NoTlsAgainstAServerThatRequiresIt) {
  server_.start(dir_, "server", "starttls", kUser, kPassword);
  auto r = make_smtp_mailer(options(SmtpTls::none))->send(mail("fan@example.com", "clear"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, 530) << r.reply;  // "Must issue a STARTTLS command first"
  EXPECT_EQ(after_failure(RetryPolicy{}, 1, r.code), Outcome::retry);
  EXPECT_TRUE(server_.messages().empty());
}

TEST_F(SmtpTlsTest, StartTlsRequiredButNotOfferedSendsNothing) {
  testing::SmtpSink plain;  // speaks SMTP without STARTTLS
  plain.start();
  SmtpOptions o;
  o.url = plain.url();
  o.tls = SmtpTls::starttls;
  o.timeout_ms = 5'000;
  auto r = make_smtp_mailer(o)->send(mail("fan@example.com", "must be encrypted"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, 0) << r.reply;
  EXPECT_TRUE(plain.messages().empty());
  // Opportunistic mode sends in clear text when the server offers no STARTTLS (a local relay).
  o.tls = SmtpTls::automatic;
  EXPECT_TRUE(make_smtp_mailer(o)->send(mail("fan@example.com", "opportunistic")).ok);
  EXPECT_EQ(plain.messages().size(), 1u);
  plain.stop();
}

TEST(SmtpTlsSettings, ParsedAndValidated) {
  Config c;
  c.data_dir = "/tmp";
  c.extra["notification.smtp_url"] = "smtp://mail.example:587";
  auto s = load_settings(c);
  EXPECT_EQ(s.smtp.tls, SmtpTls::automatic);
  EXPECT_TRUE(s.smtp.auth_mech.empty());

  c.extra["notification.smtp_tls"] = "starttls";
  c.extra["notification.smtp_auth"] = "login";
  EXPECT_EQ(load_settings(c).smtp.tls, SmtpTls::starttls);
  EXPECT_EQ(load_settings(c).smtp.auth_mech, "LOGIN");

  c.extra["notification.smtp_tls"] = "tls";
  EXPECT_EQ(load_settings(c).smtp.url, "smtps://mail.example:587");

  c.extra["notification.smtp_tls"] = "sometimes";
  EXPECT_THROW(load_settings(c), std::invalid_argument);
  c.extra["notification.smtp_tls"] = "starttls";
  c.extra["notification.smtp_auth"] = "cram-md5";
  EXPECT_THROW(load_settings(c), std::invalid_argument);
  c.extra.erase("notification.smtp_auth");
  c.extra["notification.smtp_ca_file"] = "/nonexistent/ca.pem";
  EXPECT_THROW(load_settings(c), std::invalid_argument);
  c.extra.erase("notification.smtp_ca_file");

  c.extra["notification.smtp_url"] = "smtps://mail.example:465";
  EXPECT_THROW(load_settings(c), std::invalid_argument);  // starttls contradicts smtps://
  c.extra.erase("notification.smtp_tls");
  EXPECT_EQ(load_settings(c).smtp.tls, SmtpTls::tls);

  c.extra["notification.smtp_url"] = "smtp://mail.example:587";
  c.extra["notification.smtp_require_tls"] = "true";  // the older spelling
  EXPECT_EQ(load_settings(c).smtp.tls, SmtpTls::starttls);
}

}  // namespace
}  // namespace tiketi::notification
