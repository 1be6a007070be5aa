// Pure domain logic: validation, the seating-plan generator, status automation, cursors and the
// list query. These need nothing but src/core.
#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "services/event/domain/cursor.hpp"
#include "services/event/domain/list_query.hpp"
#include "services/event/domain/seating.hpp"
#include "services/event/domain/status.hpp"
#include "services/event/domain/validation.hpp"

namespace tiketi::event {
namespace {

constexpr Millis kHour = 3'600'000;

Event valid_event(Millis now) {
  Event e;
  e.id = "e1";
  e.title = "IU Concert";
  e.category = "concert";
  e.sale_start = now + kHour;
  e.sale_end = now + 10 * kHour;
  e.performance_start = now + 20 * kHour;
  e.performance_end = now + 23 * kHour;
  e.status = EventStatus::scheduled;
  return e;
}

bool has_field(const std::vector<FieldError>& errs, const std::string& field) {
  for (const auto& e : errs) {
    if (e.field == field) {
      return true;
    }
  }
  return false;
}

TEST(EventValidation, AcceptsAValidEvent) { EXPECT_TRUE(validate_event(valid_event(1'000'000)).empty()); }

TEST(EventValidation, SaleEndMustBeAfterSaleStart) {
  auto e = valid_event(1'000'000);
  e.sale_end = e.sale_start;
  EXPECT_TRUE(has_field(validate_event(e), "sale_end"));
  e.sale_end = e.sale_start - 1;
  EXPECT_TRUE(has_field(validate_event(e), "sale_end"));
}

TEST(EventValidation, PerformanceMustBeAfterSaleStart) {
  auto e = valid_event(1'000'000);
  e.performance_start = e.sale_start - kHour;
  EXPECT_TRUE(has_field(validate_event(e), "performance_start"));
}

TEST(EventValidation, PerUserLimitIsOneToTwenty) {
  auto e = valid_event(1'000'000);
  for (std::int64_t bad : {0, -1, 21, 1000}) {
    e.per_user_limit = bad;
    EXPECT_TRUE(has_field(validate_event(e), "per_user_limit")) << bad;
  }
  for (std::int64_t ok : {1, 4, 20}) {
    e.per_user_limit = ok;
    EXPECT_FALSE(has_field(validate_event(e), "per_user_limit")) << ok;
  }
}

TEST(EventValidation, UnknownCategoryIsRefused) {
  auto e = valid_event(1'000'000);
  e.category = "karaoke";
  EXPECT_TRUE(has_field(validate_event(e), "category"));
}

TEST(TicketTypeValidation, PricesAreNonNegativeIntegers) {
  TicketType t{"t", "e", "VIP", TicketKind::seated, "VIP", std::nullopt, -1, 0};
  EXPECT_TRUE(has_field(validate_ticket_type(t), "price"));
  t.price = 0;  // free tickets are allowed
  EXPECT_TRUE(validate_ticket_type(t).empty());
  t.price = kMaxPrice + 1;
  EXPECT_TRUE(has_field(validate_ticket_type(t), "price"));
}

TEST(TicketTypeValidation, GeneralAdmissionNeedsAQuotaAndNoCategory) {
  TicketType t{"t", "e", "Standing", TicketKind::general_admission, "", std::nullopt, 99'000, 0};
  EXPECT_TRUE(has_field(validate_ticket_type(t), "quota"));
  t.quota = 0;
  EXPECT_TRUE(has_field(validate_ticket_type(t), "quota"));
  t.quota = 500;
  EXPECT_TRUE(validate_ticket_type(t).empty());
  t.category = "VIP";
  EXPECT_TRUE(has_field(validate_ticket_type(t), "category"));
}

PlanSpec small_spec() {
  PlanSpec s;
  s.categories = {{"VIP", "VIP", "#ff0000"}, {"R", "R석", "#00ff00"}};
  SectionSpec a;
  a.code = "A";
  a.name = "1층 A구역";
  a.rows = 3;
  a.seats_per_row = 4;
  a.x = 100;
  a.y = 50;
  a.categories = {{1, 1, "VIP"}, {2, 3, "R"}};
  s.sections.push_back(a);
  return s;
}

TEST(SeatingGenerator, GeneratesSectionsRowsSeatsWithCategoriesAndCoordinates) {
  auto plan = generate_plan("e1", small_spec());
  ASSERT_EQ(plan.seats.size(), 12u);
  EXPECT_EQ(plan.seats[0].id, "A-1-1");
  EXPECT_EQ(plan.seats[0].category, "VIP");
  EXPECT_EQ(plan.seats[0].x, 100);
  EXPECT_EQ(plan.seats[0].y, 50);
  EXPECT_EQ(plan.seats[3].id, "A-1-4");
  EXPECT_EQ(plan.seats[3].x, 100 + 3 * kSeatPitch);
  EXPECT_EQ(plan.seats[4].id, "A-2-1");
  EXPECT_EQ(plan.seats[4].category, "R");
  EXPECT_EQ(plan.seats[4].y, 50 + kSeatPitch);
  EXPECT_EQ(plan.seats[11].id, "A-3-4");
  ASSERT_EQ(plan.sections.size(), 1u);
  EXPECT_EQ(plan.sections[0].name, "1층 A구역");
}

TEST(SeatingGenerator, AlphaRowLabels) {
  EXPECT_EQ(row_label(RowLabels::alpha, 1), "A");
  EXPECT_EQ(row_label(RowLabels::alpha, 26), "Z");
  EXPECT_EQ(row_label(RowLabels::alpha, 27), "AA");
  EXPECT_EQ(row_label(RowLabels::alpha, 52), "AZ");
  EXPECT_EQ(row_label(RowLabels::numeric, 12), "12");
}

TEST(SeatingGenerator, RefusesMoreThanOneHundredThousandSeats) {
  PlanSpec s;
  s.categories = {{"R", "R", ""}};
  for (int i = 0; i < 100; ++i) {  // 100 x 500 x 1000 = 50M asked for
    SectionSpec sec;
    sec.code = std::string("S").append(std::to_string(i));
    sec.rows = 500;
    sec.seats_per_row = 1000;
    sec.categories = {{1, 500, "R"}};
    s.sections.push_back(sec);
  }
  try {
    generate_plan("e1", s);
    FAIL() << "expected seating_plan_too_large";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "seating_plan_too_large");
  }
  // Exactly the limit is fine.
  s.sections.resize(1);
  s.sections[0].rows = 100;
  s.sections[0].seats_per_row = 1000;
  s.sections[0].categories = {{1, 100, "R"}};
  EXPECT_EQ(generate_plan("e1", s).seats.size(), 100'000u);
  s.sections[0].rows = 101;
  s.sections[0].categories = {{1, 101, "R"}};
  EXPECT_THROW(generate_plan("e1", s), ApiError);
}

TEST(SeatingGenerator, AbsurdDimensionsAreFieldErrorsNotAllocations) {
  auto s = small_spec();
  s.sections[0].rows = 1'000'000'000;
  s.sections[0].seats_per_row = 1'000'000'000;
  auto errs = validate_plan_spec(s);
  EXPECT_TRUE(has_field(errs, "sections[0].rows"));
  EXPECT_TRUE(has_field(errs, "sections[0].seats_per_row"));
  EXPECT_THROW(generate_plan("e1", s), ApiError);
}

TEST(SeatingGenerator, EveryRowNeedsExactlyOneCategory) {
  auto s = small_spec();
  s.sections[0].categories = {{1, 1, "VIP"}};  // rows 2-3 uncovered
  EXPECT_TRUE(has_field(validate_plan_spec(s), "sections[0].categories"));
  s.sections[0].categories = {{1, 2, "VIP"}, {2, 3, "R"}};  // row 2 twice
  EXPECT_TRUE(has_field(validate_plan_spec(s), "sections[0].categories"));
  s.sections[0].categories = {{1, 3, "GOLD"}};  // undefined category
  EXPECT_TRUE(has_field(validate_plan_spec(s), "sections[0].categories[0].category"));
  s.sections[0].categories = {{0, 3, "R"}};
  EXPECT_TRUE(has_field(validate_plan_spec(s), "sections[0].categories[0]"));
}

TEST(SeatingGenerator, SectionCodesAreSafeAndUnique) {
  auto s = small_spec();
  s.sections.push_back(s.sections[0]);
  EXPECT_TRUE(has_field(validate_plan_spec(s), "sections[1].code"));
  s.sections.pop_back();
  s.sections[0].code = "../x";
  EXPECT_TRUE(has_field(validate_plan_spec(s), "sections[0].code"));
}

TEST(PublishValidation, CategoriesAndTicketTypesMustMatch) {
  const Millis now = 1'000'000;
  auto e = valid_event(now);
  e.status = EventStatus::draft;
  auto plan = generate_plan("e1", small_spec());
  std::vector<TicketType> types{{"t1", "e1", "VIP", TicketKind::seated, "VIP", std::nullopt, 150'000, 0}};
  PublishCheck c{&e, true, &types, &plan, now};
  EXPECT_TRUE(has_field(validate_publish(c), "seating"));  // R seats without a ticket type
  types.push_back({"t2", "e1", "R", TicketKind::seated, "R", std::nullopt, 99'000, 1});
  EXPECT_TRUE(validate_publish(c).empty());
  c.venue_exists = false;
  EXPECT_TRUE(has_field(validate_publish(c), "venue_id"));
  c.venue_exists = true;
  c.now = e.sale_end + 1;  // the sale would already be over
  EXPECT_TRUE(has_field(validate_publish(c), "sale_end"));
  c.now = now;
  e.status = EventStatus::on_sale;
  EXPECT_TRUE(has_field(validate_publish(c), "status"));
}

TEST(PublishValidation, GeneralAdmissionNeedsNoPlan) {
  const Millis now = 1'000'000;
  auto e = valid_event(now);
  e.status = EventStatus::draft;
  std::vector<TicketType> types{{"t1", "e1", "Standing", TicketKind::general_admission, "", 3000, 88'000, 0}};
  PublishCheck c{&e, true, &types, nullptr, now};
  EXPECT_TRUE(validate_publish(c).empty());
  types.clear();
  EXPECT_TRUE(has_field(validate_publish(c), "ticket_types"));
}

TEST(StatusAutomation, FollowsTheClock) {
  ManualClock clock(1'000'000);
  auto e = valid_event(clock.now_ms());
  EXPECT_FALSE(due_transition(e, clock.now_ms()));
  EXPECT_EQ(next_transition_at(e), e.sale_start);

  clock.set(e.sale_start - 1);
  EXPECT_FALSE(due_transition(e, clock.now_ms()));
  clock.set(e.sale_start);
  auto t = due_transition(e, clock.now_ms());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, EventStatus::scheduled);
  EXPECT_EQ(t->to, EventStatus::on_sale);
  e.status = t->to;
  EXPECT_EQ(next_transition_at(e), e.sale_end);

  clock.set(e.sale_end);
  EXPECT_EQ(due_status(e, clock.now_ms()), EventStatus::closed);
  e.status = EventStatus::closed;
  EXPECT_EQ(next_transition_at(e), e.performance_end);

  clock.set(e.performance_end);
  EXPECT_EQ(due_status(e, clock.now_ms()), EventStatus::ended);
  e.status = EventStatus::ended;
  EXPECT_FALSE(next_transition_at(e));
  EXPECT_FALSE(due_transition(e, clock.now_ms() + 1'000 * kHour));
}

TEST(StatusAutomation, SoldOutClosesTheSaleEarly) {
  auto e = valid_event(0);
  e.status = EventStatus::on_sale;
  const Millis mid = e.sale_start + 1;
  EXPECT_FALSE(due_transition(e, mid));
  e.sold_out = true;
  EXPECT_EQ(due_status(e, mid), EventStatus::closed);
}

TEST(StatusAutomation, CatchesUpInOneStepAndNeverGoesBack) {
  auto e = valid_event(0);
  auto t = due_transition(e, e.performance_end + 1);  // scheduler was down the whole time
  ASSERT_TRUE(t);
  EXPECT_EQ(t->to, EventStatus::ended);
  e.status = EventStatus::closed;
  EXPECT_EQ(due_status(e, e.sale_start + 1), EventStatus::closed);  // a stale clock cannot reopen
}

TEST(StatusAutomation, DraftsAndCancelledAreLeftAlone) {
  auto e = valid_event(0);
  e.status = EventStatus::draft;
  EXPECT_FALSE(due_transition(e, e.performance_end + 1));
  EXPECT_FALSE(next_transition_at(e));
  e.status = EventStatus::cancelled;
  EXPECT_FALSE(due_transition(e, e.performance_end + 1));
}

TEST(Cursor, RoundTrips) {
  Cursor c{"date", 1'700'000'000'123, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"};
  auto text = encode_cursor(c);
  for (char ch : text) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_') << text;
  }
  auto back = decode_cursor(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->sort, "date");
  EXPECT_EQ(back->key, c.key);
  EXPECT_EQ(back->id, c.id);
  Cursor neg{"newest", -5, "x"};
  EXPECT_EQ(decode_cursor(encode_cursor(neg))->key, -5);
}

TEST(Cursor, RejectsTampering) {
  EXPECT_FALSE(decode_cursor(""));
  EXPECT_FALSE(decode_cursor("!!!!"));
  EXPECT_FALSE(decode_cursor(base64url_encode("v2|date|1|abc")));
  EXPECT_FALSE(decode_cursor(base64url_encode("v1|date|12x|abc")));
  EXPECT_FALSE(decode_cursor(base64url_encode("v1|date|1|abc' OR 1=1 --")));
  EXPECT_FALSE(decode_cursor(base64url_encode("v1|date|1")));
  EXPECT_FALSE(decode_cursor(std::string(600, 'A')));
}

TEST(Base64Url, MatchesKnownVectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("\xff\xfe"), "__4");
  EXPECT_EQ(base64url_decode("Zm9vYg").value(), "foob");
  EXPECT_FALSE(base64url_decode("Zh"));  // non-canonical trailing bits
}

TEST(ListQuery, DefaultsAndBounds) {
  auto q = parse_event_list_query({}, false);
  EXPECT_EQ(q.limit, 20);
  EXPECT_TRUE(q.statuses.empty());
  EXPECT_EQ(parse_event_list_query({{"limit", "100"}}, false).limit, 100);
  for (const char* bad : {"101", "0", "-1", "abc", "1e3", ""}) {
    EXPECT_THROW(parse_event_list_query({{"limit", bad}}, false), ApiError) << bad;
  }
}

TEST(ListQuery, FiltersAreChecked) {
  auto q = parse_event_list_query({{"status", "on_sale,scheduled"},
                                   {"category", "concert"},
                                   {"from", "2025-05-01"},
                                   {"to", "2025-05-31"},
                                   {"q", "아이유"}},
                                  false);
  ASSERT_EQ(q.statuses.size(), 2u);
  EXPECT_EQ(q.statuses[0], EventStatus::on_sale);
  EXPECT_EQ(*q.category, "concert");
  EXPECT_EQ(*q.from, 1'746'057'600'000);             // 2025-05-01T00:00:00Z
  EXPECT_EQ(*q.to, 1'748'649'600'000 + 86'400'000);  // end of 2025-05-31
  EXPECT_EQ(*q.q, "아이유");
  EXPECT_THROW(parse_event_list_query({{"status", "draft"}}, false), ApiError);
  EXPECT_NO_THROW(parse_event_list_query({{"status", "draft"}}, true));
  EXPECT_THROW(parse_event_list_query({{"category", "x"}}, false), ApiError);
  EXPECT_THROW(parse_event_list_query({{"from", "2025-13-01"}}, false), ApiError);
  EXPECT_THROW(parse_event_list_query({{"from", "2025-05-02"}, {"to", "2025-05-01"}}, false), ApiError);
  EXPECT_THROW(parse_event_list_query({{"catgory", "concert"}}, false), ApiError);
  EXPECT_THROW(parse_event_list_query({{"q", std::string(101, 'a')}}, false), ApiError);
  EXPECT_NO_THROW(parse_event_list_query({{"q", std::string(100, 'a')}}, false));
}

TEST(ListQuery, CursorMustMatchTheSort) {
  auto c = encode_cursor({"newest", 5, "abc"});
  EXPECT_NO_THROW(parse_event_list_query({{"sort", "newest"}, {"cursor", c}}, false));
  try {
    parse_event_list_query({{"cursor", c}}, false);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "invalid_cursor");
    EXPECT_EQ(e.status(), 400);
  }
}

TEST(ListQuery, TimesAndLikeEscaping) {
  EXPECT_EQ(parse_time("2025-05-01T19:30:00Z", false).value(), 1'746'057'600'000 + (19 * 60 + 30) * 60'000LL);
  EXPECT_EQ(parse_time("1700000000000", false).value(), 1'700'000'000'000);
  EXPECT_FALSE(parse_time("2025-05-01T19:30:00+09:00", false));
  EXPECT_FALSE(parse_time("yesterday", false));
  EXPECT_EQ(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
  EXPECT_EQ(ascii_lower("IU 콘서트"), "iu 콘서트");
}

TEST(PriceRange, MinAndMax) {
  EXPECT_FALSE(price_range({}));
  std::vector<TicketType> t{{"a", "e", "R", TicketKind::seated, "R", std::nullopt, 99'000, 0},
                            {"b", "e", "VIP", TicketKind::seated, "VIP", std::nullopt, 154'000, 1},
                            {"c", "e", "S", TicketKind::seated, "S", std::nullopt, 0, 2}};
  auto r = price_range(t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min, 0);
  EXPECT_EQ(r->max, 154'000);
}

}  // namespace
}  // namespace tiketi::event
