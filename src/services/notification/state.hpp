#pragma once
// What the notification service's parts share, built in NotificationService::start().
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "app/service.hpp"
#include "core/metrics.hpp"
#include "services/common/auth_verify.hpp"
#include "services/common/worker_pool.hpp"
#include "services/notification/domain/message.hpp"
#include "services/notification/domain/retry.hpp"
#include "services/notification/domain/templates.hpp"
#include "services/notification/smtp/mailer.hpp"
#include "services/notification/storage/delivery_store.hpp"

namespace tiketi::notification {

struct Settings {
  std::string smtp_url;  // "" -> .eml files in outbox_dir
  std::string outbox_dir;
  std::string from_name = "Tiketi";
  std::string from_addr = "no-reply@tiketi.local";
  std::string public_url = "http://127.0.0.1:8080";
  std::optional<std::string> templates_dir;
  std::optional<std::string> internal_token;  // auth.internal_token, sent to /internal routes
  int workers = 4;
  int batch = 64;
  int poll_ms = 250;
  int wake_delay_ms = 5;  // after the consumer queued something (see Sender::run)
  Millis claim_ms = 60'000;  // a claim outlives the SMTP timeout
  Millis recipient_cache_ms = 300'000;
  RetryPolicy retry;
  SmtpOptions smtp;
};

// Throws std::invalid_argument("setting notification.…: …") for a bad value.
Settings load_settings(const Config& c);

// A lookup failure the sender should retry (auth unreachable) vs. a definite answer.
struct LookupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Recipient details from the auth service's internal API, cached per user id for a few minutes.
class RecipientDirectory {
 public:
  using Lookup = std::function<Task<std::optional<Recipient>>(const std::string& user_id)>;
  RecipientDirectory(Lookup lookup, ClockPtr clock, Millis ttl_ms)
      : lookup_(std::move(lookup)), clock_(std::move(clock)), ttl_ms_(ttl_ms) {}
  // nullopt: no such user (permanent). Throws LookupError when auth cannot answer now.
  Task<std::optional<Recipient>> find(const std::string& user_id);
  void set_lookup(Lookup lookup) { lookup_ = std::move(lookup); }  // tests

 private:
  struct Entry {
    Recipient r;
    Millis expires;
  };
  Lookup lookup_;
  ClockPtr clock_;
  Millis ttl_ms_;
  std::mutex mu_;
  std::map<std::string, Entry> cache_;
};

struct Metrics {
  metrics::Registry* registry = nullptr;
  metrics::Histogram* smtp_seconds = nullptr;
  metrics::Histogram* lag_seconds = nullptr;  // event created -> email accepted
  metrics::Gauge* pending = nullptr;
  metrics::Gauge* queue_lag = nullptr;  // age of the oldest pending delivery
  void count(const std::string& template_name, const char* result);
};

class Sender;

struct NotificationState {
  app::ServiceContext ctx;
  Sender* sender = nullptr;  // woken by the consumer when it queued a delivery
  Settings settings;
  std::unique_ptr<DeliveryStore> store;
  TemplateSet templates;
  MailerPtr mailer;
  std::unique_ptr<common::WorkerPool> pool;
  std::unique_ptr<RecipientDirectory> recipients;
  common::AuthenticatorPtr authenticator;
  Metrics metrics;
  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};
  double jitter();
  std::string owner;  // claimed_by: this process
};

}  // namespace tiketi::notification
