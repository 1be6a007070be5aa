#include "services/auth/service.hpp"

#include <boost/asio/co_spawn.hpp>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "services/auth/cleanup.hpp"
#include "services/auth/domain/email.hpp"
#include "services/auth/handlers/handlers.hpp"
#include "services/auth/schema/migrations.hpp"
#include "services/auth/state.hpp"
#include "services/auth/storage/auth_store.hpp"

namespace tiketi::auth {
namespace {

class AuthService final : public app::Service {
 public:
  std::string name() const override { return "auth"; }

  std::vector<store::Migration> migrations() const override { return auth::migrations(); }

  void routes(net::Router& r) override {
    const net::RouteOptions opts{.service = "auth"};
    add(r, "POST", "/api/v1/auth/signup", &handlers::signup_post, opts);
    add(r, "POST", "/api/v1/auth/login", &handlers::login_post, opts);
    add(r, "POST", "/api/v1/auth/refresh", &handlers::refresh_post, opts);
    add(r, "POST", "/api/v1/auth/logout", &handlers::logout_post, opts);
    add(r, "POST", "/api/v1/auth/logout-all", &handlers::logout_all_post, opts);
    add(r, "GET", "/api/v1/auth/me", &handlers::me_get, opts);
    add(r, "PATCH", "/api/v1/auth/me", &handlers::me_patch, opts);
    add(r, "POST", "/api/v1/auth/password", &handlers::password_post, opts);
    add(r, "GET", "/internal/v1/users/{id}", &handlers::internal_user_get, opts);
    add(r, "GET", "/api/v1/auth/providers", &handlers::providers_get, opts);
    add(r, "GET", "/api/v1/auth/google/start", &handlers::google_start, opts);
    add(r, "GET", "/api/v1/auth/google/callback", &handlers::google_callback, opts);
    add(r, "POST", "/api/v1/auth/google/exchange", &handlers::google_exchange_post, opts);
  }

  Task<void> start(app::ServiceContext& ctx) override {
    auto s = std::make_unique<AuthState>();
    s->ctx = ctx;
    if (!s->ctx.clock) {
      s->ctx.clock = std::make_shared<SystemClock>();
    }
    static const Config kDefaults{};
    const Config& config = ctx.config != nullptr ? *ctx.config : kDefaults;
    s->settings = load_settings(config);
    s->authenticator = common::Authenticator::from_config(config, s->ctx.clock);
    s->hasher = std::make_unique<PasswordHasher>(s->settings.argon2);
    s->pool = std::make_unique<common::WorkerPool>(s->settings.hash_threads, s->settings.hash_queue_limit,
                                                   s->settings.hash_nice);
    s->store = std::make_unique<AuthStore>(ctx.db, s->ctx.clock);
    s->throttle = std::make_unique<LoginThrottle>(ctx.coord, s->ctx.clock, s->settings.throttle);
    if (s->settings.google.enabled) {
      s->google = std::make_unique<GoogleClient>(s->settings.google, s->ctx.clock);
    }

    auto& m = ctx.metrics != nullptr ? *ctx.metrics : metrics::global();
    constexpr const char* kLoginsHelp = "Login attempts by result";
    s->metrics.login_success = &m.counter("auth_logins_total", kLoginsHelp, {{"result", "success"}});
    s->metrics.login_invalid =
        &m.counter("auth_logins_total", kLoginsHelp, {{"result", "invalid_credentials"}});
    s->metrics.login_throttled = &m.counter("auth_logins_total", kLoginsHelp, {{"result", "throttled"}});
    s->metrics.signups = &m.counter("auth_signups_total", "Accounts created");
    s->metrics.refreshes = &m.counter("auth_refreshes_total", "Successful refresh-token rotations");
    s->metrics.refresh_reuse =
        &m.counter("auth_refresh_reuse_total", "Rotated refresh tokens presented again (families revoked)");
    s->metrics.refresh_rejected =
        &m.counter("auth_refresh_rejected_total", "Refresh attempts with an unknown, expired or revoked token");
    constexpr const char* kGoogleHelp = "Google sign-ins by result";
    s->metrics.google_created = &m.counter("auth_google_sign_ins_total", kGoogleHelp, {{"result", "created"}});
    s->metrics.google_linked = &m.counter("auth_google_sign_ins_total", kGoogleHelp, {{"result", "linked"}});
    s->metrics.google_existing = &m.counter("auth_google_sign_ins_total", kGoogleHelp, {{"result", "existing"}});
    s->metrics.google_rejected = &m.counter("auth_google_sign_ins_total", kGoogleHelp, {{"result", "rejected"}});
    s->metrics.tokens_deleted =
        &m.counter("auth_refresh_tokens_deleted_total", "Expired refresh tokens removed by the cleanup job");
    auto* pool = s->pool.get();
    m.gauge_callback("auth_hash_pending", "argon2id jobs queued or running", {},
                     [pool] { return static_cast<double>(pool->pending()); });

    log::info(ctx.log, "auth started",
              {lf("jwt_kid", s->authenticator->codec().current_kid()),
               lf("argon2_opslimit", static_cast<long long>(s->settings.argon2.opslimit)),
               lf("argon2_memlimit_kib", static_cast<long long>(s->settings.argon2.memlimit_bytes / 1024)),
               lf("hash_threads", static_cast<long long>(s->settings.hash_threads)),
               lf("hash_nice", static_cast<long long>(s->pool->nice())),
               lf("google_sign_in", s->settings.google.enabled)});

    std::string owner = ctx.instance_id.empty() ? std::string("auth") : ctx.instance_id;
    cleanup_ = std::make_shared<TokenCleanup>(
        *s->store, ctx.coord, s->ctx.clock, s->settings.token_cleanup_lease, owner + ":token-cleanup", s->settings.token_cleanup_interval_seconds * 1000,
        s->settings.token_cleanup_grace_seconds * 1000, ctx.log, s->metrics.tokens_deleted);
    if (s->settings.background && ctx.executor) {
      boost::asio::co_spawn(ctx.executor, cleanup_->run(), [keep = cleanup_](std::exception_ptr) {});
    }
    state_ = std::move(s);
    co_return;
  }

  TokenCleanup* cleanup() { return cleanup_.get(); }

  Task<void> stop() override {
    if (cleanup_) {
      cleanup_->stop();
    }
    if (state_ && state_->pool) {
      state_->pool->stop();
    }
    co_return;
  }

  std::vector<app::HealthCheck> health_checks() override {
    return {{"db", [this]() -> Task<bool> {
               if (!state_ || !state_->ctx.db) {
                 co_return false;
               }
               co_return co_await state_->ctx.db->ping();
             }}};
  }

 private:
  using Fn = Task<net::Response> (*)(AuthState&, net::Request&);

  void add(net::Router& r, std::string method, std::string path, Fn fn, const net::RouteOptions& opts) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> {
          AuthState* s = state_.get();
          if (s == nullptr) {
            throw errors::unavailable("The auth service is starting.", 1);
          }
          // Verify the bearer token here too, so these routes work whether or not the process
          // installed the shared middleware (it is skipped when a principal is already set).
          common::authenticate_request(*s->authenticator, req);
          co_return co_await fn(*s, req);
        },
        opts);
  }

  std::unique_ptr<AuthState> state_;
  std::shared_ptr<TokenCleanup> cleanup_;
};

}  // namespace

Task<std::optional<std::int64_t>> cleanup_tokens_once(app::Service& service) {
  auto* s = dynamic_cast<AuthService*>(&service);
  if (s == nullptr || s->cleanup() == nullptr) {
    co_return std::nullopt;
  }
  co_return co_await s->cleanup()->run_if_leader();
}

Task<AdminCreateResult> create_admin(store::Database& db, const Clock& clock, std::string email,
                                     std::string password, std::string name, Argon2Params params) {
  auto normalized = normalize_email(email);
  if (auto* e = std::get_if<EmailError>(&normalized)) {
    throw std::invalid_argument("email " + e->message);
  }
  if (auto why = check_password_policy(password)) {
    throw std::invalid_argument("password " + *why);
  }
  if (name.empty() || name.size() > 400) {
    throw std::invalid_argument("name must be 1 to 100 characters");
  }
  // AuthStore needs a shared_ptr; the caller keeps ownership of db.
  struct FixedClock final : Clock {
    explicit FixedClock(const Clock& c) : inner(c) {}
    Millis now_ms() const override { return inner.now_ms(); }
    const Clock& inner;
  };
  AuthStore store(store::DatabasePtr(&db, [](store::Database*) {}), std::make_shared<FixedClock>(clock));
  const std::string& mail = std::get<std::string>(normalized);
  if (auto existing = co_await store.find_by_email(mail)) {
    co_await store.promote_to_admin(existing->id);
    co_return AdminCreateResult::promoted;
  }
  PasswordHasher hasher(params);
  const Millis now = clock.now_ms();
  User u;
  u.id = ids::uuid_v7(now);
  u.email = mail;
  u.name = std::move(name);
  u.role = kRoleAdmin;
  u.password_hash = hasher.hash(password);
  u.email_verified = true;  // created by an operator
  u.created_at = now;
  u.updated_at = now;
  if (!co_await store.insert_user(u)) {
    // Lost a race with a signup for the same email: promote that account instead.
    if (auto existing = co_await store.find_by_email(mail)) {
      co_await store.promote_to_admin(existing->id);
    }
    co_return AdminCreateResult::promoted;
  }
  co_return AdminCreateResult::created;
}

}  // namespace tiketi::auth

namespace tiketi::app {
ServicePtr make_auth_service() { return std::make_unique<auth::AuthService>(); }
}  // namespace tiketi::app
