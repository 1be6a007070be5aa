#pragma once
// Google sign-in (OpenID Connect authorization-code flow with PKCE): settings and the client side
// of the provider protocol — discovery, the token endpoint, and ID-token verification against the
// provider's JWKS (cached per replica by kid, refetched on an unknown kid at most once per
// `jwks_min_refetch_seconds`). The flow itself (state, accounts, one-time codes) is in
// handlers/google.cpp. Everything here speaks to a configurable issuer, so the tests run it
// against a fake provider on 127.0.0.1.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/task.hpp"
#include "services/auth/domain/oidc.hpp"
#include "services/common/outbound_http.hpp"

namespace tiketi::auth {

// What happens when a Google identity matches an existing email/password account whose email was
// never verified (someone may have registered that address before its owner — "pre-account
// takeover"):
//   drop_password (default): link, mark the email verified, remove the password and revoke every
//                            session of the account; the account then signs in with Google.
//   keep_password:           link and keep the password (only for deployments that verify emails
//                            some other way).
//   refuse:                  409 account_exists_unverified; nothing is linked.
enum class LinkUnverifiedPolicy { drop_password, keep_password, refuse };

struct GoogleSettings {
  bool enabled = false;  // auth.google_client_id set
  std::string client_id;
  std::string client_secret;
  std::string redirect_uri;  // our callback as registered with the provider (absolute URL)
  std::string issuer = "https://accounts.google.com";
  std::string discovery_url;  // default: issuer + "/.well-known/openid-configuration"
  // Explicit endpoints override discovery; with all three set no discovery request is made.
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string web_redirect = "/auth/google";  // where the browser lands with #code=… or #error=…
  std::string scopes = "openid email profile";
  std::string ca_file;  // extra CA bundle for the provider's TLS (tests with a private CA)
  std::int64_t state_ttl_seconds = 600;
  std::int64_t code_ttl_seconds = 60;
  std::int64_t jwks_cache_seconds = 3600;
  std::int64_t jwks_min_refetch_seconds = 60;
  std::int64_t http_timeout_ms = 10'000;
  LinkUnverifiedPolicy link_unverified = LinkUnverifiedPolicy::drop_password;

  bool secure_cookie() const { return redirect_uri.rfind("https://", 0) == 0; }
  std::vector<std::string> issuers() const;
};

// Reads auth.google_* from Config::extra; throws std::invalid_argument("setting auth.google_x: …").
GoogleSettings load_google_settings(const Config& config);

// "https://…" always; "http://" only for loopback hosts (tests, local fakes).
bool acceptable_provider_url(const std::string& url);
// application/x-www-form-urlencoded / query component encoding.
std::string form_encode(std::string_view s);

class GoogleClient {
 public:
  GoogleClient(GoogleSettings settings, ClockPtr clock);
  ~GoogleClient();

  struct Endpoints {
    std::string authorization;
    std::string token;
    std::string jwks;
  };
  // From explicit settings or the (cached) discovery document. Throws ApiError 502/504 when the
  // provider cannot be reached or answers nonsense.
  Task<Endpoints> endpoints();

  // Redeems an authorization code (with the PKCE verifier and the client secret) for an ID token.
  // Throws ApiError: 400 google_code_rejected when the provider refuses the grant, 502/504 on
  // transport failures.
  Task<std::string> redeem_code(std::string code, std::string code_verifier);

  // Signature (RS256, key by kid from the JWKS) and claims.
  Task<oidc::IdTokenError> verify_id_token(std::string id_token, oidc::IdTokenExpectations want,
                                           oidc::IdTokenClaims* out);

  const GoogleSettings& settings() const { return settings_; }
  std::uint64_t jwks_fetches() const;

 private:
  Task<bool> refresh_keys(std::string jwks_uri);
  oidc::RsaPublicKeyPtr key_for(const std::string& kid) const;

  GoogleSettings settings_;
  ClockPtr clock_;
  std::unique_ptr<common::OutboundHttp> http_;

  mutable std::mutex mu_;
  std::optional<Endpoints> discovered_;
  std::map<std::string, oidc::RsaPublicKeyPtr> keys_;
  Millis keys_fetched_at_ = 0;      // last successful JWKS fetch
  Millis last_fetch_attempt_ = -1;  // last attempt (rate limit for unknown kids)
  std::uint64_t jwks_fetches_ = 0;
};

}  // namespace tiketi::auth
