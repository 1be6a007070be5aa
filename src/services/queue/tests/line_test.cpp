// The line in the coordinator, on both adapters: ordering, idempotent join, leave, heartbeat and
// abandonment, capacity accounting, fencing, random-at-opening, and the 5,000-user fairness check.
// g++ 12 at -O3 raises a false -Wrestrict inside std::string operator+ inlined from the shared
// coord fixture (random_namespace) in this translation unit.
#pragma GCC diagnostic ignored "-Wrestrict"
#include <algorithm>
#include <future>
#include <map>
#include <set>

#include "services/queue/admission.hpp"
#include "services/queue/tests/queue_fixture.hpp"

namespace tiketi::queue {
namespace {

using namespace std::chrono_literals;
using testing::LineTest;

constexpr std::int64_t kBig = 1'000'000;
constexpr Millis kSession = 600'000;

// prefix + number without `"lit" + std::string` (GCC 12 -O3 raises a false -Wrestrict on it).
std::string numbered(std::string prefix, int i) {
  prefix += std::to_string(i);
  return prefix;
}

TEST_P(LineTest, JoinIsIdempotentPerUserAndFifo) {
  run([&]() -> Task<void> {
    auto a = co_await line_->join("e1", "alice", now(), false, kBig, kSession);
    auto b = co_await line_->join("e1", "bob", now(), false, kBig, kSession);
    auto c = co_await line_->join("e1", "carol", now(), false, kBig, kSession);
    EXPECT_EQ(a.place, Place::waiting);
    EXPECT_TRUE(a.joined_now);
    EXPECT_EQ(a.rank, 0);
    EXPECT_EQ(b.rank, 1);
    EXPECT_EQ(c.rank, 2);
    EXPECT_LT(a.seq, b.seq);
    EXPECT_LT(b.seq, c.seq);

    // Refresh / second tab: same place, same sequence, not a new place.
    auto again = co_await line_->join("e1", "alice", now(), false, kBig, kSession);
    EXPECT_FALSE(again.joined_now);
    EXPECT_EQ(again.rank, 0);
    EXPECT_EQ(again.seq, a.seq);
    EXPECT_EQ(co_await line_->waiting("e1"), 3);

    EXPECT_TRUE(co_await line_->leave("e1", "bob"));
    EXPECT_FALSE(co_await line_->leave("e1", "bob"));
    auto st = co_await line_->status("e1", "carol", now());
    EXPECT_EQ(st.place, Place::waiting);
    EXPECT_EQ(st.rank, 1) << "everyone behind a leaver moves up";
    EXPECT_EQ((co_await line_->status("e1", "bob", now())).place, Place::absent);
    // Lines of different events never mix.
    EXPECT_EQ((co_await line_->status("e2", "alice", now())).place, Place::absent);
  }());
}

TEST_P(LineTest, AdmissionByRateAndByCapacity) {
  run([&]() -> Task<void> {
    for (int i = 0; i < 10; ++i) {
      co_await line_->join("e", numbered("u", i), now(), false, kBig, kSession);
    }
    auto s1 = co_await line_->admit("e", now(), 3, 5, 1'000, 1);
    CO_ASSERT(!s1.fenced);
    CO_ASSERT(s1.admitted.size() == 3u);  // the rate is the limit
    EXPECT_EQ(s1.admitted[0].user_id, "u0");
    EXPECT_EQ(s1.admitted[2].user_id, "u2");
    EXPECT_EQ(s1.head, s1.admitted[2].seq);
    EXPECT_EQ(s1.waiting, 7);
    EXPECT_EQ(s1.active, 3);

    auto s2 = co_await line_->admit("e", now(), 3, 5, 1'000, 1);
    CO_ASSERT(s2.admitted.size() == 2u);  // capacity (5 active) is the limit
    EXPECT_EQ(s2.admitted[0].user_id, "u3");
    auto s3 = co_await line_->admit("e", now(), 3, 5, 1'000, 1);
    EXPECT_TRUE(s3.admitted.empty()) << "no free slot, nobody admitted";
    EXPECT_EQ(co_await line_->active("e", now()), 5);

    auto st = co_await line_->status("e", "u0", now());
    EXPECT_EQ(st.place, Place::admitted);
    EXPECT_EQ(st.session_expires_at, now() + 1'000);
    // An admitted user who joins again keeps the session instead of a new place.
    auto rejoin = co_await line_->join("e", "u0", now(), false, kBig, kSession);
    EXPECT_EQ(rejoin.place, Place::admitted);
    EXPECT_EQ(co_await line_->waiting("e"), 5);

    // Leaving the purchase flow frees a slot at once.
    EXPECT_TRUE(co_await line_->leave("e", "u1"));
    auto s4 = co_await line_->admit("e", now(), 3, 5, 1'000, 1);
    CO_ASSERT(s4.admitted.size() == 1u);
    EXPECT_EQ(s4.admitted[0].user_id, "u5");

    // Sessions ending free their slots: the capacity mode never stalls.
    clock_->advance(1'000);
    EXPECT_EQ(co_await line_->active("e", now()), 0);
    auto s5 = co_await line_->admit("e", now(), 10, 5, 1'000, 1);
    EXPECT_EQ(s5.expired, 5);
    CO_ASSERT(s5.admitted.size() == 4u);
    EXPECT_EQ(s5.admitted.front().user_id, "u6");
    EXPECT_EQ(s5.admitted.back().user_id, "u9");
    EXPECT_EQ(s5.waiting, 0);
    // An ended session means a fresh place at the back.
    auto back = co_await line_->join("e", "u0", now(), false, kBig, kSession);
    EXPECT_EQ(back.place, Place::waiting);
    EXPECT_TRUE(back.joined_now);
  }());
}

TEST_P(LineTest, AutoModeAdmitsDirectlyOnlyWhileTheLineIsEmptyAndThereIsRoom) {
  run([&]() -> Task<void> {
    auto a = co_await line_->join("e", "a", now(), true, 2, kSession);
    auto b = co_await line_->join("e", "b", now(), true, 2, kSession);
    auto c = co_await line_->join("e", "c", now(), true, 2, kSession);
    auto d = co_await line_->join("e", "d", now(), true, 2, kSession);
    EXPECT_EQ(a.place, Place::admitted);
    EXPECT_EQ(b.place, Place::admitted);
    EXPECT_EQ(c.place, Place::waiting) << "capacity reached: the line starts";
    EXPECT_EQ(d.place, Place::waiting);
    co_await line_->leave("e", "a");
    auto e = co_await line_->join("e", "e", now(), true, 2, kSession);
    EXPECT_EQ(e.place, Place::waiting) << "a free slot goes to the line first, never to a newcomer";
  }());
}

TEST_P(LineTest, HeartbeatKeepsAPlaceAndSilenceLosesIt) {
  run([&]() -> Task<void> {
    const Millis t0 = now();
    co_await line_->join("e", "quiet", t0, false, kBig, kSession);
    co_await line_->join("e", "chatty", t0, false, kBig, kSession);
    co_await line_->join("e", "late", t0 + 30'000, false, kBig, kSession);
    co_await line_->status("e", "chatty", t0 + 50'000);  // a poll is a heartbeat
    // 60 s of silence: only "quiet" is gone.
    EXPECT_EQ(co_await line_->sweep_abandoned("e", t0 + 60'000 - 60'000), 1);
    EXPECT_EQ((co_await line_->status("e", "quiet", t0 + 60'000)).place, Place::absent);
    auto chatty = co_await line_->status("e", "chatty", t0 + 60'000);
    EXPECT_EQ(chatty.rank, 0) << "the abandoned place is given up, everyone moves up";
    EXPECT_EQ(co_await line_->sweep_abandoned("e", t0 + 65'000 - 60'000), 0);
    EXPECT_EQ(co_await line_->sweep_abandoned("e", t0 + 200'000 - 60'000), 2);
    EXPECT_EQ(co_await line_->waiting("e"), 0);
  }());
}

TEST_P(LineTest, StaleLeaderIsFenced) {
  run([&]() -> Task<void> {
    co_await line_->join("e", "u", now(), false, kBig, kSession);
    EXPECT_FALSE((co_await line_->admit("e", now(), 0, 10, kSession, 7)).fenced);
    auto stale = co_await line_->admit("e", now(), 5, 10, kSession, 6);
    EXPECT_TRUE(stale.fenced);
    EXPECT_EQ(co_await line_->waiting("e"), 1) << "a fenced step changes nothing";
    EXPECT_EQ((co_await line_->admit("e", now(), 5, 10, kSession, 8)).admitted.size(), 1u);
  }());
}

TEST_P(LineTest, RandomAtOpeningShufflesThePreQueueOnceThenFifo) {
  constexpr int kEarly = 200;
  run([&]() -> Task<void> {
    std::map<std::string, std::int64_t> before;
    for (int i = 0; i < kEarly; ++i) {
      const std::string u = numbered("early", i);
      before[u] = (co_await line_->join("e", u, now(), false, kBig, kSession)).seq;
    }
    EXPECT_FALSE(co_await line_->opened("e"));
    EXPECT_TRUE(co_await line_->open("e", true));
    EXPECT_TRUE(co_await line_->opened("e"));
    EXPECT_FALSE(co_await line_->open("e", true)) << "the shuffle happens once";

    std::set<std::int64_t> seqs_before;
    std::set<std::int64_t> seqs_after;
    int moved = 0;
    for (const auto& [u, seq] : before) {
      auto st = co_await line_->status("e", u, now());
      seqs_before.insert(seq);
      seqs_after.insert(st.seq);
      moved += st.seq != seq ? 1 : 0;
    }
    EXPECT_EQ(seqs_before, seqs_after) << "a permutation of the same sequences";
    EXPECT_GT(moved, kEarly / 2) << "shuffled (identity has probability 1/200!)";

    // After opening: strict FIFO behind every early joiner.
    auto late1 = co_await line_->join("e", "late1", now(), false, kBig, kSession);
    auto late2 = co_await line_->join("e", "late2", now(), false, kBig, kSession);
    EXPECT_EQ(late1.rank, kEarly);
    EXPECT_EQ(late2.rank, kEarly + 1);
    auto step = co_await line_->admit("e", now(), kEarly + 2, kBig, kSession, 1);
    CO_ASSERT(step.admitted.size() == static_cast<std::size_t>(kEarly + 2));
    EXPECT_EQ(step.admitted[kEarly].user_id, "late1");
    EXPECT_EQ(step.admitted[kEarly + 1].user_id, "late2");
    for (std::size_t i = 1; i < step.admitted.size(); ++i) {
      EXPECT_LT(step.admitted[i - 1].seq, step.admitted[i].seq);
    }
  }());
}

TEST_P(LineTest, FifoOpeningKeepsArrivalOrder) {
  run([&]() -> Task<void> {
    for (int i = 0; i < 20; ++i) {
      co_await line_->join("e", numbered("u", i), now(), false, kBig, kSession);
    }
    EXPECT_TRUE(co_await line_->open("e", false));
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ((co_await line_->status("e", numbered("u", i), now())).rank, i);
    }
  }());
}

// The fairness check: 5,000 users join concurrently after opening and the real admission loop
// (leader lease, fencing, rate) lets them in exactly in join order, none twice, none skipped.
TEST_P(LineTest, FiveThousandConcurrentJoinersAreAdmittedExactlyInJoinOrder) {
  constexpr int kUsers = 5'000;
  auto settings = open_settings("fair");
  settings.rate_per_second = 2'000;
  settings.max_active = kBig;
  run(line_->put_settings(settings));

  // Everyone joins at once from two threads.
  std::vector<std::future<Standing>> joins;
  joins.reserve(kUsers);
  for (int i = 0; i < kUsers; ++i) {
    joins.push_back(boost::asio::co_spawn(
        loop_.ioc(), line_->join("fair", numbered("user", i), now(), false, kBig, kSession),
        boost::asio::use_future));
  }
  std::map<std::int64_t, std::string> by_seq;  // join order as the line recorded it
  for (int i = 0; i < kUsers; ++i) {
    auto st = joins[static_cast<std::size_t>(i)].get();
    ASSERT_EQ(st.place, Place::waiting);
    ASSERT_TRUE(by_seq.emplace(st.seq, numbered("user", i)).second) << "two users share a sequence";
  }
  ASSERT_EQ(by_seq.size(), static_cast<std::size_t>(kUsers));
  EXPECT_EQ(by_seq.begin()->first, 1);
  EXPECT_EQ(by_seq.rbegin()->first, kUsers) << "sequences are dense: nobody skipped";

  std::vector<Admitted> admitted;
  AdmitterOptions opts;
  opts.tick_ms = 200;
  Admitter admitter(line_, clock_, "replica-a", opts, {}, [&](const std::string&, const TickReport& r) {
    admitted.insert(admitted.end(), r.step.admitted.begin(), r.step.admitted.end());
  });
  int ticks = 0;
  while (admitted.size() < static_cast<std::size_t>(kUsers) && ticks < 100) {
    clock_->advance(opts.tick_ms);
    auto r = run(admitter.tick("fair"));
    ASSERT_TRUE(r.leader);
    EXPECT_LE(r.step.admitted.size(), 400u) << "never faster than the rate (2,000/s x 0.2 s)";
    ++ticks;
  }
  ASSERT_EQ(admitted.size(), static_cast<std::size_t>(kUsers));
  std::set<std::string> seen;
  std::int64_t expected_seq = 1;
  for (const auto& a : admitted) {
    ASSERT_EQ(a.seq, expected_seq) << "admitted out of join order";
    ASSERT_EQ(a.user_id, by_seq[a.seq]);
    ASSERT_TRUE(seen.insert(a.user_id).second) << a.user_id << " admitted twice";
    ++expected_seq;
  }
  EXPECT_EQ(run(line_->waiting("fair")), 0);
  EXPECT_EQ(run(line_->active("fair", now())), kUsers);
}

TEST_P(LineTest, LeaderFailoverWithinALeasePeriod) {
  auto settings = open_settings("lf");
  settings.rate_per_second = 10;
  run(line_->put_settings(settings));
  for (int i = 0; i < 20; ++i) {
    run(line_->join("lf", numbered("u", i), now(), false, kBig, kSession));
  }
  AdmitterOptions opts;
  opts.lease_ms = 400;
  Admitter a(line_, clock_, "replica-a", opts, {});
  Admitter b(line_, clock_, "replica-b", opts, {});
  clock_->advance(200);
  auto ra = run(a.tick("lf"));
  auto rb = run(b.tick("lf"));
  EXPECT_TRUE(ra.leader);
  EXPECT_FALSE(rb.leader) << "one leader per event";
  EXPECT_EQ(ra.step.admitted.size(), 2u);
  EXPECT_TRUE(ra.published);

  // replica-a dies without releasing its lease; replica-b takes over once the lease runs out.
  let_lease_expire(std::chrono::milliseconds(opts.lease_ms));
  clock_->advance(200);
  auto rb2 = run(b.tick("lf"));
  EXPECT_TRUE(rb2.leader);
  EXPECT_FALSE(rb2.step.admitted.empty()) << "admission continues under the new leader";
  EXPECT_EQ(rb2.step.admitted.front().user_id, "u2") << "no one skipped across the failover";
  // A late step from the old leader (its token is older) is refused by the admission script.
  auto stale = run(line_->admit("lf", now(), 5, kBig, kSession, 1));
  EXPECT_TRUE(stale.fenced);
}

TEST_P(LineTest, TickMessageReachesSubscribers) {
  auto settings = open_settings("pub");
  run(line_->put_settings(settings));
  run(line_->join("pub", "u1", now(), false, kBig, kSession));
  std::promise<std::string> got;
  auto sub = run(coord_->subscribe(channel_for("pub"), [&got, done = false](const std::string& m) mutable {
    if (!done) {
      done = true;
      got.set_value(m);
    }
  }));
  Admitter a(line_, clock_, "replica-a", {}, {});
  clock_->advance(1'000);
  auto r = run(a.tick("pub"));
  ASSERT_TRUE(r.published);
  auto msg = got.get_future().get();
  EXPECT_NE(msg.find("\"admitted\":[[\"u1\",1]]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"head\":1"), std::string::npos) << msg;
}

TEST_P(LineTest, PerIpCapRefusesNewPlacesOnlyAndIsOffByDefault) {
  run([&]() -> Task<void> {
    // Off (cap 0): any number of places from one address.
    for (int i = 0; i < 5; ++i) {
      auto st = co_await line_->join("ipoff", numbered("u", i), now(), false, kBig, kSession, "10.0.0.1", 0);
      EXPECT_EQ(st.place, Place::waiting);
    }
    auto a = co_await line_->join("ip", "a", now(), false, kBig, kSession, "10.0.0.1", 2);
    auto b = co_await line_->join("ip", "b", now(), false, kBig, kSession, "10.0.0.1", 2);
    auto c = co_await line_->join("ip", "c", now(), false, kBig, kSession, "10.0.0.1", 2);
    EXPECT_EQ(a.place, Place::waiting);
    EXPECT_EQ(b.place, Place::waiting);
    EXPECT_EQ(c.place, Place::refused);
    EXPECT_EQ(co_await line_->waiting("ip"), 2) << "a refused join takes no place";
    // Another address has its own quota; a user with a place keeps it whatever the address.
    EXPECT_EQ((co_await line_->join("ip", "c", now(), false, kBig, kSession, "10.0.0.2", 2)).place, Place::waiting);
    auto again = co_await line_->join("ip", "a", now(), false, kBig, kSession, "10.0.0.1", 2);
    EXPECT_EQ(again.place, Place::waiting);
    EXPECT_EQ(again.seq, a.seq);
    // The cap counts places taken over the line's life: leaving does not hand the quota back.
    EXPECT_TRUE(co_await line_->leave("ip", "b"));
    EXPECT_EQ((co_await line_->join("ip", "d", now(), false, kBig, kSession, "10.0.0.1", 2)).place, Place::refused);
  }());
}

TEST_P(LineTest, RenewalExtendsOnlyALiveSessionUpToTheLimit) {
  run([&]() -> Task<void> {
    co_await line_->join("rn", "u", now(), false, kBig, kSession);
    auto none = co_await line_->renew("rn", "u", now(), kSession, 2);
    EXPECT_EQ(none.result, Line::Renewal::Result::not_admitted) << "waiting users cannot renew";
    auto step = co_await line_->admit("rn", now(), 1, kBig, kSession, 1);
    CO_ASSERT(step.admitted.size() == 1);
    const Millis first_expiry = now() + kSession;
    clock_->advance(60'000);
    auto r1 = co_await line_->renew("rn", "u", now(), kSession, 2);
    EXPECT_EQ(r1.result, Line::Renewal::Result::renewed);
    EXPECT_EQ(r1.expires_at, now() + kSession);
    EXPECT_GT(r1.expires_at, first_expiry);
    EXPECT_EQ(r1.used, 1);
    EXPECT_EQ((co_await line_->status("rn", "u", now())).session_expires_at, r1.expires_at);
    clock_->advance(60'000);
    auto r2 = co_await line_->renew("rn", "u", now(), kSession, 2);
    EXPECT_EQ(r2.result, Line::Renewal::Result::renewed);
    EXPECT_EQ(r2.used, 2);
    clock_->advance(60'000);
    auto r3 = co_await line_->renew("rn", "u", now(), kSession, 2);
    EXPECT_EQ(r3.result, Line::Renewal::Result::limit);
    EXPECT_EQ(r3.expires_at, r2.expires_at) << "a refused renewal leaves the session as it was";
    // The renewed session still ends: the slot comes back to the line.
    clock_->advance(kSession + 1);
    auto after = co_await line_->admit("rn", now(), 0, kBig, kSession, 1);
    EXPECT_EQ(after.expired, 1);
    EXPECT_EQ((co_await line_->renew("rn", "u", now(), kSession, 2)).result, Line::Renewal::Result::not_admitted);
    // A new admission starts with a fresh renewal budget.
    co_await line_->join("rn", "u", now(), false, kBig, kSession);
    auto again = co_await line_->admit("rn", now(), 1, kBig, kSession, 1);
    CO_ASSERT(again.admitted.size() == 1);
    EXPECT_EQ((co_await line_->renew("rn", "u", now() + 1, kSession, 2)).used, 1);
  }());
}

INSTANTIATE_TEST_SUITE_P(Adapters, LineTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tiketi::queue
