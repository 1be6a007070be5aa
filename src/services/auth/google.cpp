#include "services/auth/google.hpp"

#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/error.hpp"

namespace tiketi::auth {
namespace {

using json = nlohmann::json;

std::string opt(const Config& c, const std::string& key, std::string def = {}) {
  auto v = c.get(key);
  return v && !v->empty() ? *v : def;
}

[[noreturn]] void bad(const std::string& key, const std::string& why) {
  throw std::invalid_argument("setting " + key + ": " + why);
}

// scheme://host[:port]/… -> host (lower-cased, brackets kept for IPv6).
std::string url_host(const std::string& url) {
  auto s = url.find("://");
  if (s == std::string::npos) {
    return {};
  }
  auto rest = url.substr(s + 3);
  auto end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, end);
  if (authority.find('@') != std::string::npos) {
    return {};  // no credentials in provider URLs
  }
  std::string host;
  if (!authority.empty() && authority.front() == '[') {
    host = authority.substr(0, authority.find(']') + 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  for (auto& ch : host) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return host;
}

bool has_ctl_or_space(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return true;
    }
  }
  return false;
}

ApiError provider_error(const common::OutboundResponse& r, const char* what) {
  if (r.timed_out) {
    return ApiError(504, "gateway_timeout", std::string("Google sign-in timed out (") + what + ").");
  }
  return ApiError(502, "bad_gateway", std::string("Google sign-in is unavailable (") + what + ").");
}

}  // namespace

std::vector<std::string> GoogleSettings::issuers() const {
  std::vector<std::string> out{issuer};
  // Google's ID tokens carry either spelling (documented by Google).
  if (issuer == "https://accounts.google.com") {
    out.emplace_back("accounts.google.com");
  }
  return out;
}

bool acceptable_provider_url(const std::string& url) {
  if (url.size() > 2048 || has_ctl_or_space(url)) {
    return false;
  }
  const auto host = url_host(url);
  if (host.empty()) {
    return false;
  }
  if (url.rfind("https://", 0) == 0) {
    return true;
  }
  const bool loopback = host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
  return url.rfind("http://", 0) == 0 && loopback;
}

std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

GoogleSettings load_google_settings(const Config& c) {
  GoogleSettings s;
  s.client_id = opt(c, "auth.google_client_id");
  s.enabled = !s.client_id.empty();
  s.client_secret = opt(c, "auth.google_client_secret");
  s.redirect_uri = opt(c, "auth.google_redirect_uri");
  s.issuer = opt(c, "auth.google_issuer", s.issuer);
  s.discovery_url = opt(c, "auth.google_discovery_url");
  s.authorization_endpoint = opt(c, "auth.google_authorization_endpoint");
  s.token_endpoint = opt(c, "auth.google_token_endpoint");
  s.jwks_uri = opt(c, "auth.google_jwks_uri");
  s.web_redirect = opt(c, "auth.google_web_redirect", s.web_redirect);
  s.scopes = opt(c, "auth.google_scopes", s.scopes);
  s.ca_file = opt(c, "auth.google_ca_file");
  s.state_ttl_seconds = c.get_int("auth.google_state_ttl_seconds", 600, 30, 3600);
  s.code_ttl_seconds = c.get_int("auth.google_code_ttl_seconds", 60, 5, 600);
  s.jwks_cache_seconds = c.get_int("auth.google_jwks_cache_seconds", 3600, 1, 86'400);
  s.jwks_min_refetch_seconds = c.get_int("auth.google_jwks_min_refetch_seconds", 60, 0, 3600);
  s.http_timeout_ms = c.get_int("auth.google_http_timeout_ms", 10'000, 100, 60'000);
  const auto policy = opt(c, "auth.google_link_unverified", "drop_password");
  if (policy == "drop_password") {
    s.link_unverified = LinkUnverifiedPolicy::drop_password;
  } else if (policy == "keep_password") {
    s.link_unverified = LinkUnverifiedPolicy::keep_password;
  } else if (policy == "refuse") {
    s.link_unverified = LinkUnverifiedPolicy::refuse;
  } else {
    bad("auth.google_link_unverified", "must be one of: drop_password, keep_password, refuse");
  }
  if (!s.enabled) {
    return s;
  }
  if (s.client_id.size() > 512 || has_ctl_or_space(s.client_id)) {
    bad("auth.google_client_id", "must be the OAuth client id (no spaces)");
  }
  if (s.client_secret.empty()) {
    bad("auth.google_client_secret", "required when auth.google_client_id is set");
  }
  if (s.redirect_uri.empty()) {
    bad("auth.google_redirect_uri",
        "required when auth.google_client_id is set (e.g. https://tickets.example.com/api/v1/auth/google/callback)");
  }
  if ((s.redirect_uri.rfind("https://", 0) != 0 && s.redirect_uri.rfind("http://", 0) != 0) ||
      has_ctl_or_space(s.redirect_uri) || url_host(s.redirect_uri).empty()) {
    bad("auth.google_redirect_uri", "must be an absolute http(s) URL");
  }
  if (!acceptable_provider_url(s.issuer)) {
    bad("auth.google_issuer", "must be an https URL (http only for a loopback test provider)");
  }
  if (s.discovery_url.empty()) {
    std::string base = s.issuer;
    while (!base.empty() && base.back() == '/') {
      base.pop_back();
    }
    s.discovery_url = base + "/.well-known/openid-configuration";
  }
  for (const auto& [key, value] : {std::pair{"auth.google_discovery_url", &s.discovery_url},
                                   std::pair{"auth.google_authorization_endpoint", &s.authorization_endpoint},
                                   std::pair{"auth.google_token_endpoint", &s.token_endpoint},
                                   std::pair{"auth.google_jwks_uri", &s.jwks_uri}}) {
    if (!value->empty() && !acceptable_provider_url(*value)) {
      bad(key, "must be an https URL (http only for a loopback test provider)");
    }
  }
  // The landing page is ours: a path on this site, or an absolute http(s) URL.
  const auto& w = s.web_redirect;
  const bool path = w.size() > 1 && w.front() == '/' && w[1] != '/' && w[1] != '\\';
  const bool absolute = (w.rfind("https://", 0) == 0 || w.rfind("http://", 0) == 0) && !url_host(w).empty();
  if ((!path && !absolute) || has_ctl_or_space(w)) {
    bad("auth.google_web_redirect", "must be a path on this site (/auth/google) or an absolute http(s) URL");
  }
  if (s.scopes.find("openid") == std::string::npos) {
    bad("auth.google_scopes", "must include openid");
  }
  return s;
}

GoogleClient::GoogleClient(GoogleSettings settings, ClockPtr clock)
    : settings_(std::move(settings)), clock_(std::move(clock)) {
  common::OutboundOptions o;
  o.ca_file = settings_.ca_file;
  o.max_connections_per_host = 16;
  o.max_total_connections = 32;
  http_ = std::make_unique<common::OutboundHttp>(o);
}

GoogleClient::~GoogleClient() = default;

std::uint64_t GoogleClient::jwks_fetches() const {
  std::lock_guard lock(mu_);
  return jwks_fetches_;
}

Task<GoogleClient::Endpoints> GoogleClient::endpoints() {
  const auto& s = settings_;
  if (!s.authorization_endpoint.empty() && !s.token_endpoint.empty() && !s.jwks_uri.empty()) {
    co_return Endpoints{s.authorization_endpoint, s.token_endpoint, s.jwks_uri};
  }
  {
    std::lock_guard lock(mu_);
    if (discovered_) {
      co_return *discovered_;
    }
  }
  common::OutboundRequest req;
  req.url = s.discovery_url;
  req.headers.emplace_back("Accept", "application/json");
  req.timeout = std::chrono::milliseconds(s.http_timeout_ms);
  auto resp = co_await http_->send(std::move(req));
  if (!resp.ok() || resp.status != 200) {
    throw provider_error(resp, "discovery");
  }
  auto doc = json::parse(resp.body, nullptr, false);
  auto str = [&doc](const char* k) -> std::string {
    if (!doc.is_object() || !doc.contains(k) || !doc[k].is_string()) {
      return {};
    }
    return doc[k].get<std::string>();
  };
  Endpoints e{s.authorization_endpoint.empty() ? str("authorization_endpoint") : s.authorization_endpoint,
              s.token_endpoint.empty() ? str("token_endpoint") : s.token_endpoint,
              s.jwks_uri.empty() ? str("jwks_uri") : s.jwks_uri};
  // The discovery document must be the configured issuer's (OpenID Connect Discovery §4.3).
  if (str("issuer") != s.issuer || !acceptable_provider_url(e.authorization) ||
      !acceptable_provider_url(e.token) || !acceptable_provider_url(e.jwks)) {
    throw ApiError(502, "bad_gateway", "Google sign-in is unavailable (discovery document is not valid).");
  }
  std::lock_guard lock(mu_);
  discovered_ = e;
  co_return e;
}

Task<std::string> GoogleClient::redeem_code(std::string code, std::string code_verifier) {
  auto eps = co_await endpoints();
  const auto& s = settings_;
  common::OutboundRequest req;
  req.method = "POST";
  req.url = eps.token;
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept", "application/json");
  req.timeout = std::chrono::milliseconds(s.http_timeout_ms);
  // client_secret_post, as Google documents for web server applications.
  req.body = "grant_type=authorization_code&code=" + form_encode(code) +
             "&redirect_uri=" + form_encode(s.redirect_uri) + "&client_id=" + form_encode(s.client_id) +
             "&client_secret=" + form_encode(s.client_secret) + "&code_verifier=" + form_encode(code_verifier);
  auto resp = co_await http_->send(std::move(req));
  if (!resp.ok() || resp.status >= 500 || resp.status == 0) {
    throw provider_error(resp, "token endpoint");
  }
  auto doc = json::parse(resp.body, nullptr, false);
  if (resp.status != 200) {
    // invalid_grant (bad/used code, PKCE mismatch), invalid_client, …: the attempt cannot succeed.
    std::string why = "rejected";
    if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
      why = doc["error"].get<std::string>();
      if (why.size() > 64) {
        why.resize(64);
      }
    }
    throw ApiError(400, "google_code_rejected",
                   "Google did not accept the sign-in code (" + why + "); please start again.");
  }
  if (!doc.is_object() || !doc.contains("id_token") || !doc["id_token"].is_string()) {
    throw ApiError(502, "bad_gateway", "Google sign-in is unavailable (no ID token in the token response).");
  }
  co_return doc["id_token"].get<std::string>();
}

oidc::RsaPublicKeyPtr GoogleClient::key_for(const std::string& kid) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : it->second;
}

Task<bool> GoogleClient::refresh_keys(std::string jwks_uri) {
  common::OutboundRequest req;
  req.url = std::move(jwks_uri);
  req.headers.emplace_back("Accept", "application/json");
  req.timeout = std::chrono::milliseconds(settings_.http_timeout_ms);
  auto resp = co_await http_->send(std::move(req));
  if (!resp.ok() || resp.status != 200) {
    co_return false;
  }
  auto keys = oidc::parse_jwks(resp.body);
  if (!keys) {
    co_return false;
  }
  std::lock_guard lock(mu_);
  keys_ = std::move(*keys);
  keys_fetched_at_ = clock_->now_ms();
  ++jwks_fetches_;
  co_return true;
}

Task<oidc::IdTokenError> GoogleClient::verify_id_token(std::string id_token, oidc::IdTokenExpectations want,
                                                       oidc::IdTokenClaims* out) {
  auto jws = oidc::parse_jws(id_token);
  if (!jws) {
    co_return oidc::IdTokenError::malformed;
  }
  if (jws->alg != "RS256") {
    co_return oidc::IdTokenError::unsupported_alg;
  }
  if (jws->kid.empty() || jws->kid.size() > 256) {
    co_return oidc::IdTokenError::unknown_kid;
  }
  auto eps = co_await endpoints();
  const Millis now = clock_->now_ms();
  bool fetch = false;
  {
    std::lock_guard lock(mu_);
    const bool never = last_fetch_attempt_ < 0;
    const bool stale = now - keys_fetched_at_ >= settings_.jwks_cache_seconds * 1000;
    const bool unknown = keys_.find(jws->kid) == keys_.end();
    const bool may_refetch = never || now - last_fetch_attempt_ >= settings_.jwks_min_refetch_seconds * 1000;
    // Unknown kid (the provider rotated its keys) or a stale cache: fetch, but never more often
    // than the rate limit allows — a flood of tokens with invented kids cannot turn into a flood
    // of requests to the provider.
    if ((unknown || stale) && may_refetch) {
      last_fetch_attempt_ = now;
      fetch = true;
    }
  }
  if (fetch) {
    auto uri = eps.jwks;
    co_await refresh_keys(std::move(uri));  // on failure the cached keys stay in use
  }
  auto key = key_for(jws->kid);
  if (!key) {
    co_return oidc::IdTokenError::unknown_kid;
  }
  if (!key->verify_rs256(jws->signing_input, jws->signature)) {
    co_return oidc::IdTokenError::bad_signature;
  }
  oidc::IdTokenClaims claims;
  const auto err = oidc::check_claims(jws->payload_json, want, claims);
  if (err == oidc::IdTokenError::none && out != nullptr) {
    *out = std::move(claims);
  }
  co_return err;
}

}  // namespace tiketi::auth
