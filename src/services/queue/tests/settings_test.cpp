// Settings from the event service's payloads, admin overrides, open/closed rules, ETA.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "services/queue/domain/settings.hpp"

namespace tiketi::queue {
namespace {

constexpr Millis kStart = 1'750'000'000'000;

std::string published(bool enabled) {
  nlohmann::json j{
      {"schema_version", 1},
      {"event_id", "ev1"},
      {"status", "scheduled"},
      {"sale_start", kStart},
      {"sale_end", kStart + 3'600'000},
      {"hold_minutes", 10},
      {"waiting_room", {{"enabled", enabled}, {"admission_per_minute", 600}, {"max_active", 50}}},
      {"published_at", kStart - 86'400'000}};
  return j.dump();
}

TEST(QueueSettings, FromEventPublished) {
  std::string why;
  auto s = settings_from_published(published(true), 1'800'000, why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->event_id, "ev1");
  EXPECT_EQ(s->mode, Mode::always);
  EXPECT_DOUBLE_EQ(s->rate_per_second, 10.0);
  EXPECT_EQ(s->max_active, 50);
  EXPECT_EQ(s->session_ms, 600'000);
  EXPECT_EQ(s->opens_at(), kStart - 1'800'000);
  EXPECT_EQ(settings_from_published(published(false), 0, why)->mode, Mode::off);
  EXPECT_FALSE(settings_from_published("{", 0, why));
  EXPECT_FALSE(settings_from_published(R"({"event_id":"x"})", 0, why));
}

TEST(QueueSettings, OpenAdmittingClosed) {
  std::string why;
  auto s = *settings_from_published(published(true), 1'800'000, why);
  EXPECT_FALSE(s.joinable(kStart - 1'800'001)) << "before the pre-queue";
  EXPECT_TRUE(s.joinable(kStart - 1'800'000));
  EXPECT_FALSE(s.admitting(kStart - 1)) << "pre-queue: nobody admitted before the sale";
  EXPECT_TRUE(s.admitting(kStart));
  EXPECT_TRUE(s.closed(kStart + 3'600'000)) << "past sale_end";

  StatusChange c{"ev1", "closed", kStart + 10, {}, {}};
  EXPECT_TRUE(apply_status(s, c));
  EXPECT_TRUE(s.closed(kStart + 20));
  StatusChange old{"ev1", "on_sale", kStart, {}, {}};
  EXPECT_FALSE(apply_status(s, old)) << "a late, older status never reopens";
  EXPECT_EQ(s.status, "closed");
}

TEST(QueueSettings, JsonRoundTripAndOverrides) {
  std::string why;
  auto s = *settings_from_published(published(true), 1'800'000, why);
  auto back = settings_from_json(to_json(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(s));
  EXPECT_FALSE(settings_from_json("[]"));

  AdminOverrides o;
  o.paused = true;
  o.rate_per_second = 3;
  o.mode = Mode::automatic;
  auto o2 = overrides_from_json(to_json(o));
  auto eff = apply(s, o2);
  EXPECT_TRUE(eff.paused);
  EXPECT_DOUBLE_EQ(eff.rate_per_second, 3);
  EXPECT_EQ(eff.mode, Mode::automatic);
  EXPECT_EQ(eff.max_active, 50);
  EXPECT_FALSE(eff.admitting(kStart + 1)) << "paused";
  EXPECT_FALSE(overrides_from_json("nope").paused);
}

TEST(QueueSettings, Eta) {
  EXPECT_EQ(eta_seconds(0, 10), 0);
  EXPECT_EQ(eta_seconds(1, 10), 1);
  EXPECT_EQ(eta_seconds(100, 10), 10);
  EXPECT_EQ(eta_seconds(101, 10), 11);
  EXPECT_EQ(eta_seconds(5, 0), -1);
}

TEST(QueueSettings, EtaCountsTheShopperSlots) {
  // 100 slots, 10-minute sessions: once full, a place opens every 6 s (turnover 1/6 per second).
  const std::int64_t cap = 100;
  const Millis session = 600'000;
  EXPECT_EQ(eta_seconds(20, 10, cap, 0, session), 2) << "free slots: the admission rate";
  EXPECT_EQ(eta_seconds(20, 10, cap, -1, session), 2) << "active not known: slots counted free";
  EXPECT_EQ(eta_seconds(1, 10, cap, cap, session), 6) << "all slots taken: the next one waits for a session to end";
  EXPECT_EQ(eta_seconds(10, 10, cap, cap, session), 60);
  EXPECT_EQ(eta_seconds(10, 10, cap, 95, session), 1 + 30) << "5 free at 10/s, then 5 more at one per 6 s";
  EXPECT_EQ(eta_seconds(10, 0.1, cap, cap, session), 100) << "the admission rate when it is the slower one";
  EXPECT_EQ(eta_seconds(10, 10, 0, 50, session), 1) << "no slot limit";
}

}  // namespace
}  // namespace tiketi::queue
