#include "services/notification/state.hpp"

#include <cctype>
#include <filesystem>

namespace tiketi::notification {
namespace {

std::string str_setting(const Config& c, const std::string& key, std::string fallback) {
  auto v = c.get(key);
  return v && !v->empty() ? *v : fallback;
}

}  // namespace

Settings load_settings(const Config& c) {
  Settings s;
  s.smtp_url = str_setting(c, "notification.smtp_url", "");
  if (!s.smtp_url.empty() && s.smtp_url.rfind("smtp://", 0) != 0 && s.smtp_url.rfind("smtps://", 0) != 0) {
    throw std::invalid_argument("setting notification.smtp_url: must start with smtp:// or smtps://");
  }
  s.outbox_dir =
      str_setting(c, "notification.outbox_dir", (std::filesystem::path(c.data_dir) / "outbox").string());
  s.from_name = str_setting(c, "notification.from_name", s.from_name);
  s.from_addr = str_setting(c, "notification.from", s.from_addr);
  if (s.from_addr.find('@') == std::string::npos) {
    throw std::invalid_argument("setting notification.from: must be an email address");
  }
  s.public_url = str_setting(c, "notification.public_url", s.public_url);
  while (!s.public_url.empty() && s.public_url.back() == '/') {
    s.public_url.pop_back();
  }
  if (auto d = c.get("notification.templates_dir"); d && !d->empty()) {
    s.templates_dir = *d;
  }
  if (auto t = c.get("auth.internal_token"); t && !t->empty()) {
    s.internal_token = *t;
  }
  s.workers = static_cast<int>(c.get_int("notification.workers", s.workers, 1, 64));
  s.batch = static_cast<int>(c.get_int("notification.batch", s.batch, 1, 1000));
  s.poll_ms = static_cast<int>(c.get_int("notification.poll_ms", s.poll_ms, 10, 60'000));
  s.wake_delay_ms = static_cast<int>(c.get_int("notification.wake_delay_ms", s.wake_delay_ms, 0, 1'000));
  s.retry.max_attempts = c.get_int("notification.max_attempts", s.retry.max_attempts, 1, 100);
  s.retry.base_delay_ms =
      c.get_int("notification.retry_base_ms", static_cast<int>(s.retry.base_delay_ms), 1, 3'600'000);
  s.retry.max_delay_ms =
      c.get_int("notification.retry_max_ms", static_cast<int>(s.retry.max_delay_ms), 1, 86'400'000);
  s.smtp.url = s.smtp_url;
  s.smtp.username = str_setting(c, "notification.smtp_username", "");
  s.smtp.password = str_setting(c, "notification.smtp_password", "");
  // notification.smtp_tls: auto | none | starttls | tls (smtp_require_tls=true: the older spelling
  // of starttls). An smtps:// URL means implicit TLS.
  const std::string legacy_require = str_setting(c, "notification.smtp_require_tls", "false");
  std::string tls_mode = str_setting(c, "notification.smtp_tls", legacy_require == "true" ? "starttls" : "auto");
  if (s.smtp_url.rfind("smtps://", 0) == 0 && tls_mode == "auto") {
    tls_mode = "tls";
  }
  auto tls = parse_smtp_tls(tls_mode);
  if (!tls) {
    throw std::invalid_argument("setting notification.smtp_tls: must be auto, none, starttls or tls");
  }
  if (s.smtp_url.rfind("smtps://", 0) == 0 && (*tls == SmtpTls::none || *tls == SmtpTls::starttls)) {
    throw std::invalid_argument("setting notification.smtp_tls: " + tls_mode +
                                " contradicts the smtps:// URL (implicit TLS); use smtp:// for STARTTLS");
  }
  if (*tls == SmtpTls::tls && s.smtp_url.rfind("smtp://", 0) == 0) {
    s.smtp_url = "smtps://" + s.smtp_url.substr(7);
    s.smtp.url = s.smtp_url;
  }
  s.smtp.tls = *tls;
  s.smtp.ca_file = str_setting(c, "notification.smtp_ca_file", "");
  if (!s.smtp.ca_file.empty() && !std::filesystem::is_regular_file(s.smtp.ca_file)) {
    throw std::invalid_argument("setting notification.smtp_ca_file: no such file: " + s.smtp.ca_file);
  }
  std::string mech = str_setting(c, "notification.smtp_auth", "auto");
  for (auto& ch : mech) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (mech != "AUTO" && mech != "PLAIN" && mech != "LOGIN") {
    throw std::invalid_argument("setting notification.smtp_auth: must be auto, plain or login");
  }
  s.smtp.auth_mech = mech == "AUTO" ? "" : mech;
  s.smtp.timeout_ms = c.get_int("notification.smtp_timeout_ms", 15'000, 100, 300'000);
  s.claim_ms = std::max<Millis>(s.claim_ms, 2 * s.smtp.timeout_ms);
  return s;
}

Task<std::optional<Recipient>> RecipientDirectory::find(const std::string& user_id) {
  const Millis now = clock_->now_ms();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(user_id);
    if (it != cache_.end() && it->second.expires > now) {
      co_return it->second.r;
    }
  }
  auto found = co_await lookup_(user_id);
  if (found) {
    std::lock_guard lock(mu_);
    if (cache_.size() > 100'000) {
      cache_.clear();  // bounded; a refill costs one internal call per user
    }
    cache_[user_id] = Entry{*found, now + ttl_ms_};
  }
  co_return found;
}

void Metrics::count(const std::string& template_name, const char* result) {
  if (registry == nullptr) {
    return;
  }
  registry
      ->counter("notification_emails_total", "Email delivery attempts by template and result",
                {{"template", template_name}, {"result", result}})
      .inc();
}

double NotificationState::jitter() {
  std::lock_guard lock(rng_mu);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace tiketi::notification
