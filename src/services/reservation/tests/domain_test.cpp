#include <gtest/gtest.h>

#include <numeric>

#include "services/reservation/domain/admission.hpp"
#include "services/reservation/domain/model.hpp"
#include "services/reservation/domain/qr.hpp"
#include "services/reservation/storage/sql.hpp"

namespace tiketi::reservation {
namespace {

TEST(StripeCaps, SumToTheQuotaExactly) {
  for (std::int64_t quota : {0, 1, 7, 16, 500, 50'001}) {
    auto caps = stripe_caps(quota, 16);
    EXPECT_EQ(std::accumulate(caps.begin(), caps.end(), std::int64_t{0}), quota);
    EXPECT_LE(caps.size(), 16u);
    EXPECT_GE(caps.size(), 1u);
    EXPECT_LE(*std::max_element(caps.begin(), caps.end()) - *std::min_element(caps.begin(), caps.end()), 1);
  }
  EXPECT_EQ(stripe_caps(3, 16).size(), 3u);  // never a stripe with cap 0 when avoidable
}

TEST(Admission, RoundTripAndEveryRefusal) {
  HmacAdmissionVerifier v("k-0123456789abcdef0123456789abcdef");
  const auto t = v.issue({"u1", "e1", 2'000, "jti"});
  EXPECT_FALSE(v.verify(t, "u1", "e1", 1'999));
  EXPECT_EQ(v.verify(t, "u1", "e1", 2'000), AdmissionError::expired);
  EXPECT_EQ(v.verify(t, "u2", "e1", 1'000), AdmissionError::wrong_user);
  EXPECT_EQ(v.verify(t, "u1", "e2", 1'000), AdmissionError::wrong_event);
  EXPECT_EQ(v.verify("", "u1", "e1", 1'000), AdmissionError::missing);
  EXPECT_EQ(v.verify("abc", "u1", "e1", 1'000), AdmissionError::malformed);
  std::string tampered = t;
  tampered[2] = tampered[2] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(v.verify(tampered, "u1", "e1", 1'000).has_value());
}

TEST(Qr, RendersAnSvgWithDarkModules) {
  const auto svg = qr_svg("TICKET-CODE-123");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("viewBox=\"0 0 29 29\""), std::string::npos);  // version 1: 21 + 2*4 quiet
  EXPECT_NE(svg.find("M4 4h7"), std::string::npos);                 // top-left finder pattern
}

TEST(Sql, PlaceholdersForSeatLists) {
  EXPECT_EQ(sql::placeholders(5, 3), "$5, $6, $7");
  EXPECT_NE(sql::hold_seats(2).find("seat_id IN ($5, $6)"), std::string::npos);
  EXPECT_NE(sql::insert_items(2).find("($1, $9, $10"), std::string::npos);
}

TEST(RequestHash, DependsOnEveryField) {
  SeatHold a{"u", "e", {"A", "B"}, std::nullopt};
  SeatHold b{"u", "e", {"A", "C"}, std::nullopt};
  EXPECT_NE(request_hash(a), request_hash(b));
  EXPECT_NE(request_hash(QuotaHold{"u", "e", "t", 1, {}}), request_hash(QuotaHold{"u", "e", "t", 2, {}}));
}

}  // namespace
}  // namespace tiketi::reservation
