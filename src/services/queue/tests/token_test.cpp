// Admission tokens: round trip, tampering, expiry, binding to user and event, and compatibility
// with the reservation service's verifier (the two sides of docs/admission-token.md).
#include <gtest/gtest.h>

#include "core/config.hpp"
#include "services/auth/domain/base64url.hpp"
#include "services/queue/token/admission_token.hpp"
#include "services/reservation/domain/admission.hpp"

namespace tiketi::queue {
namespace {

const std::string kKey(32, 'k');
constexpr Millis kNow = 1'700'000'000'000;

AdmissionClaims claims() { return {"user-1", "event-1", kNow + 60'000, "jti-0123456789abcdef"}; }

TEST(AdmissionToken, RoundTrip) {
  AdmissionTokenCodec codec(kKey);
  auto t = codec.issue(claims());
  EXPECT_EQ(codec.verify(t, "user-1", "event-1", kNow), std::nullopt);
  auto c = codec.decode(t);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_id, "user-1");
  EXPECT_EQ(c->event_id, "event-1");
  EXPECT_EQ(c->expires_at, kNow + 60'000);
  EXPECT_EQ(c->jti, "jti-0123456789abcdef");
}

TEST(AdmissionToken, RefusesOtherUsersEventsExpiredAndForged) {
  AdmissionTokenCodec codec(kKey);
  auto t = codec.issue(claims());
  EXPECT_EQ(codec.verify(t, "user-2", "event-1", kNow), TokenError::wrong_user) << "tokens cannot be shared";
  EXPECT_EQ(codec.verify(t, "user-1", "event-2", kNow), TokenError::wrong_event);
  EXPECT_EQ(codec.verify(t, "user-1", "event-1", kNow + 60'000), TokenError::expired);
  EXPECT_EQ(codec.verify("", "user-1", "event-1", kNow), TokenError::missing);
  EXPECT_EQ(codec.verify("garbage", "user-1", "event-1", kNow), TokenError::malformed);
  EXPECT_EQ(codec.verify(std::string(5'000, 'a') + ".b", "user-1", "event-1", kNow), TokenError::malformed);

  // Another key: forged.
  AdmissionTokenCodec other(std::string(32, 'x'));
  EXPECT_EQ(codec.verify(other.issue(claims()), "user-1", "event-1", kNow), TokenError::bad_signature);

  // Payload swapped for another user's with the original signature.
  auto dot = t.find('.');
  auto forged =
      auth::base64url_encode("v1|user-2|event-1|" + std::to_string(kNow + 60'000) + "|jti") + t.substr(dot);
  EXPECT_EQ(codec.verify(forged, "user-2", "event-1", kNow), TokenError::bad_signature);
  // Extended expiry with the original signature.
  auto longer = auth::base64url_encode("v1|user-1|event-1|" + std::to_string(kNow + 999'999'999) +
                                       "|jti-0123456789abcdef") +
                t.substr(dot);
  EXPECT_EQ(codec.verify(longer, "user-1", "event-1", kNow), TokenError::bad_signature);
  EXPECT_EQ(codec.decode(longer), std::nullopt);
}

TEST(AdmissionToken, ClaimsCannotSmuggleSeparators) {
  AdmissionTokenCodec codec(kKey);
  auto c = claims();
  c.user_id = "user-1|event-9";
  EXPECT_THROW(codec.issue(c), std::invalid_argument);
}

TEST(AdmissionToken, TheReservationServiceAcceptsOurTokens) {
  AdmissionTokenCodec codec(kKey);
  reservation::HmacAdmissionVerifier verifier(kKey);
  auto t = codec.issue(claims());
  EXPECT_EQ(verifier.verify(t, "user-1", "event-1", kNow), std::nullopt);
  EXPECT_EQ(verifier.verify(t, "user-2", "event-1", kNow), reservation::AdmissionError::wrong_user);
  // And the other way round.
  reservation::Admission a{"user-1", "event-1", kNow + 1'000, "jti-abcdefghijklmnop"};
  EXPECT_EQ(codec.verify(verifier.issue(a), "user-1", "event-1", kNow), std::nullopt);
}

TEST(AdmissionToken, KeyFromConfig) {
  Config c;
  c.extra["queue.admission_secret"] = "short";
  EXPECT_THROW(admission_key_from_config(c), std::invalid_argument);
  c.extra["queue.admission_secret"] = kKey;
  EXPECT_EQ(admission_key_from_config(c), kKey);
  // Without one, both services derive the same key from the JWT secret.
  Config d;
  d.extra["auth.jwt_secret"] = std::string(40, 's');
  auto k1 = admission_key_from_config(d);
  EXPECT_EQ(k1.size(), 32u);
  EXPECT_NE(k1, d.extra["auth.jwt_secret"]);
  EXPECT_EQ(admission_key_from_config(d), k1);
}

}  // namespace
}  // namespace tiketi::queue
