#include "store/group_commit.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <iterator>
#include <mutex>
#include <unordered_set>

#include "store/detail/async.hpp"

namespace tiketi::store {

namespace {
constexpr std::size_t kMinOverlap = 8;
}  // namespace

struct GroupCommit::State {
  using Stmts = std::vector<std::pair<std::string, Params>>;
  struct Waiter {
    Stmts stmts;
    std::vector<std::string> rows;  // rows the caller locks (PostgreSQL)
    // Under State::mu:
    std::vector<std::shared_ptr<Waiter>> batch;  // set on the batch's leader (batch.front() == it)
    std::vector<Result> results;
    bool done = false;   // results are in (or `alone`)
    bool alone = false;  // the shared transaction failed: run by itself
    bool lead = false;   // run `batch` as the next shared transaction
    // The parked coroutine while it waits for done/lead (resumed once, on its own executor). It was
    // a 20 ms polling timer: under a hold storm thousands of queued holds re-armed it 50 times a
    // second each (the timer queue and the wake-ups were about a fifth of the process's CPU).
    detail::Resumer<void()> parked;
  };
  std::mutex mu;
  std::deque<std::shared_ptr<Waiter>> queue;
  std::size_t in_flight = 0;
  // The rows locked by the batches in flight. Batches in flight together are disjoint in rows, so a
  // batch never waits for another batch of this process (no lock-order cycle between them).
  std::unordered_set<std::string> busy;
  std::atomic<std::uint64_t> batches{0}, callers{0}, failed{0}, peak{0};

  // Call with `mu` held after setting done/lead: returns the resumer to call once `mu` is released.
  static detail::Resumer<void()> take_parked(Waiter& w) { return std::move(w.parked); }

  // With `mu` held: forms batches from the queue while fewer than `max_in_flight` run, each up to
  // `limit` callers that share no row with a running batch (queue order otherwise), and marks each
  // batch's first caller its leader. Returns the leaders' resumers (call them once `mu` is released).
  std::vector<detail::Resumer<void()>> start_batches(std::size_t limit, std::size_t max_in_flight) {
    std::vector<detail::Resumer<void()>> wake;
    // Another batch while one runs only once a few callers wait: a batch of one or two would cost a
    // commit and a round trip each, for callers that the running batch's successor takes anyway.
    while (in_flight < max_in_flight && !queue.empty() && (in_flight == 0 || queue.size() >= kMinOverlap)) {
      std::vector<std::shared_ptr<Waiter>> batch;
      std::deque<std::shared_ptr<Waiter>> skipped;
      // Bounded scan: callers that conflict with a running batch stay queued, in order.
      std::size_t scanned = 0;
      while (!queue.empty() && batch.size() < limit && scanned < 4 * limit) {
        auto w = std::move(queue.front());
        queue.pop_front();
        ++scanned;
        const bool conflict = in_flight > 0 && std::any_of(w->rows.begin(), w->rows.end(),
                                                           [this](const auto& r) { return busy.contains(r); });
        if (conflict) {
          skipped.push_back(std::move(w));
        } else {
          batch.push_back(std::move(w));
        }
      }
      while (!skipped.empty()) {
        queue.push_front(std::move(skipped.back()));
        skipped.pop_back();
      }
      if (batch.empty()) {
        break;
      }
      for (const auto& w : batch) {
        busy.insert(w->rows.begin(), w->rows.end());
      }
      ++in_flight;
      if (in_flight > peak.load(std::memory_order_relaxed)) {
        peak.store(in_flight, std::memory_order_relaxed);
      }
      Waiter& leader = *batch.front();
      leader.lead = true;
      leader.batch = std::move(batch);
      wake.push_back(take_parked(leader));
    }
    return wake;
  }

  // Suspends until done or lead is set (checked and parked under `mu`: a wake-up cannot be lost).
  Task<void> wait(std::shared_ptr<Waiter> w) {
    auto init = [this, w](detail::Resumer<void()> r) {
      std::unique_lock lock(mu);
      if (w->done || w->lead) {
        lock.unlock();
        r.resume();
        return;
      }
      w->parked = std::move(r);
    };
    co_await detail::park<void()>(std::move(init));
  }
};

GroupCommit::GroupCommit(DatabasePtr db, GroupCommitOptions opts)
    : db_(std::move(db)), opts_(opts), state_(std::make_shared<State>()) {}

GroupCommit::~GroupCommit() = default;

std::uint64_t GroupCommit::batches() const { return state_->batches.load(std::memory_order_relaxed); }
std::uint64_t GroupCommit::callers() const { return state_->callers.load(std::memory_order_relaxed); }
std::uint64_t GroupCommit::failed() const { return state_->failed.load(std::memory_order_relaxed); }
std::uint64_t GroupCommit::peak() const { return state_->peak.load(std::memory_order_relaxed); }

Task<std::vector<Result>> GroupCommit::run(std::vector<std::pair<std::string, Params>> stmts,
                                           std::vector<std::string> rows) {
  const bool pg = db_->engine() == Engine::postgres;
  const std::size_t batch_limit = opts_.batch;
  // SQLite has one writer: one batch at a time.
  const std::size_t max_in_flight = pg ? std::max<std::size_t>(1, opts_.in_flight) : 1;
  if (batch_limit <= 1) {
    auto res = co_await db_->pipeline(std::move(stmts));
    co_return res;
  }
  using Waiter = State::Waiter;
  State& g = *state_;
  auto me = std::make_shared<Waiter>();
  me->stmts = std::move(stmts);
  me->rows = std::move(rows);
  {
    std::vector<detail::Resumer<void()>> wake;
    {
      std::lock_guard lock(g.mu);
      g.queue.push_back(me);
      wake = g.start_batches(batch_limit, max_in_flight);
    }
    for (auto& r : wake) {
      if (r) {
        r.resume();  // a waiter not parked yet sees its flag when it parks (this one included)
      }
    }
  }
  // Wait to be done or to lead (parked; whoever sets the flag resumes it).
  co_await g.wait(me);
  std::vector<std::shared_ptr<Waiter>> batch;
  {
    std::lock_guard lock(g.mu);
    if (!me->done) {
      batch = std::move(me->batch);  // this caller leads `batch` (it is batch.front())
    }
  }
  if (!batch.empty()) {
    State::Stmts all;
    std::size_t at = 0;
    if (pg) {
      // Batches of two processes (or a batch and another transaction) could wait for each other's
      // rows: a batch gives up after a short lock wait instead of PostgreSQL's 1 s deadlock_timeout,
      // and its callers run again alone.
      all.emplace_back("SELECT set_config('lock_timeout', '" + std::to_string(opts_.lock_timeout_ms) + "ms', true)",
                       Params{});
      at = 1;
    }
    for (const auto& w : batch) {
      all.insert(all.end(), w->stmts.begin(), w->stmts.end());
    }
    std::vector<Result> res;
    bool failed = false;
    std::exception_ptr error;
    try {
      res = co_await db_->pipeline(std::move(all));
    } catch (...) {
      failed = true;
      error = std::current_exception();
    }
    g.batches.fetch_add(1, std::memory_order_relaxed);
    g.callers.fetch_add(batch.size(), std::memory_order_relaxed);
    if (failed) {
      g.failed.fetch_add(1, std::memory_order_relaxed);
    }
    std::vector<detail::Resumer<void()>> wake;
    wake.reserve(batch.size() + max_in_flight);
    {
      std::lock_guard lock(g.mu);
      for (const auto& w : batch) {
        if (failed) {
          w->alone = true;
        } else {
          const std::size_t n = w->stmts.size();
          w->results.assign(std::make_move_iterator(res.begin() + static_cast<std::ptrdiff_t>(at)),
                            std::make_move_iterator(res.begin() + static_cast<std::ptrdiff_t>(at + n)));
          at += n;
        }
        for (const auto& r : w->rows) {
          g.busy.erase(r);
        }
        w->done = true;
        w->lead = false;
        if (w != me) {
          wake.push_back(State::take_parked(*w));
        }
      }
      --g.in_flight;
      auto leaders = g.start_batches(batch_limit, max_in_flight);
      std::move(leaders.begin(), leaders.end(), std::back_inserter(wake));
    }
    for (auto& r : wake) {
      if (r) {
        r.resume();  // a waiter not parked yet sees its flag when it parks
      }
    }
    if (failed && batch.size() == 1 && at == 0) {
      std::rethrow_exception(error);  // it was this caller's own transaction (PostgreSQL: re-run
                                      // without the batch's lock_timeout)
    }
  }
  if (me->alone) {
    auto res = co_await db_->pipeline(std::move(me->stmts));
    co_return res;
  }
  co_return std::move(me->results);
}

}  // namespace tiketi::store
