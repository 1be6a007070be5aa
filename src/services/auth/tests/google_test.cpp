// Google sign-in end to end against a fake OpenID Connect provider on 127.0.0.1: SQLite with
// in-process coordination, and PostgreSQL with Redis (the scaled shape).
#include <future>
#include <set>

#include "services/auth/google.hpp"
#include "services/auth/tests/auth_fixture.hpp"
#include "services/auth/tests/fake_oidc_provider.hpp"

namespace tiketi::auth::testing {
namespace {

constexpr const char* kClientId = "tiketi-test.apps.googleusercontent.com";
constexpr const char* kClientSecret = "GOCSPX-test-secret";
constexpr const char* kRedirect = "https://tickets.example.com/api/v1/auth/google/callback";

// Keys are expensive to make: once per process.
const RsaKey& provider_key() {
  static RsaKey k("key-2026-a");
  return k;
}
const RsaKey& rotated_key() {
  static RsaKey k("key-2026-b");
  return k;
}
const RsaKey& attacker_key() {
  static RsaKey k("key-2026-a");  // same kid as the real key: only the signature differs
  return k;
}

std::string header_value(const net::Headers& h, std::string_view name) {
  auto v = net::find_header(h, name);
  return v ? std::string(*v) : std::string();
}

// "…#code=abc" or "…#error=x" -> the value of `key` in the fragment.
std::string fragment_param(const std::string& location, const std::string& key) {
  auto hash = location.find('#');
  if (hash == std::string::npos) {
    return {};
  }
  std::string frag = location.substr(hash + 1);
  std::string path;
  std::vector<std::pair<std::string, std::string>> q;
  net::parse_target("/?" + frag, path, q);
  for (auto& [k, v] : q) {
    if (k == key) {
      return v;
    }
  }
  return {};
}

class GoogleSignInTest : public AuthFixture {
 protected:
  void SetUp() override {
    provider_ = std::make_unique<FakeOidcProvider>(clock_, kClientId, kClientSecret, kRedirect);
    provider_->publish({&provider_key()}, &provider_key());
    AuthFixture::SetUp();
  }

  void configure(Config& c) override {
    c.extra["auth.google_client_id"] = kClientId;
    c.extra["auth.google_client_secret"] = kClientSecret;
    c.extra["auth.google_redirect_uri"] = kRedirect;
    c.extra["auth.google_issuer"] = provider_->issuer();  // discovery at <issuer>/.well-known/…
    c.extra["auth.google_http_timeout_ms"] = "5000";
    // Redis (PostgreSQL runs) is shared by every test process and run: keep the login throttle,
    // keyed by email and IP, out of the way of the few password logins these tests make.
    c.extra["auth.login_max_failures"] = "1000000";
    c.extra["auth.login_max_attempts_per_ip"] = "1000000";
  }

  std::string coordination_url() override { return scaled_shape_redis(); }

  struct Started {
    std::string location;
    std::string cookie;  // "tiketi_oidc=…"
  };

  Started start_flow() {
    auto r = call("GET", "/api/v1/auth/google/start");
    EXPECT_EQ(r.status, 302) << r.body.dump();
    Started s;
    s.location = header_value(r.headers, "Location");
    const auto set_cookie = header_value(r.headers, "Set-Cookie");
    s.cookie = set_cookie.substr(0, set_cookie.find(';'));
    return s;
  }

  Reply callback(const Authorized& a, const std::string& cookie, net::Headers extra = {}) {
    if (!cookie.empty()) {
      extra.emplace_back("Cookie", "other=1; " + cookie);
    }
    return call("GET", "/api/v1/auth/google/callback?code=" + form_encode(a.code) + "&state=" + form_encode(a.state),
                "", extra);
  }

  Reply exchange(const std::string& code, const std::string& cookie) {
    net::Headers h;
    if (!cookie.empty()) {
      h.emplace_back("Cookie", cookie);
    }
    return call("POST", "/api/v1/auth/google/exchange", json{{"code", code}}.dump(), h);
  }

  // The whole browser round trip; returns the exchange reply (tokens and user).
  Reply sign_in(const GoogleUser& user, Tweaks tweaks = {}) {
    auto s = start_flow();
    auto a = provider_->authorize(s.location, user, std::move(tweaks));
    auto cb = callback(a, s.cookie);
    if (cb.status != 302) {
      return cb;
    }
    const auto loc = header_value(cb.headers, "Location");
    EXPECT_EQ(loc.rfind("/auth/google#code=", 0), 0u) << loc;
    return exchange(fragment_param(loc, "code"), s.cookie);
  }

  // Nothing was written by a rejected attempt.
  void expect_nothing_stored(std::int64_t users = 0) {
    EXPECT_EQ(count("users"), users);
    EXPECT_EQ(count("user_identities"), 0);
    EXPECT_EQ(count("refresh_tokens"), 0);
  }

  std::unique_ptr<FakeOidcProvider> provider_;
};

TEST_P(GoogleSignInTest, ProvidersAdvertiseGoogle) {
  auto r = call("GET", "/api/v1/auth/providers");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["password"], true);
  EXPECT_EQ(r.body["google"], true);
  EXPECT_EQ(r.body["googleStartUrl"], "/api/v1/auth/google/start");
}

TEST_P(GoogleSignInTest, StartRedirectsWithPkceStateNonceAndBindingCookie) {
  auto s1 = start_flow();
  auto s2 = start_flow();
  auto a1 = provider_->authorize(s1.location, GoogleUser{});
  auto a2 = provider_->authorize(s2.location, GoogleUser{});
  EXPECT_EQ(a1.params["code_challenge"].size(), 43u);
  EXPECT_EQ(a1.state.size(), 43u);
  EXPECT_EQ(a1.nonce.size(), 43u);
  EXPECT_NE(a1.state, a2.state);
  EXPECT_NE(a1.nonce, a2.nonce);
  EXPECT_NE(a1.params["code_challenge"], a2.params["code_challenge"]);
  EXPECT_EQ(s1.cookie.rfind("tiketi_oidc=", 0), 0u);
  EXPECT_NE(s1.cookie, s2.cookie);
  auto r = call("GET", "/api/v1/auth/google/start");
  const auto set_cookie = header_value(r.headers, "Set-Cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Lax"), std::string::npos);
  EXPECT_NE(set_cookie.find("Secure"), std::string::npos);  // the redirect URI is https
  EXPECT_NE(set_cookie.find("Path=/api/v1/auth/google"), std::string::npos);
  EXPECT_EQ(header_value(r.headers, "Cache-Control"), "no-store");
  EXPECT_EQ(count("users"), 0);
}

TEST_P(GoogleSignInTest, FirstSignInCreatesAccountAndSecondSignsIntoIt) {
  auto first = sign_in(GoogleUser{});
  ASSERT_EQ(first.status, 200) << first.body.dump();
  EXPECT_EQ(first.body["user"]["email"], "fan@gmail.com");
  EXPECT_EQ(first.body["user"]["provider"], "GOOGLE");
  EXPECT_EQ(first.body["user"]["name"], "Fan Kim");
  EXPECT_EQ(first.body["user"]["profileImageUrl"], "https://lh3.googleusercontent.com/a/fan.png");
  EXPECT_EQ(first.body["tokenType"], "Bearer");
  const std::string id = first.body["user"]["id"];
  auto me = get("/api/v1/auth/me", first.body["accessToken"]);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body["id"], id);
  auto refreshed = post("/api/v1/auth/refresh", {{"refreshToken", first.body["refreshToken"]}});
  EXPECT_EQ(refreshed.status, 200);
  // A Google-only account has no password to log in with.
  EXPECT_EQ(post("/api/v1/auth/login", {{"email", "fan@gmail.com"}, {"password", "anything at all"}}).status, 401);

  // Same Google subject again (even with a changed email at Google): the same account.
  GoogleUser again;
  again.email = "fan.renamed@gmail.com";
  auto second = sign_in(again);
  ASSERT_EQ(second.status, 200) << second.body.dump();
  EXPECT_EQ(second.body["user"]["id"], id);
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("user_identities"), 1);
  EXPECT_EQ(counter("auth_google_sign_ins_total{result=\"created\"}"), 1);
  EXPECT_EQ(counter("auth_google_sign_ins_total{result=\"existing\"}"), 1);
  EXPECT_EQ(counter("auth_signups_total"), 1);
  EXPECT_GE(provider_->jwks_requests(), 1);
  EXPECT_EQ(provider_->token_requests(), 2);
}

TEST_P(GoogleSignInTest, ExistingPasswordAccountIsLinkedAndItsUnverifiedPasswordDropped) {
  auto local = signup("fan@gmail.com");
  ASSERT_EQ(local.status, 201);
  const std::string id = local.body["user"]["id"];
  const std::string old_refresh = local.body["refreshToken"];

  auto g = sign_in(GoogleUser{});
  ASSERT_EQ(g.status, 200) << g.body.dump();
  EXPECT_EQ(g.body["user"]["id"], id);           // linked, not a second account
  EXPECT_EQ(g.body["user"]["provider"], "LOCAL");  // where the account came from
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("user_identities"), 1);
  EXPECT_EQ(counter("auth_google_sign_ins_total{result=\"linked\"}"), 1);
  // Whoever set that password never proved they own the address: it no longer works and the
  // sessions it opened are gone (pre-account-takeover defence, policy drop_password).
  EXPECT_EQ(login("fan@gmail.com").status, 401);
  auto stale = post("/api/v1/auth/refresh", {{"refreshToken", old_refresh}});
  EXPECT_EQ(stale.status, 401);
  EXPECT_EQ(error_code(stale), "refresh_token_revoked");
  // The Google session works, and later Google sign-ins find the link by subject.
  EXPECT_EQ(get("/api/v1/auth/me", g.body["accessToken"]).status, 200);
  auto again = sign_in(GoogleUser{});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["user"]["id"], id);
}

TEST_P(GoogleSignInTest, VerifiedAccountIsLinkedAndKeepsItsPassword) {
  const auto result = loop_.run(create_admin(*db_, *clock_, "boss@gmail.com", "correct horse 1", "Boss",
                                             Argon2Params{1, 8192 * 1024}));
  ASSERT_EQ(result, AdminCreateResult::created);
  GoogleUser boss;
  boss.sub = "2000002";
  boss.email = "Boss@Gmail.com";
  auto g = sign_in(boss);
  ASSERT_EQ(g.status, 200) << g.body.dump();
  EXPECT_EQ(g.body["user"]["email"], "boss@gmail.com");
  EXPECT_EQ(g.body["user"]["role"], "admin");
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(login("boss@gmail.com").status, 200);  // the operator-verified password stays
}

struct Rejection {
  const char* name;
  int status;
  const char* code;
};

TEST_P(GoogleSignInTest, ForgedOrMisissuedIdTokensAreRejectedAndNothingStored) {
  struct Case {
    Rejection want;
    Tweaks tweaks;
    GoogleUser user;
  };
  std::vector<Case> cases;
  cases.push_back({{"forged signature", 401, "id_token_bad_signature"}, Tweaks{.sign_with = &attacker_key()}, {}});
  cases.push_back({{"wrong audience", 401, "id_token_wrong_audience"}, Tweaks{.aud = json("someone-else")}, {}});
  cases.push_back({{"extra audience without azp match", 401, "id_token_wrong_audience"},
                   Tweaks{.aud = json::array({"someone-else"})},
                   {}});
  cases.push_back({{"wrong issuer", 401, "id_token_wrong_issuer"}, Tweaks{.iss = "https://evil.example.com"}, {}});
  cases.push_back({{"expired", 401, "id_token_expired"}, Tweaks{.iat_offset = -7200, .exp_offset = 3600}, {}});
  cases.push_back({{"issued in the future", 401, "id_token_not_yet_valid"}, Tweaks{.iat_offset = 3600}, {}});
  cases.push_back({{"wrong nonce", 401, "id_token_wrong_nonce"}, Tweaks{.nonce = "not-the-nonce"}, {}});
  cases.push_back({{"unknown kid", 401, "id_token_unknown_kid"}, Tweaks{.kid = "no-such-key"}, {}});
  cases.push_back({{"alg none", 401, "id_token_unsupported_alg"}, Tweaks{.alg = "none"}, {}});
  cases.push_back({{"alg HS256", 401, "id_token_unsupported_alg"}, Tweaks{.alg = "HS256"}, {}});
  cases.push_back({{"bad PKCE verifier", 400, "google_code_rejected"},
                   Tweaks{.challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
                   {}});
  GoogleUser unverified;
  unverified.email_verified = false;
  cases.push_back({{"email not verified", 403, "email_not_verified"}, Tweaks{}, unverified});
  for (auto& c : cases) {
    SCOPED_TRACE(c.want.name);
    auto r = sign_in(c.user, c.tweaks);
    EXPECT_EQ(r.status, c.want.status) << r.body.dump();
    ASSERT_TRUE(r.body.contains("error")) << r.body.dump();
    EXPECT_EQ(error_code(r), c.want.code);
    expect_nothing_stored();
  }
  EXPECT_EQ(counter("auth_google_sign_ins_total{result=\"rejected\"}"), static_cast<double>(cases.size()));
  // Unknown kids may trigger a JWKS refetch, but rate-limited: not one per bad token.
  EXPECT_LE(provider_->jwks_requests(), 2);
  // And a good token still works afterwards.
  EXPECT_EQ(sign_in(GoogleUser{}).status, 200);
}

TEST_P(GoogleSignInTest, StateIsSingleUseAndBoundToTheBrowser) {
  // Replayed state: the first callback succeeds, the replay is refused.
  auto s = start_flow();
  auto a = provider_->authorize(s.location, GoogleUser{});
  auto ok = callback(a, s.cookie);
  ASSERT_EQ(ok.status, 302) << ok.body.dump();
  const auto users_after_first = count("users");
  auto again = provider_->authorize(s.location, GoogleUser{});  // a fresh code, same state
  auto replay = callback(again, s.cookie);
  EXPECT_EQ(replay.status, 400);
  EXPECT_EQ(error_code(replay), "oidc_state_invalid");
  EXPECT_EQ(count("users"), users_after_first);

  // Unknown state, missing state.
  Authorized forged = again;
  forged.state = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  EXPECT_EQ(error_code(callback(forged, s.cookie)), "oidc_state_invalid");
  auto no_state = call("GET", "/api/v1/auth/google/callback?code=x");
  EXPECT_EQ(no_state.status, 400);
  EXPECT_EQ(error_code(no_state), "oidc_state_invalid");

  // Callback URL carried to another browser (login CSRF): no or another binding cookie.
  auto s2 = start_flow();
  auto a2 = provider_->authorize(s2.location, GoogleUser{.sub = "3", .email = "other@gmail.com"});
  auto no_cookie = callback(a2, "");
  EXPECT_EQ(no_cookie.status, 400);
  EXPECT_EQ(error_code(no_cookie), "oidc_state_invalid");
  auto s3 = start_flow();
  auto a3 = provider_->authorize(s3.location, GoogleUser{.sub = "3", .email = "other@gmail.com"});
  auto wrong_cookie = callback(a3, s2.cookie);
  EXPECT_EQ(wrong_cookie.status, 400);
  EXPECT_EQ(error_code(wrong_cookie), "oidc_state_invalid");
  EXPECT_EQ(count("users"), users_after_first);
  EXPECT_EQ(provider_->token_requests(), 1);  // refused before the code was ever redeemed
}

TEST_P(GoogleSignInTest, ConcurrentCallbacksWithOneStateSucceedOnce) {
  auto s = start_flow();
  auto a = provider_->authorize(s.location, GoogleUser{});
  auto b = provider_->authorize(s.location, GoogleUser{});  // second code for the same state
  auto f1 = std::async(std::launch::async, [&] { return callback(a, s.cookie).status; });
  auto f2 = std::async(std::launch::async, [&] { return callback(b, s.cookie).status; });
  std::multiset<int> statuses{f1.get(), f2.get()};
  EXPECT_EQ(statuses, (std::multiset<int>{302, 400}));
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("user_identities"), 1);
}

TEST_P(GoogleSignInTest, OneTimeCodeIsSingleUseAndNeedsTheSameBrowser) {
  auto s = start_flow();
  auto a = provider_->authorize(s.location, GoogleUser{});
  auto cb = callback(a, s.cookie);
  ASSERT_EQ(cb.status, 302);
  const auto code = fragment_param(header_value(cb.headers, "Location"), "code");
  ASSERT_EQ(code.size(), 43u);
  EXPECT_EQ(header_value(cb.headers, "Referrer-Policy"), "no-referrer");
  // Another browser (no cookie) cannot redeem it — and the attempt burns it.
  auto stolen = exchange(code, "");
  EXPECT_EQ(stolen.status, 400);
  EXPECT_EQ(error_code(stolen), "oidc_code_invalid");
  auto late = exchange(code, s.cookie);
  EXPECT_EQ(late.status, 400);
  EXPECT_EQ(count("refresh_tokens"), 0);

  // A fresh flow: first exchange works, the second is refused.
  auto ok = sign_in(GoogleUser{});
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(count("refresh_tokens"), 1);
  auto bad = exchange("not-a-code", s.cookie);
  EXPECT_EQ(bad.status, 400);
  auto empty = call("POST", "/api/v1/auth/google/exchange", "{}");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(error_code(empty), "validation_failed");
}

TEST_P(GoogleSignInTest, ProviderKeyRotationIsPickedUpByRefetchingTheJwks) {
  ASSERT_EQ(sign_in(GoogleUser{}).status, 200);
  const int fetched = provider_->jwks_requests();
  provider_->publish({&provider_key(), &rotated_key()}, &rotated_key());
  clock_->advance(61'000);  // past the refetch rate limit
  auto r = sign_in(GoogleUser{});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(provider_->jwks_requests(), fetched + 1);
  // Known kid: served from the cache, no new request.
  ASSERT_EQ(sign_in(GoogleUser{}).status, 200);
  EXPECT_EQ(provider_->jwks_requests(), fetched + 1);
}

TEST_P(GoogleSignInTest, ProviderDeniedAndBrowserErrorsGoBackToTheWebUi) {
  auto s = start_flow();
  auto a = provider_->authorize(s.location, GoogleUser{});
  net::Headers h{{"Cookie", s.cookie}};
  auto denied = call("GET", "/api/v1/auth/google/callback?error=access_denied&state=" + a.state, "", h);
  EXPECT_EQ(denied.status, 400);
  EXPECT_EQ(error_code(denied), "google_denied");

  // A browser (Accept: text/html) is sent back to the UI with the code of the error.
  auto s2 = start_flow();
  auto a2 = provider_->authorize(s2.location, GoogleUser{}, Tweaks{.aud = json("someone-else")});
  auto html = callback(a2, s2.cookie, {{"Accept", "text/html,application/xhtml+xml"}});
  ASSERT_EQ(html.status, 302);
  EXPECT_EQ(fragment_param(header_value(html.headers, "Location"), "error"), "id_token_wrong_audience");
  expect_nothing_stored();
}

INSTANTIATE_TEST_SUITE_P(Engines, GoogleSignInTest, ::testing::Values(store::Engine::sqlite, store::Engine::postgres),
                         engine_name);

// Not configured: the start route says so clearly and the providers list hides the button.
class GoogleNotConfiguredTest : public AuthFixture {};

TEST_P(GoogleNotConfiguredTest, StartAnswers404AndProvidersHideGoogle) {
  auto r = call("GET", "/api/v1/auth/google/start");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code(r), "google_not_configured");
  EXPECT_EQ(call("GET", "/api/v1/auth/google/callback?code=a&state=b").status, 404);
  auto p = call("GET", "/api/v1/auth/providers");
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.body["google"], false);
  EXPECT_FALSE(p.body.contains("googleStartUrl"));
}

INSTANTIATE_TEST_SUITE_P(Engines, GoogleNotConfiguredTest, ::testing::Values(store::Engine::sqlite), engine_name);

// Settings validation: a half configuration is a start-up error naming the setting.
TEST(GoogleSettingsTest, IncompleteOrUnsafeConfigurationIsRejected) {
  Config c;
  EXPECT_FALSE(load_google_settings(c).enabled);
  c.extra["auth.google_client_id"] = kClientId;
  EXPECT_THROW(load_google_settings(c), std::invalid_argument);  // no secret
  c.extra["auth.google_client_secret"] = kClientSecret;
  EXPECT_THROW(load_google_settings(c), std::invalid_argument);  // no redirect URI
  c.extra["auth.google_redirect_uri"] = kRedirect;
  auto s = load_google_settings(c);
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.discovery_url, "https://accounts.google.com/.well-known/openid-configuration");
  EXPECT_EQ(s.issuers(), (std::vector<std::string>{"https://accounts.google.com", "accounts.google.com"}));
  c.extra["auth.google_issuer"] = "http://evil.example.com";  // plain http only for loopback
  EXPECT_THROW(load_google_settings(c), std::invalid_argument);
  c.extra["auth.google_issuer"] = "http://127.0.0.1:9";
  EXPECT_NO_THROW(load_google_settings(c));
  c.extra["auth.google_web_redirect"] = "//evil.example.com/x";
  EXPECT_THROW(load_google_settings(c), std::invalid_argument);
  c.extra["auth.google_web_redirect"] = "/auth/google";
  c.extra["auth.google_link_unverified"] = "maybe";
  EXPECT_THROW(load_google_settings(c), std::invalid_argument);
}

}  // namespace
}  // namespace tiketi::auth::testing
