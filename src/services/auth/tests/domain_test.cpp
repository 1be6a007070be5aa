// Email normalisation, password policy and hashing, base64url, refresh-token rules.
#include <gtest/gtest.h>

#include <chrono>

#include "services/auth/domain/base64url.hpp"
#include "services/auth/domain/email.hpp"
#include "services/auth/domain/password.hpp"
#include "services/auth/domain/refresh_token.hpp"
#include "services/common/utf8.hpp"

namespace tiketi::auth {
namespace {

std::string email_ok(std::string_view raw) {
  auto r = normalize_email(raw);
  if (auto* e = std::get_if<EmailError>(&r)) {
    ADD_FAILURE() << "rejected " << raw << ": " << e->message;
    return {};
  }
  return std::get<std::string>(r);
}

bool email_rejected(std::string_view raw) { return std::holds_alternative<EmailError>(normalize_email(raw)); }

TEST(EmailTest, TrimsAndLowercases) {
  EXPECT_EQ(email_ok("  Alice.Smith+tix@Example.COM \n"), "alice.smith+tix@example.com");
  EXPECT_EQ(email_ok("a@b.co"), "a@b.co");
  EXPECT_EQ(email_ok("USER@SUB.DOMAIN.KR"), "user@sub.domain.kr");
}

TEST(EmailTest, RejectsBadSyntax) {
  for (const char* bad : {"",
                          "   ",
                          "plain",
                          "@example.com",
                          "a@",
                          "a@b",
                          "a@@b.com",
                          "a@b@c.com",
                          "a b@c.com",
                          "a@b .com",
                          ".a@b.com",
                          "a.@b.com",
                          "a..b@c.com",
                          "a@-b.com",
                          "a@b-.com",
                          "a@b..com",
                          "a@.b.com",
                          "a@b.com.",
                          "\"q\"@b.com",
                          "a@b_c.com",
                          "a\x01@b.com",
                          "' OR '1'='1@x.com",
                          "a@b.com; DROP TABLE users",
                          "한국@example.com",
                          "a@\xc3\x28.com"}) {
    EXPECT_TRUE(email_rejected(bad)) << bad;
  }
}

TEST(EmailTest, LengthLimits) {
  const std::string local(64, 'a');
  const std::string domain =
      std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(58, 'd') + ".kr";
  const std::string max_len = local + "@" + domain;
  ASSERT_EQ(max_len.size(), 254u);
  EXPECT_EQ(email_ok(max_len), max_len);
  EXPECT_TRUE(email_rejected(local + "a@example.com"));  // local part 65
  EXPECT_TRUE(email_rejected(local + "@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                             std::string(59, 'd') + ".kr"));  // 255
  auto r = normalize_email(std::string(1'000'000, 'a') + "@example.com");
  ASSERT_TRUE(std::holds_alternative<EmailError>(r));
  EXPECT_EQ(std::get<EmailError>(r).message, "must be at most 254 characters");
}

TEST(PasswordPolicyTest, LengthInCodePoints) {
  EXPECT_TRUE(check_password_policy("123456789").has_value());
  EXPECT_FALSE(check_password_policy("1234567890").has_value());
  EXPECT_EQ(*check_password_policy("short"), "must be at least 10 characters");
  // Ten Hangul syllables (30 bytes) are ten characters; nine are not enough.
  std::string hangul;
  for (int i = 0; i < 9; ++i) {
    hangul += "\xea\xb0\x80";
  }
  EXPECT_TRUE(check_password_policy(hangul).has_value());
  hangul += "\xea\xb0\x80";
  EXPECT_FALSE(check_password_policy(hangul).has_value());
  EXPECT_FALSE(check_password_policy(std::string(1024, 'x')).has_value());
  EXPECT_TRUE(check_password_policy(std::string(1025, 'x')).has_value());
  EXPECT_EQ(*check_password_policy("0123456789\xc3\x28"), "must be valid UTF-8 text");
}

TEST(Utf8Test, Strict) {
  EXPECT_TRUE(common::is_valid_utf8("plain ascii"));
  EXPECT_TRUE(common::is_valid_utf8("\xed\x95\x9c\xea\xb8\x80"));  // 한글
  EXPECT_TRUE(common::is_valid_utf8("\xf0\x9f\x8e\xab"));          // 🎫
  EXPECT_FALSE(common::is_valid_utf8("\xc0\xaf"));                 // overlong '/'
  EXPECT_FALSE(common::is_valid_utf8("\xed\xa0\x80"));             // surrogate
  EXPECT_FALSE(common::is_valid_utf8("\xf4\x90\x80\x80"));         // > U+10FFFF
  EXPECT_FALSE(common::is_valid_utf8("\xe2\x82"));                 // truncated
  EXPECT_FALSE(common::is_valid_utf8("\x80"));
  EXPECT_EQ(common::utf8_length("a\xed\x95\x9c\xf0\x9f\x8e\xab"), 3u);
}

// Small parameters keep the test fast; the production defaults are measured in BENCHMARKS.md.
Argon2Params fast_params() { return Argon2Params{1, 8u * 1024 * 1024}; }

TEST(PasswordHasherTest, HashAndVerify) {
  PasswordHasher h(fast_params());
  const auto stored = h.hash("correct horse battery");
  EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u) << stored;
  EXPECT_TRUE(h.verify(stored, "correct horse battery"));
  EXPECT_FALSE(h.verify(stored, "correct horse batterY"));
  EXPECT_FALSE(h.verify("", "x"));
  EXPECT_FALSE(h.verify("garbage", "x"));
  EXPECT_NE(h.hash("same password"), h.hash("same password"));  // salted
  EXPECT_FALSE(h.dummy_verify("anything at all"));
}

TEST(PasswordHasherTest, RehashWhenParametersChange) {
  PasswordHasher weak(fast_params());
  PasswordHasher stronger(Argon2Params{2, 8u * 1024 * 1024});
  const auto stored = weak.hash("0123456789");
  EXPECT_FALSE(weak.needs_rehash(stored));
  EXPECT_TRUE(stronger.needs_rehash(stored));
  EXPECT_TRUE(stronger.verify(stored, "0123456789"));  // old hashes keep working
}

TEST(PasswordHasherTest, RejectsParametersOutOfRange) {
  EXPECT_THROW(PasswordHasher(Argon2Params{0, 64u << 20}), std::invalid_argument);
  EXPECT_THROW(PasswordHasher(Argon2Params{2, 1024}), std::invalid_argument);
}

TEST(Base64UrlTest, RoundTripAndStrictness) {
  for (std::string s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("foob"), std::string("\xff\xfe\x00\x01", 4)}) {
    EXPECT_EQ(*base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("Zg==").has_value());  // padding
  EXPECT_FALSE(base64url_decode("Z").has_value());     // impossible length
  EXPECT_FALSE(base64url_decode("Zh").has_value());    // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("a+b/").has_value());  // standard alphabet
}

TEST(RefreshTokenTest, GeneratedTokensAreRandomAndHashed) {
  const auto a = generate_refresh_token();
  const auto b = generate_refresh_token();
  EXPECT_EQ(a.token.size(), 43u);
  EXPECT_NE(a.token, b.token);
  EXPECT_EQ(a.hash.size(), 64u);
  EXPECT_EQ(hash_refresh_token(a.token), a.hash);
  EXPECT_EQ(a.hash.find(a.token), std::string::npos);
  EXPECT_FALSE(hash_refresh_token("").has_value());
  EXPECT_FALSE(hash_refresh_token(a.token + "A").has_value());
  EXPECT_FALSE(hash_refresh_token(std::string(43, '!')).has_value());
  EXPECT_FALSE(hash_refresh_token("' OR 1=1 --").has_value());
}

TEST(RefreshTokenTest, Decisions) {
  const Millis now = 1'700'000'000'000;
  StoredRefreshToken t{"id", "fam", "user", now + kRefreshTokenLifetimeMs, std::nullopt, std::nullopt};
  EXPECT_EQ(decide_refresh(t, now), RefreshDecision::rotate);
  EXPECT_EQ(decide_refresh(t, now + kRefreshTokenLifetimeMs - 1), RefreshDecision::rotate);
  EXPECT_EQ(decide_refresh(t, now + kRefreshTokenLifetimeMs), RefreshDecision::expired);
  t.revoked_at = now;
  EXPECT_EQ(decide_refresh(t, now), RefreshDecision::revoked);
  t.rotated_at = now;
  EXPECT_EQ(decide_refresh(t, now), RefreshDecision::reuse);  // reuse wins over revoked
  t.revoked_at.reset();
  EXPECT_EQ(decide_refresh(t, now + kRefreshTokenLifetimeMs + 1), RefreshDecision::reuse);
  EXPECT_EQ(kRefreshTokenLifetimeMs, 14LL * 86'400'000);
}

}  // namespace
}  // namespace tiketi::auth
