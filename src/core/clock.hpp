#pragma once
// Time is injected so that tests never depend on the wall clock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace tiketi {

using Millis = std::int64_t;  // epoch milliseconds: how every timestamp is stored

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now_ms() const = 0;
};
using ClockPtr = std::shared_ptr<Clock>;

class SystemClock final : public Clock {
 public:
  Millis now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Millis start = 1'700'000'000'000) : now_(start) {}
  Millis now_ms() const override { return now_.load(); }
  void advance(Millis ms) { now_ += ms; }
  void set(Millis ms) { now_ = ms; }

 private:
  std::atomic<Millis> now_;
};

}  // namespace tiketi
