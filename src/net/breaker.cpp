// Circuit breaker per peer. Plain mutex-protected state machine: it is touched once per outgoing
// call, so a lock is far cheaper than the network round trip it guards, and it keeps the
// half-open "exactly one trial" rule trivially correct under concurrent callers.
#include <mutex>

#include "net/client.hpp"

namespace tiketi::net {

struct CircuitBreaker::Impl {
  Options opts;
  ClockPtr clock;
  mutable std::mutex mu;
  State state = State::closed;
  int consecutive_failures = 0;
  Millis opened_at = 0;
  bool trial_in_flight = false;
  Millis trial_started_at = 0;

  bool open_interval_elapsed(Millis now) const { return now - opened_at >= opts.open_ms; }

  void open(Millis now) {
    state = State::open;
    opened_at = now;
    trial_in_flight = false;
  }
};

CircuitBreaker::CircuitBreaker(Options o, ClockPtr clock) : impl_(std::make_shared<Impl>()) {
  if (o.failure_threshold < 1) {
    o.failure_threshold = 1;
  }
  if (o.open_ms < 0) {
    o.open_ms = 0;
  }
  impl_->opts = o;
  impl_->clock = clock ? std::move(clock) : std::make_shared<SystemClock>();
}

bool CircuitBreaker::allow() {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  switch (s.state) {
    case State::closed:
      return true;
    case State::open: {
      const Millis now = s.clock->now_ms();
      if (!s.open_interval_elapsed(now)) {
        return false;
      }
      s.state = State::half_open;
      s.trial_in_flight = true;
      s.trial_started_at = now;
      return true;
    }
    case State::half_open: {
      const Millis now = s.clock->now_ms();
      // A trial whose caller vanished (cancelled coroutine) must not wedge the breaker in
      // half-open forever: after another open interval a new trial may go.
      if (s.trial_in_flight && now - s.trial_started_at < s.opts.open_ms) {
        return false;
      }
      s.trial_in_flight = true;
      s.trial_started_at = now;
      return true;
    }
  }
  return false;
}

void CircuitBreaker::on_success() {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  if (s.state == State::open) {
    // A call admitted before the circuit opened finished late: it says nothing about now.
    return;
  }
  s.state = State::closed;
  s.consecutive_failures = 0;
  s.trial_in_flight = false;
}

void CircuitBreaker::on_failure() {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  const Millis now = s.clock->now_ms();
  switch (s.state) {
    case State::closed:
      if (++s.consecutive_failures >= s.opts.failure_threshold) {
        s.open(now);
      }
      return;
    case State::half_open:
      s.open(now);
      return;
    case State::open:
      // Late failures from calls admitted earlier do not extend the open interval.
      return;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  auto& s = *impl_;
  std::lock_guard lock(s.mu);
  return s.state;
}

}  // namespace tiketi::net
