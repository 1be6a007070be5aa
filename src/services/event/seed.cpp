// `tiketi seed --demo`: demo catalogue built through the same domain and storage code as the admin
// API (so it is valid by construction), with fixed ids so running it twice changes nothing.
#include "core/ids.hpp"
#include "services/event/domain/seating.hpp"
#include "services/event/service.hpp"
#include "services/event/storage/event_store.hpp"

namespace tiketi::event {
namespace {

constexpr Millis kDay = 86'400'000;
constexpr Millis kHour = 3'600'000;

struct BorrowedClock final : Clock {
  explicit BorrowedClock(const Clock& c) : inner(c) {}
  Millis now_ms() const override { return inner.now_ms(); }
  const Clock& inner;
};

// 4 sections x 20 rows x 25 seats = 2,000 seats in VIP / R / S.
PlanSpec demo_plan() {
  PlanSpec spec;
  spec.categories = {{"VIP", "VIP석", "#8b5cf6"}, {"R", "R석", "#ef4444"}, {"S", "S석", "#3b82f6"}};
  const char* codes[] = {"A", "B", "C", "D"};
  const char* names[] = {"1층 A구역", "1층 B구역", "2층 C구역", "2층 D구역"};
  for (int i = 0; i < 4; ++i) {
    SectionSpec s;
    s.code = codes[i];
    s.name = names[i];
    s.rows = 20;
    s.seats_per_row = 25;
    s.x = (i % 2) * 300;
    s.y = (i / 2) * 250;
    s.row_labels = RowLabels::numeric;
    if (i < 2) {
      s.categories = {{1, 5, "VIP"}, {6, 20, "R"}};
    } else {
      s.categories = {{1, 10, "R"}, {11, 20, "S"}};
    }
    spec.sections.push_back(s);
  }
  return spec;
}

Event base_event(std::string id, std::string title, std::string artist, std::string category, Millis now) {
  Event e;
  e.id = std::move(id);
  e.title = std::move(title);
  e.artist = std::move(artist);
  e.category = std::move(category);
  e.venue_id = "demo-venue-arena";
  e.created_at = now;
  e.updated_at = now;
  return e;
}

}  // namespace

Task<SeedResult> seed_demo(store::Database& db, const Clock& clock) {
  EventStore store(store::DatabasePtr(&db, [](store::Database*) {}), std::make_shared<BorrowedClock>(clock));
  SeedResult result;
  const std::string venue_id = "demo-venue-arena";
  if (co_await store.find_venue(venue_id)) {
    co_return result;  // already seeded
  }
  const Millis now = clock.now_ms();
  // g++ 12 miscompiles braced temporaries inside co_await expressions: always pass named values.
  Venue venue{"demo-venue-arena", "Tiketi Arena", "424 Olympic-ro, Songpa-gu", "Seoul", now, now};
  co_await store.insert_venue(venue);

  // 1. On sale now, waiting room on, 2,000 seats.
  Event live = base_event("demo-event-live", "Tiketi Live 2025 — 봄 콘서트", "IU", "concert", now);
  live.description = "Demo event on sale now. 데모 공연: 지금 예매 중입니다.";
  live.sale_start = now - kHour;
  live.sale_end = now + 30 * kDay;
  live.performance_start = now + 45 * kDay;
  live.performance_end = live.performance_start + 3 * kHour;
  live.per_user_limit = 4;
  live.waiting_room = WaitingRoom{true, 600, 500};
  co_await store.insert_event(live);
  SeatingPlan live_plan = generate_plan(live.id, demo_plan());
  co_await store.replace_plan(live_plan);
  {
    TicketType t1{"demo-tt-live-vip", live.id, "VIP석", TicketKind::seated, "VIP", std::nullopt, 165'000, 0};
    co_await store.insert_ticket_type(t1);
  }
  {
    TicketType t2{"demo-tt-live-r", live.id, "R석", TicketKind::seated, "R", std::nullopt, 143'000, 1};
    co_await store.insert_ticket_type(t2);
  }
  {
    TicketType t3{"demo-tt-live-s", live.id, "S석", TicketKind::seated, "S", std::nullopt, 121'000, 2};
    co_await store.insert_ticket_type(t3);
  }
  co_await store.publish(live.id);

  // 2. General admission festival, sale opens in a week.
  Event ga = base_event("demo-event-festival", "Tiketi Summer Festival", "Various Artists", "festival", now);
  ga.description = "Standing-only festival (general admission). 스탠딩 페스티벌.";
  ga.sale_start = now + 7 * kDay;
  ga.sale_end = now + 60 * kDay;
  ga.performance_start = now + 70 * kDay;
  ga.performance_end = ga.performance_start + 10 * kHour;
  ga.per_user_limit = 2;
  co_await store.insert_event(ga);
  {
    TicketType t4{
        "demo-tt-festival-ga", ga.id, "Standing", TicketKind::general_admission, "", 5'000, 99'000, 0};
    co_await store.insert_ticket_type(t4);
  }
  co_await store.publish(ga.id);

  // 3. A seated musical, scheduled.
  Event musical =
      base_event("demo-event-musical", "뮤지컬 〈오페라의 유령〉", "Tiketi Company", "musical", now);
  musical.sale_start = now + 3 * kDay;
  musical.sale_end = now + 40 * kDay;
  musical.performance_start = now + 41 * kDay;
  musical.performance_end = musical.performance_start + 3 * kHour;
  co_await store.insert_event(musical);
  SeatingPlan musical_plan = generate_plan(musical.id, demo_plan());
  co_await store.replace_plan(musical_plan);
  {
    TicketType t5{"demo-tt-musical-vip", musical.id, "VIP석", TicketKind::seated, "VIP",
                  std::nullopt,          170'000,    0};
    co_await store.insert_ticket_type(t5);
  }
  {
    TicketType t6{"demo-tt-musical-r", musical.id, "R석", TicketKind::seated, "R", std::nullopt, 140'000, 1};
    co_await store.insert_ticket_type(t6);
  }
  {
    TicketType t7{"demo-tt-musical-s", musical.id, "S석", TicketKind::seated, "S", std::nullopt, 90'000, 2};
    co_await store.insert_ticket_type(t7);
  }
  co_await store.publish(musical.id);

  {
    News n8{"demo-news-1",
            "Tiketi 데모에 오신 것을 환영합니다",
            "This is demo data created by `tiketi seed --demo`.",
            true,
            "system",
            now,
            now};
    co_await store.insert_news(n8);
  }
  {
    News n9{"demo-news-2",
            "Waiting room guide / 대기열 안내",
            "Popular on-sales open a virtual waiting room. Keep this tab open.",
            false,
            "system",
            now - 1,
            now - 1};
    co_await store.insert_news(n9);
  }
  result.created = true;
  result.events = 3;
  co_return result;
}

}  // namespace tiketi::event
