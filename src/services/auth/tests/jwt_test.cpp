#include "services/auth/domain/jwt.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>
#include <set>

#include "services/auth/domain/base64url.hpp"

namespace tiketi::auth {
namespace {

using json = nlohmann::json;

const JwtKey kKey1{"k1", "0123456789abcdef0123456789abcdef-one"};
const JwtKey kKey2{"k2", "0123456789abcdef0123456789abcdef-two"};

// Independent HS256 (libsodium) so tests can forge arbitrary headers and payloads.
std::string hs256(const std::string& secret, const std::string& data) {
  crypto_auth_hmacsha256_state st;
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string forge(const json& header, const json& payload, const std::string& secret) {
  std::string hp = base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
  return hp + "." + base64url_encode(hs256(secret, hp));
}

class JwtTest : public ::testing::Test {
 protected:
  ManualClock clock_{1'700'000'000'000};
  JwtCodec codec_{kKey1};
  json header_ = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "k1"}};
  json payload_ = {
      {"sub", "u1"}, {"role", "user"}, {"iat", 1'700'000'000}, {"exp", 1'700'000'900}, {"jti", "j1"}};

  JwtError verify(const std::string& token) const { return codec_.verify(token, clock_.now_ms()).error; }
};

TEST_F(JwtTest, SignVerifyRoundTrip) {
  const auto claims = codec_.claims_for("user-1", "admin", clock_);
  EXPECT_EQ(claims.exp - claims.iat, 900);
  const auto token = codec_.sign(claims);
  const auto r = codec_.verify(token, clock_.now_ms());
  ASSERT_TRUE(r.ok()) << jwt_error_code(r.error);
  EXPECT_EQ(r.claims.sub, "user-1");
  EXPECT_EQ(r.claims.role, "admin");
  EXPECT_EQ(r.claims.jti, claims.jti);
  EXPECT_EQ(r.claims.exp, 1'700'000'900);
}

TEST_F(JwtTest, HeaderCarriesKidAndMatchesIndependentHmac) {
  const auto token = codec_.sign(codec_.claims_for("u", "user", clock_));
  const auto d1 = token.find('.');
  const auto d2 = token.rfind('.');
  const auto header = json::parse(*base64url_decode(token.substr(0, d1)));
  EXPECT_EQ(header["alg"], "HS256");
  EXPECT_EQ(header["kid"], "k1");
  EXPECT_EQ(*base64url_decode(token.substr(d2 + 1)), hs256(kKey1.secret, token.substr(0, d2)));
}

TEST_F(JwtTest, ForgedButCorrectTokenVerifies) {
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::none);
}

TEST_F(JwtTest, JtiIsRandom) {
  EXPECT_NE(codec_.claims_for("u", "user", clock_).jti, codec_.claims_for("u", "user", clock_).jti);
}

TEST_F(JwtTest, ExpiryBoundary) {
  const auto token = codec_.sign(codec_.claims_for("u", "user", clock_));
  clock_.advance(kAccessTokenLifetimeSeconds * 1000 - 1);
  EXPECT_EQ(verify(token), JwtError::none);
  clock_.advance(1);
  EXPECT_EQ(verify(token), JwtError::expired);
  EXPECT_EQ(jwt_error_code(JwtError::expired), "token_expired");
}

TEST_F(JwtTest, NotBeforeInTheFuture) {
  payload_["nbf"] = 1'700'000'010;
  const auto token = forge(header_, payload_, kKey1.secret);
  EXPECT_EQ(verify(token), JwtError::not_yet_valid);
  clock_.advance(10'000);
  EXPECT_EQ(verify(token), JwtError::none);
}

TEST_F(JwtTest, AlgNoneIsRejected) {
  header_["alg"] = "none";
  std::string unsigned_token =
      base64url_encode(header_.dump()) + "." + base64url_encode(payload_.dump()) + ".";
  EXPECT_EQ(verify(unsigned_token), JwtError::unsupported_alg);
  // Even with a valid HMAC attached, "none" is never honoured.
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unsupported_alg);
}

TEST_F(JwtTest, OtherAlgorithmsAreRejected) {
  for (const char* alg : {"HS512", "RS256", "hs256", "ES256", ""}) {
    header_["alg"] = alg;
    EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unsupported_alg) << alg;
  }
  header_.erase("alg");
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unsupported_alg);
  header_["alg"] = 256;
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unsupported_alg);
}

TEST_F(JwtTest, BadSignature) {
  EXPECT_EQ(verify(forge(header_, payload_, "some-other-secret-of-enough-length!!")),
            JwtError::bad_signature);
  // Tampered payload keeps the original signature.
  auto token = forge(header_, payload_, kKey1.secret);
  auto evil = payload_;
  evil["role"] = "admin";
  const auto d1 = token.find('.');
  const auto d2 = token.rfind('.');
  const auto tampered = token.substr(0, d1 + 1) + base64url_encode(evil.dump()) + token.substr(d2);
  EXPECT_EQ(verify(tampered), JwtError::bad_signature);
  // Truncated signature.
  EXPECT_EQ(verify(token.substr(0, token.size() - 3)), JwtError::bad_signature);
}

TEST_F(JwtTest, UnknownOrMissingKid) {
  header_["kid"] = "k9";
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unknown_kid);
  header_.erase("kid");
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unknown_kid);
  header_["kid"] = 1;
  EXPECT_EQ(verify(forge(header_, payload_, kKey1.secret)), JwtError::unknown_kid);
}

TEST_F(JwtTest, KeyRotationAcceptsPreviousKeyOnly) {
  JwtCodec old_codec(kKey1);
  const auto old_token = old_codec.sign(old_codec.claims_for("u", "user", clock_));

  JwtCodec rotated(kKey2, kKey1);
  EXPECT_TRUE(rotated.verify(old_token, clock_.now_ms()).ok());
  const auto new_token = rotated.sign(rotated.claims_for("u", "user", clock_));
  EXPECT_NE(new_token.find('.'), std::string::npos);
  EXPECT_TRUE(rotated.verify(new_token, clock_.now_ms()).ok());
  // Old replicas (still on k1 only) do not know k2 yet.
  EXPECT_EQ(old_codec.verify(new_token, clock_.now_ms()).error, JwtError::unknown_kid);

  // After the next rotation k1 is gone.
  JwtCodec next(JwtKey{"k3", "0123456789abcdef0123456789abcdef-three"}, kKey2);
  EXPECT_EQ(next.verify(old_token, clock_.now_ms()).error, JwtError::unknown_kid);
  EXPECT_TRUE(next.verify(new_token, clock_.now_ms()).ok());

  // Previous key with the current key's kid but another secret cannot impersonate it.
  header_["kid"] = "k1";
  EXPECT_EQ(rotated.verify(forge(header_, payload_, kKey2.secret), clock_.now_ms()).error,
            JwtError::bad_signature);
}

TEST_F(JwtTest, MalformedTokens) {
  const std::string good = forge(header_, payload_, kKey1.secret);
  for (const std::string& t :
       {std::string(), std::string("abc"), std::string("a.b"), good + ".x", std::string(".."),
        std::string("!!!.") + good.substr(good.find('.') + 1), std::string(kMaxTokenLength + 1, 'a'),
        base64url_encode("not json") + good.substr(good.find('.')),
        base64url_encode("[1,2]") + good.substr(good.find('.')),
        std::string("eyJhbGciOiJIUzI1NiJ9=") + good.substr(good.find('.'))}) {
    EXPECT_EQ(verify(t), JwtError::malformed) << t.substr(0, 60);
  }
  // Signature part that is not base64url.
  EXPECT_EQ(verify(good.substr(0, good.rfind('.') + 1) + "*&^"), JwtError::malformed);
  // A correctly signed payload that is not JSON.
  const std::string hp = base64url_encode(header_.dump()) + "." + base64url_encode("\xff\xfe garbage");
  EXPECT_EQ(verify(hp + "." + base64url_encode(hs256(kKey1.secret, hp))), JwtError::malformed);
  // Invalid UTF-8 inside a JSON string.
  const std::string hp2 = base64url_encode(header_.dump()) + "." + base64url_encode("{\"sub\":\"\xc3\x28\"}");
  EXPECT_EQ(verify(hp2 + "." + base64url_encode(hs256(kKey1.secret, hp2))), JwtError::malformed);
}

TEST_F(JwtTest, InvalidClaims) {
  for (const char* missing : {"sub", "role", "exp", "iat", "jti"}) {
    auto p = payload_;
    p.erase(missing);
    EXPECT_EQ(verify(forge(header_, p, kKey1.secret)), JwtError::invalid_claims) << missing;
  }
  auto p = payload_;
  p["exp"] = "1700000900";
  EXPECT_EQ(verify(forge(header_, p, kKey1.secret)), JwtError::invalid_claims);
  p["exp"] = 1.7e9;
  EXPECT_EQ(verify(forge(header_, p, kKey1.secret)), JwtError::invalid_claims);
  p = payload_;
  p["sub"] = "";
  EXPECT_EQ(verify(forge(header_, p, kKey1.secret)), JwtError::invalid_claims);
  p = payload_;
  p["nbf"] = "soon";
  EXPECT_EQ(verify(forge(header_, p, kKey1.secret)), JwtError::invalid_claims);
  p = payload_;
  p["exp"] = 18446744073709551615ULL;
  EXPECT_EQ(verify(forge(header_, p, kKey1.secret)), JwtError::invalid_claims);
}

TEST_F(JwtTest, ErrorCodesAreDistinct) {
  std::set<std::string_view> codes;
  for (auto e :
       {JwtError::malformed, JwtError::unsupported_alg, JwtError::unknown_kid, JwtError::bad_signature,
        JwtError::expired, JwtError::not_yet_valid, JwtError::invalid_claims}) {
    EXPECT_TRUE(codes.insert(jwt_error_code(e)).second) << jwt_error_code(e);
    EXPECT_FALSE(jwt_error_message(e).empty());
  }
  EXPECT_EQ(jwt_error_code(JwtError::invalid_claims), "token_invalid");
}

TEST(JwtCodecTest, RejectsBadKeys) {
  EXPECT_THROW(JwtCodec(JwtKey{"", "secret"}), std::invalid_argument);
  EXPECT_THROW(JwtCodec(JwtKey{"k", ""}), std::invalid_argument);
  EXPECT_THROW(JwtCodec(kKey1, JwtKey{"k1", "other"}), std::invalid_argument);
}

}  // namespace
}  // namespace tiketi::auth
