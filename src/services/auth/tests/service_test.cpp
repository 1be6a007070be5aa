// The account lifecycle through the auth routes, on SQLite and (when configured) PostgreSQL.
#include <set>

#include "services/auth/domain/base64url.hpp"
#include "services/auth/domain/refresh_token.hpp"
#include "services/auth/tests/auth_fixture.hpp"

namespace tiketi::auth::testing {
namespace {

class AuthServiceTest : public AuthFixture {};

bool has_field_error(const Reply& r, const std::string& field) {
  if (r.status != 400 || !r.body["error"].contains("fields")) {
    return false;
  }
  for (const auto& f : r.body["error"]["fields"]) {
    if (f["field"] == field) {
      return true;
    }
  }
  return false;
}

TEST_P(AuthServiceTest, SignupReturnsUserAndTokensAndMeWorks) {
  auto r = signup();
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["user"]["email"], "alice@example.com");
  EXPECT_EQ(r.body["user"]["role"], "user");
  EXPECT_EQ(r.body["user"]["provider"], "LOCAL");
  EXPECT_FALSE(r.body["user"].contains("passwordHash"));
  EXPECT_EQ(r.body["expiresIn"], 900);
  const std::string access = r.body["accessToken"];
  auto me = get("/api/v1/auth/me", access);
  ASSERT_EQ(me.status, 200) << me.body.dump();
  EXPECT_EQ(me.body["id"], r.body["user"]["id"]);
  EXPECT_EQ(counter("auth_signups_total"), 1);
  EXPECT_EQ(count("refresh_tokens"), 1);
}

TEST_P(AuthServiceTest, RefreshTokensAreStoredOnlyAsHashes) {
  auto s = signup();
  ASSERT_EQ(s.status, 201);
  auto l = login();
  ASSERT_EQ(l.status, 200);
  std::set<std::string> tokens{s.body["refreshToken"].get<std::string>(), l.body["refreshToken"].get<std::string>()};
  std::set<std::string> want_hashes;
  for (const auto& t : tokens) {
    EXPECT_EQ(t.size(), 43u);  // 256 random bits, base64url
    want_hashes.insert(hash_refresh_token(t).value());
  }
  auto rows = loop_.run(db_->exec("SELECT * FROM refresh_tokens"));
  ASSERT_EQ(rows.rows.size(), 2u);
  std::set<std::string> stored_hashes;
  for (const auto& row : rows.rows) {
    stored_hashes.insert(row.str("token_hash"));
    for (const char* column : {"id", "family_id", "user_id", "token_hash"}) {  // the text columns
      for (const auto& t : tokens) {
        EXPECT_EQ(row.str(column).find(t), std::string::npos) << "a refresh token is stored in clear";
      }
    }
  }
  EXPECT_EQ(stored_hashes, want_hashes);
}

TEST_P(AuthServiceTest, EmailIsUniqueCaseInsensitively) {
  ASSERT_EQ(signup("alice@example.com").status, 201);
  auto dup = signup("  ALICE@example.COM ");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(error_code(dup), "email_taken");
  EXPECT_EQ(count("users"), 1);
}

TEST_P(AuthServiceTest, ConcurrentSignupsForOneEmailCreateOneAccount) {
  const std::vector<std::string> spellings = {"race@example.com", "RACE@example.com", " Race@Example.com",
                                              "race@EXAMPLE.COM"};
  std::vector<std::thread> threads;
  std::vector<Reply> replies(spellings.size());
  for (std::size_t i = 0; i < spellings.size(); ++i) {
    threads.emplace_back([&, i] { replies[i] = signup(spellings[i]); });
  }
  for (auto& t : threads) {
    t.join();
  }
  int created = 0;
  for (const auto& r : replies) {
    if (r.status == 201) {
      ++created;
    } else {
      EXPECT_EQ(r.status, 409) << r.body.dump();
      EXPECT_EQ(error_code(r), "email_taken");
    }
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(count("users"), 1);
  EXPECT_EQ(count("refresh_tokens"), 1);
}

TEST_P(AuthServiceTest, HostileSignupInputIsRejectedWithFieldErrorsAndNothingStored) {
  const std::string mb_email = std::string(1'000'000, 'a') + "@example.com";
  struct Case {
    std::string body;
    std::string field;  // "" -> whole-body error (invalid_json)
  };
  const std::vector<Case> cases = {
      {json{{"password", "correct horse 1"}, {"name", "A"}}.dump(), "email"},
      {json{{"email", "a@b.co"}, {"name", "A"}}.dump(), "password"},
      {json{{"email", "a@b.co"}, {"password", "correct horse 1"}}.dump(), "name"},
      {json{{"email", 42}, {"password", "correct horse 1"}, {"name", "A"}}.dump(), "email"},
      {json{{"email", "a@b.co"}, {"password", json::array()}, {"name", "A"}}.dump(), "password"},
      {json{{"email", "a@b.co"}, {"password", "correct horse 1"}, {"name", true}}.dump(), "name"},
      {json{{"email", "a@b.co"}, {"password", "short"}, {"name", "A"}}.dump(), "password"},
      {json{{"email", "a@b.co"}, {"password", std::string(1025, 'x')}, {"name", "A"}}.dump(), "password"},
      {json{{"email", "x'; DROP TABLE users; --@a.com"}, {"password", "correct horse 1"}, {"name", "A"}}
           .dump(),
       "email"},
      {json{{"email", "' OR '1'='1"}, {"password", "correct horse 1"}, {"name", "A"}}.dump(), "email"},
      {json{{"email", mb_email}, {"password", "correct horse 1"}, {"name", "A"}}.dump(), "email"},
      {json{{"email", "a@b.co"}, {"password", "correct horse 1"}, {"name", std::string(101, 'n')}}.dump(),
       "name"},
      {json{{"email", "a@b.co"}, {"password", "correct horse 1"}, {"name", "bad\u0001name"}}.dump(), "name"},
      // Invalid UTF-8 inside a value: a field-level error on that member.
      {"{\"email\":\"a@b.co\",\"password\":\"correct horse 1\",\"name\":\"\xc3\x28\"}", "name"},
      {"{\"email\":\"\xff\xfe@b.co\",\"password\":\"correct horse 1\",\"name\":\"A\"}", "email"},
      {"{\"email\":\"a@b.co\",\"password\":\"correct horse \xed\xa0\x80\",\"name\":\"A\"}", "password"},
      // Invalid UTF-8 outside a value (here in a key) or an escaped lone surrogate: not JSON.
      {"{\"na\xffme\":\"A\",\"email\":\"a@b.co\",\"password\":\"correct horse 1\"}", ""},
      {"{\"email\":\"a@b.co\",\"password\":\"correct horse 1\",\"name\":\"\\udc00\"}", ""},
      {"not json", ""},
      {"[1,2,3]", ""},
      {"", ""},
  };
  for (const auto& c : cases) {
    auto r = call("POST", "/api/v1/auth/signup", c.body);
    EXPECT_EQ(r.status, 400) << c.body.substr(0, 120);
    if (c.field.empty()) {
      EXPECT_EQ(error_code(r), "invalid_json") << c.body.substr(0, 120);
    } else {
      EXPECT_TRUE(has_field_error(r, c.field))
          << c.body.substr(0, 120) << " -> " << r.body.dump().substr(0, 300);
    }
  }
  // All problems at once, each with its field.
  auto all = call("POST", "/api/v1/auth/signup", json{{"email", 1}, {"password", 2}}.dump());
  EXPECT_TRUE(has_field_error(all, "email"));
  EXPECT_TRUE(has_field_error(all, "password"));
  EXPECT_TRUE(has_field_error(all, "name"));
  EXPECT_EQ(count("users"), 0);
  EXPECT_EQ(count("refresh_tokens"), 0);
}

TEST_P(AuthServiceTest, SqlInjectionInTextIsStoredLiterally) {
  auto r = post("/api/v1/auth/signup", {{"email", "bob@example.com"},
                                        {"password", "correct horse 1"},
                                        {"name", "Robert'); DROP TABLE users;--"}});
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.body["user"]["name"], "Robert'); DROP TABLE users;--");
  EXPECT_EQ(count("users"), 1);
}

TEST_P(AuthServiceTest, LoginErrorsAreIdenticalForUnknownEmailAndWrongPassword) {
  ASSERT_EQ(signup().status, 201);
  auto ok = login();
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["user"]["email"], "alice@example.com");
  auto wrong = login("alice@example.com", "wrong password!");
  auto unknown = login("nobody@example.com", "wrong password!");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(error_code(wrong), "invalid_credentials");
  EXPECT_EQ(counter("auth_logins_total{result=\"success\"}"), 1);
  EXPECT_EQ(counter("auth_logins_total{result=\"invalid_credentials\"}"), 2);
  auto missing = call("POST", "/api/v1/auth/login", json{{"email", "alice@example.com"}}.dump());
  EXPECT_TRUE(has_field_error(missing, "password"));
}

TEST_P(AuthServiceTest, LoginIsThrottledPerAccount) {
  ASSERT_EQ(signup().status, 201);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(login("alice@example.com", "wrong password!").status, 401);
  }
  auto blocked = login();  // even the right password waits out the window
  EXPECT_EQ(blocked.status, 429);
  EXPECT_GE(blocked.retry_after, 1);
  EXPECT_LE(blocked.retry_after, 900);
  EXPECT_EQ(counter("auth_logins_total{result=\"throttled\"}"), 1);
  clock_->advance(901'000);
  EXPECT_EQ(login().status, 200);
}

TEST_P(AuthServiceTest, RefreshRotatesAndReuseRevokesTheFamily) {
  auto s = signup();
  ASSERT_EQ(s.status, 201);
  const std::string first = s.body["refreshToken"];
  auto r1 = post("/api/v1/auth/refresh", {{"refreshToken", first}});
  ASSERT_EQ(r1.status, 200) << r1.body.dump();
  const std::string second = r1.body["refreshToken"];
  EXPECT_NE(first, second);
  EXPECT_EQ(get("/api/v1/auth/me", r1.body["accessToken"]).status, 200);

  // The old token comes back: theft signal. The family (including `second`) is revoked.
  auto reuse = post("/api/v1/auth/refresh", {{"refreshToken", first}});
  EXPECT_EQ(reuse.status, 401);
  EXPECT_EQ(error_code(reuse), "refresh_token_reused");
  auto after = post("/api/v1/auth/refresh", {{"refreshToken", second}});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(error_code(after), "refresh_token_revoked");
  EXPECT_EQ(counter("auth_refresh_reuse_total"), 1);
  EXPECT_EQ(counter("auth_refreshes_total"), 1);

  // Another login (another family) is unaffected.
  auto other = login();
  ASSERT_EQ(other.status, 200);
  EXPECT_EQ(post("/api/v1/auth/refresh", {{"refreshToken", other.body["refreshToken"]}}).status, 200);
}

TEST_P(AuthServiceTest, ConcurrentUseOfOneRefreshTokenRotatesOnce) {
  auto s = signup();
  ASSERT_EQ(s.status, 201);
  const std::string token = s.body["refreshToken"];
  std::vector<std::thread> threads;
  std::vector<Reply> replies(4);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    threads.emplace_back([&, i] { replies[i] = post("/api/v1/auth/refresh", {{"refreshToken", token}}); });
  }
  for (auto& t : threads) {
    t.join();
  }
  int ok = 0;
  for (const auto& r : replies) {
    if (r.status == 200) {
      ++ok;
    } else {
      EXPECT_EQ(r.status, 401);
      const auto code = error_code(r);
      EXPECT_TRUE(code == "refresh_token_reused" || code == "refresh_token_revoked") << code;
    }
  }
  EXPECT_EQ(ok, 1);  // exactly one successor; every other use is reuse
  EXPECT_EQ(count("refresh_tokens"), 1 + ok);
}

TEST_P(AuthServiceTest, RefreshTokenExpiresAfterFourteenDays) {
  auto s = signup();
  clock_->advance(14LL * 86'400'000);
  auto r = post("/api/v1/auth/refresh", {{"refreshToken", s.body["refreshToken"]}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_code(r), "refresh_token_expired");
  EXPECT_EQ(error_code(post("/api/v1/auth/refresh", {{"refreshToken", "garbage"}})), "refresh_token_invalid");
  EXPECT_EQ(error_code(post("/api/v1/auth/refresh", {{"refreshToken", std::string(43, 'A')}})),
            "refresh_token_invalid");
  EXPECT_TRUE(has_field_error(post("/api/v1/auth/refresh", json::object()), "refreshToken"));
}

TEST_P(AuthServiceTest, LogoutAndLogoutEverywhere) {
  auto s = signup();
  auto l2 = login();
  auto l3 = login();
  ASSERT_EQ(l3.status, 200);
  EXPECT_EQ(post("/api/v1/auth/logout", {{"refreshToken", s.body["refreshToken"]}}).status, 204);
  EXPECT_EQ(error_code(post("/api/v1/auth/refresh", {{"refreshToken", s.body["refreshToken"]}})),
            "refresh_token_revoked");
  EXPECT_EQ(post("/api/v1/auth/logout", {{"refreshToken", "unknown"}}).status, 204);

  EXPECT_EQ(post("/api/v1/auth/logout-all", json::object()).status, 401);
  EXPECT_EQ(post("/api/v1/auth/logout-all", json::object(), l2.body["accessToken"]).status, 204);
  for (const auto* r : {&l2, &l3}) {
    EXPECT_EQ(error_code(post("/api/v1/auth/refresh", {{"refreshToken", r->body["refreshToken"]}})),
              "refresh_token_revoked");
  }
}

TEST_P(AuthServiceTest, PatchMe) {
  auto s = signup();
  const std::string t = s.body["accessToken"];
  auto patch = [&](const json& body) {
    return call("PATCH", "/api/v1/auth/me", body.dump(), {{"Authorization", "Bearer " + t}});
  };
  auto r = patch(
      {{"name", "  Alice Kim "}, {"profileImageUrl", "https://img.example.com/a.png"}, {"language", "en"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["name"], "Alice Kim");
  EXPECT_EQ(r.body["profileImageUrl"], "https://img.example.com/a.png");
  EXPECT_EQ(r.body["language"], "en");
  r = patch({{"profileImageUrl", nullptr}});
  EXPECT_TRUE(r.body["profileImageUrl"].is_null());
  EXPECT_EQ(r.body["name"], "Alice Kim");
  EXPECT_TRUE(has_field_error(patch({{"profileImageUrl", "javascript:alert(1)"}}), "profileImageUrl"));
  EXPECT_TRUE(has_field_error(patch({{"name", ""}}), "name"));
  EXPECT_TRUE(has_field_error(patch({{"name", nullptr}}), "name"));
  EXPECT_TRUE(has_field_error(patch({{"language", "xx"}}), "language"));
  EXPECT_EQ(call("PATCH", "/api/v1/auth/me", "{}").status, 401);
}

TEST_P(AuthServiceTest, ChangePasswordRevokesSessions) {
  auto s = signup();
  auto other = login();
  const std::string t = s.body["accessToken"];
  auto bad = post("/api/v1/auth/password",
                  {{"currentPassword", "not it at all"}, {"newPassword", "new password 2"}}, t);
  EXPECT_TRUE(has_field_error(bad, "currentPassword"));
  auto weak =
      post("/api/v1/auth/password", {{"currentPassword", "correct horse 1"}, {"newPassword", "short"}}, t);
  EXPECT_TRUE(has_field_error(weak, "newPassword"));
  auto ok = post("/api/v1/auth/password",
                 {{"currentPassword", "correct horse 1"}, {"newPassword", "new password 2"}}, t);
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(error_code(post("/api/v1/auth/refresh", {{"refreshToken", other.body["refreshToken"]}})),
            "refresh_token_revoked");
  EXPECT_EQ(post("/api/v1/auth/refresh", {{"refreshToken", ok.body["refreshToken"]}}).status, 200);
  EXPECT_EQ(login().status, 401);
  EXPECT_EQ(login("alice@example.com", "new password 2").status, 200);
}

TEST_P(AuthServiceTest, AccessTokenFailuresHaveTheirOwnCodes) {
  auto s = signup();
  const std::string t = s.body["accessToken"];
  EXPECT_EQ(error_code(call("GET", "/api/v1/auth/me")), "unauthorized");
  EXPECT_EQ(error_code(get("/api/v1/auth/me", "not.a.token")), "token_malformed");
  std::string tampered = t;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(error_code(get("/api/v1/auth/me", tampered)), "token_bad_signature");
  const auto d1 = t.find('.');
  const std::string none =
      base64url_encode(R"({"alg":"none","kid":"test1"})") + t.substr(d1, t.rfind('.') - d1) + ".";
  EXPECT_EQ(error_code(get("/api/v1/auth/me", none)), "token_unsupported_alg");
  // A client cannot plant the internal error header.
  auto spoof =
      call("GET", "/api/v1/auth/me", "", {{"Authorization", "Bearer " + t}, {"X-Tiketi-Auth-Error", "x"}});
  EXPECT_EQ(spoof.status, 200);
  clock_->advance(15 * 60 * 1000);
  auto expired = get("/api/v1/auth/me", t);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(error_code(expired), "token_expired");
}

TEST_P(AuthServiceTest, InternalUserLookupIsNotReachableThroughAProxy) {
  auto s = signup();
  const std::string id = s.body["user"]["id"];
  auto direct = call("GET", "/internal/v1/users/" + id, "", {}, "127.0.0.1");
  ASSERT_EQ(direct.status, 200) << direct.body.dump();
  EXPECT_EQ(direct.body["email"], "alice@example.com");
  EXPECT_EQ(direct.body["language"], "ko");
  EXPECT_EQ(call("GET", "/internal/v1/users/" + id, "", {}, "203.0.113.9").status, 404);
  EXPECT_EQ(call("GET", "/internal/v1/users/" + id, "", {{"X-Forwarded-For", "1.2.3.4"}}, "127.0.0.1").status,
            404);
  EXPECT_EQ(call("GET", "/internal/v1/users/nope", "", {}, "127.0.0.1").status, 404);
}

TEST_P(AuthServiceTest, CreateAdminFromTheCli) {
  auto result = loop_.run(create_admin(*db_, *clock_, "Root@Example.com", "admin password 1", "Root",
                                       Argon2Params{1, 8u * 1024 * 1024}));
  EXPECT_EQ(result, AdminCreateResult::created);
  auto l = login("root@example.com", "admin password 1");
  ASSERT_EQ(l.status, 200);
  EXPECT_EQ(l.body["user"]["role"], "admin");
  ASSERT_EQ(signup("user@example.com").status, 201);
  EXPECT_EQ(loop_.run(create_admin(*db_, *clock_, "user@example.com", "whatever pass 1", "U",
                                   Argon2Params{1, 8u * 1024 * 1024})),
            AdminCreateResult::promoted);
  EXPECT_EQ(login("user@example.com").body["user"]["role"], "admin");
  EXPECT_THROW(loop_.run(create_admin(*db_, *clock_, "bad", "admin password 1", "R")), std::invalid_argument);
  EXPECT_THROW(loop_.run(create_admin(*db_, *clock_, "ok@example.com", "short", "R")), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Engines, AuthServiceTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);

}  // namespace
}  // namespace tiketi::auth::testing

namespace tiketi::auth::testing {
namespace {

// Two replicas (separate service instances and connection pools on one database) see each
// other's rotations and revocations immediately.
TEST_P(AuthServiceTest, ReplicasShareRevocations) {
  auto db2 = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 2, 5000}));
  auto replica = app::make_auth_service();
  net::Router router2;
  replica->routes(router2);
  app::ServiceContext ctx2 = ctx_;
  ctx2.db = db2;
  loop_.run(replica->start(ctx2));
  auto on_b = [&](const std::string& path, const json& body) {
    return call("POST", path, body.dump(), {}, "203.0.113.7", &router2);
  };

  auto s = signup();  // replica A
  ASSERT_EQ(s.status, 201);
  auto r = on_b("/api/v1/auth/refresh", {{"refreshToken", s.body["refreshToken"]}});  // replica B
  ASSERT_EQ(r.status, 200) << r.body.dump();
  // The stolen original replayed on A: reuse is detected and B's successor dies with the family.
  EXPECT_EQ(error_code(post("/api/v1/auth/refresh", {{"refreshToken", s.body["refreshToken"]}})),
            "refresh_token_reused");
  EXPECT_EQ(error_code(on_b("/api/v1/auth/refresh", {{"refreshToken", r.body["refreshToken"]}})),
            "refresh_token_revoked");
  // Access tokens from one replica verify on the other (shared key).
  auto me = call("GET", "/api/v1/auth/me", "",
                 {{"Authorization", "Bearer " + r.body["accessToken"].get<std::string>()}});
  EXPECT_EQ(me.status, 200);
  loop_.run(replica->stop());
  db2->close();
}

}  // namespace
}  // namespace tiketi::auth::testing
