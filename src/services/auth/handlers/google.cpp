// Google sign-in: the OpenID Connect authorization-code flow with PKCE (S256), state and nonce.
//
//   GET  /api/v1/auth/providers         -> which sign-in methods this server offers (UI buttons)
//   GET  /api/v1/auth/google/start      -> 302 to Google; state/nonce/verifier kept server-side
//   GET  /api/v1/auth/google/callback   -> code exchanged and ID token verified; 302 to the web UI
//                                          with a one-time code in the URL fragment
//   POST /api/v1/auth/google/exchange   -> {code} -> the normal token pair (single use, ~60 s)
//
// The browser is bound to its sign-in attempt by an HttpOnly cookie set at start (its SHA-256 is
// stored with the state and with the one-time code), so a callback URL or a one-time code
// carried to another browser (login CSRF, a leaked URL) is refused. See docs/auth.md.
#include <sodium.h>

#include "core/ids.hpp"
#include "services/auth/domain/email.hpp"
#include "services/auth/domain/oidc.hpp"
#include "services/auth/handlers/handlers.hpp"
#include "services/common/utf8.hpp"

namespace tiketi::auth::handlers {
namespace {

using json = nlohmann::json;

constexpr const char* kCookieName = "tiketi_oidc";
constexpr const char* kCookiePath = "/api/v1/auth/google";
constexpr const char* kStatePrefix = "auth:google:state:";
constexpr const char* kCodePrefix = "auth:google:code:";

ApiError not_configured() {
  return ApiError(404, "google_not_configured", "Google sign-in is not configured on this server.");
}
ApiError state_invalid() {
  return ApiError(400, "oidc_state_invalid",
                  "This sign-in attempt is unknown, expired, already used or was started in another "
                  "browser; please start again.");
}
ApiError code_invalid() {
  return ApiError(400, "oidc_code_invalid", "The sign-in code is unknown, expired or already used.");
}

std::optional<std::string> cookie_value(const net::Request& req, std::string_view name) {
  auto header = req.header("cookie");
  if (!header) {
    return std::nullopt;
  }
  std::string_view h = *header;
  while (!h.empty()) {
    auto end = h.find(';');
    auto part = h.substr(0, end);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      return std::string(part.substr(eq + 1));
    }
    if (end == std::string_view::npos) {
      break;
    }
    h.remove_prefix(end + 1);
  }
  return std::nullopt;
}

bool same_hex(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Whether the browser presents the cookie whose hash was stored with the state / one-time code.
bool binding_matches(const net::Request& req, const json& record) {
  auto cookie = cookie_value(req, kCookieName);
  if (!cookie || cookie->size() != 43 || !record.contains("b") || !record["b"].is_string()) {
    return false;
  }
  return same_hex(oidc::sha256_hex(*cookie), record["b"].get<std::string>());
}

std::string cookie(const GoogleSettings& g, const std::string& value, std::int64_t max_age) {
  std::string c = std::string(kCookieName) + "=" + value + "; Path=" + kCookiePath +
                  "; Max-Age=" + std::to_string(max_age) + "; HttpOnly; SameSite=Lax";
  if (g.secure_cookie()) {
    c += "; Secure";
  }
  return c;
}

// Reads and deletes a single-use record; only the caller whose DEL removed it may use it, so two
// concurrent uses of the same state or code cannot both succeed (in-process and Redis alike).
Task<std::optional<json>> take(coord::Coordinator& coord, std::string key) {
  auto value = co_await coord.get(key);
  if (!value) {
    co_return std::nullopt;
  }
  const bool deleted = co_await coord.del(key);
  if (!deleted) {
    co_return std::nullopt;
  }
  auto doc = json::parse(*value, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    co_return std::nullopt;
  }
  co_return doc;
}

std::string with_fragment(const std::string& base, const std::string& params) {
  return base + (base.find('#') == std::string::npos ? "#" : "&") + params;
}

net::Response no_store(net::Response r) {
  r.header("Cache-Control", "no-store");
  r.header("Referrer-Policy", "no-referrer");
  return r;
}

// A browser that lands on the callback gets sent back to the web UI with the error code in the
// fragment (it cannot do anything with a JSON page); API clients and tests get the 4xx itself.
bool wants_html(const net::Request& req) {
  auto accept = req.header("accept");
  return accept && accept->find("text/html") != std::string_view::npos;
}

std::string display_name(const oidc::IdTokenClaims& c, const std::string& email) {
  std::string name = c.name;
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) {
    name.pop_back();
  }
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front()))) {
    name.erase(name.begin());
  }
  bool ok = !name.empty() && name.size() <= 400 && common::is_valid_utf8(name) && common::utf8_length(name) <= 100;
  for (const char ch : name) {
    const auto u = static_cast<unsigned char>(ch);
    ok = ok && u >= 0x20 && u != 0x7F;
  }
  if (ok) {
    return name;
  }
  return email.substr(0, email.find('@'));
}

std::optional<std::string> profile_picture(const std::string& url) {
  if (url.size() < 9 || url.size() > 2048 || url.rfind("https://", 0) != 0) {
    return std::nullopt;
  }
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\') {
      return std::nullopt;
    }
  }
  return url;
}

}  // namespace

// GET /api/v1/auth/providers -> {"password": true, "google": bool, "googleStartUrl"?}
Task<net::Response> providers_get(AuthState& s, net::Request&) {
  json out{{"password", true}, {"google", s.google != nullptr}};
  if (s.google) {
    out["googleStartUrl"] = "/api/v1/auth/google/start";
  }
  co_return json_response(200, out);
}

// GET /api/v1/auth/google/start -> 302 to the provider's authorization endpoint.
Task<net::Response> google_start(AuthState& s, net::Request& req) {
  if (!s.google) {
    throw not_configured();
  }
  auto eps = co_await s.google->endpoints();
  const auto& g = s.google->settings();
  const std::string state = oidc::random_token();
  const std::string nonce = oidc::random_token();
  const std::string verifier = oidc::random_token();  // 43 characters: within RFC 7636's 43..128
  const std::string binding = oidc::random_token();
  const json record{{"n", nonce}, {"v", verifier}, {"b", oidc::sha256_hex(binding)}};
  co_await s.ctx.coord->set(kStatePrefix + oidc::sha256_hex(state), record.dump(),
                            coord::Ttl{g.state_ttl_seconds * 1000});
  std::string url = eps.authorization;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code&client_id=" + form_encode(g.client_id) +
         "&redirect_uri=" + form_encode(g.redirect_uri) + "&scope=" + form_encode(g.scopes) +
         "&state=" + state + "&nonce=" + nonce + "&code_challenge=" + oidc::pkce_challenge(verifier) +
         "&code_challenge_method=S256";
  log::info(req.log, "google sign-in started");
  auto r = net::Response::redirect(std::move(url), 302);
  r.header("Set-Cookie", cookie(g, binding, g.state_ttl_seconds));
  co_return no_store(std::move(r));
}

// GET /api/v1/auth/google/callback?code&state -> 302 to the web UI with #code=<one-time code>.
Task<net::Response> google_callback(AuthState& s, net::Request& req) {
  if (!s.google) {
    throw not_configured();
  }
  const auto& g = s.google->settings();
  const bool html = wants_html(req);
  try {
    const auto state = req.query_param("state");
    if (!state || state->empty() || state->size() > 128) {
      throw state_invalid();
    }
    auto record = co_await take(*s.ctx.coord, kStatePrefix + oidc::sha256_hex(*state));
    if (!record || !(*record)["n"].is_string() || !(*record)["v"].is_string()) {
      throw state_invalid();
    }
    if (!binding_matches(req, *record)) {
      throw state_invalid();
    }
    if (auto denied = req.query_param("error")) {
      std::string why = denied->substr(0, 64);
      for (auto& ch : why) {
        ch = std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ? ch : '_';
      }
      throw ApiError(400, "google_denied", "Google sign-in was cancelled or refused (" + why + ").");
    }
    const auto code = req.query_param("code");
    if (!code || code->empty() || code->size() > 2048) {
      throw errors::bad_request("The callback has no authorization code.");
    }
    std::string verifier = (*record)["v"].get<std::string>();
    std::string code_copy = *code;
    const std::string id_token = co_await s.google->redeem_code(std::move(code_copy), std::move(verifier));

    oidc::IdTokenExpectations want;
    want.issuers = g.issuers();
    want.client_id = g.client_id;
    want.nonce = (*record)["n"].get<std::string>();
    want.now_ms = s.ctx.clock->now_ms();
    oidc::IdTokenClaims claims;
    const auto err = co_await s.google->verify_id_token(id_token, want, &claims);
    if (err != oidc::IdTokenError::none) {
      log::warn(req.log, "google id token rejected", {lf("reason", std::string(oidc::id_token_error_code(err)))});
      const int status = err == oidc::IdTokenError::email_not_verified ? 403 : 401;
      throw ApiError(status, std::string(oidc::id_token_error_code(err)),
                     std::string(oidc::id_token_error_message(err)));
    }
    auto normalized = normalize_email(claims.email);
    if (std::holds_alternative<EmailError>(normalized)) {
      throw ApiError(401, "id_token_invalid", "The Google account's email address is not usable here.");
    }
    ExternalIdentity ident;
    ident.provider = kProviderGoogle;
    ident.subject = claims.sub;
    ident.email = std::get<std::string>(normalized);
    ident.name = display_name(claims, ident.email);
    ident.picture = profile_picture(claims.picture);
    ident.drop_unverified_password = g.link_unverified == LinkUnverifiedPolicy::drop_password;
    ident.refuse_unverified = g.link_unverified == LinkUnverifiedPolicy::refuse;
    auto result = co_await s.store->sign_in_with_identity(ident);
    if (result.outcome == IdentityOutcome::refused_unverified || !result.user) {
      throw ApiError(409, "account_exists_unverified",
                     "An account with this email exists; sign in with its password first.");
    }
    switch (result.outcome) {
      case IdentityOutcome::created:
        s.metrics.google_created->inc();
        s.metrics.signups->inc();
        break;
      case IdentityOutcome::linked:
        s.metrics.google_linked->inc();
        break;
      default:
        s.metrics.google_existing->inc();
        break;
    }
    log::info(req.log, "google sign-in succeeded",
              {lf("user_id", result.user->id),
               lf("outcome", result.outcome == IdentityOutcome::created  ? "created"
                             : result.outcome == IdentityOutcome::linked ? "linked"
                                                                          : "existing"),
               lf("dropped_unverified_password", result.dropped_password)});
    const std::string one_time = oidc::random_token();
    const json grant{{"u", result.user->id}, {"b", (*record)["b"]}};
    co_await s.ctx.coord->set(kCodePrefix + oidc::sha256_hex(one_time), grant.dump(),
                              coord::Ttl{g.code_ttl_seconds * 1000});
    co_return no_store(net::Response::redirect(with_fragment(g.web_redirect, "code=" + one_time), 302));
  } catch (const ApiError& e) {
    if (e.code() != "google_denied") {
      s.metrics.google_rejected->inc();
    }
    if (!html) {
      throw;
    }
    log::info(req.log, "google sign-in failed", {lf("code", e.code())});
    auto r = net::Response::redirect(with_fragment(g.web_redirect, "error=" + form_encode(e.code())), 302);
    r.header("Set-Cookie", cookie(g, "", 0));
    co_return no_store(std::move(r));
  }
}

// POST /api/v1/auth/google/exchange {code} -> 200 {user, accessToken, refreshToken, expiresIn}
Task<net::Response> google_exchange_post(AuthState& s, net::Request& req) {
  auto body = parse_body(req.body);
  const std::string code = body.required_string("code", {.max_bytes = 128});
  body.finish();
  if (!s.google) {
    throw not_configured();
  }
  auto grant = co_await take(*s.ctx.coord, kCodePrefix + oidc::sha256_hex(code));
  if (!grant || !(*grant)["u"].is_string() || !binding_matches(req, *grant)) {
    throw code_invalid();
  }
  auto user = co_await s.store->find_by_id((*grant)["u"].get<std::string>());
  if (!user) {
    throw code_invalid();
  }
  auto out = co_await s.issue_session(*user);
  out["user"] = user_json(*user);
  auto r = json_response(200, out);
  r.header("Set-Cookie", cookie(s.google->settings(), "", 0));
  co_return no_store(std::move(r));
}

}  // namespace tiketi::auth::handlers
