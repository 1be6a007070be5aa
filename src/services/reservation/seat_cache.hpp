#pragma once
// The seat map served to thousands of fans: one JSON snapshot per event, rebuilt at most once per
// max_age and at once after a change (invalidate), with an ETag so unchanged maps cost a 304.
// At most one build per event runs at a time: readers that arrive meanwhile wait for a build that
// started after their arrival's latest invalidation (so every answer is fresh for its reader) instead
// of each reading the whole map from the database.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "core/task.hpp"

namespace tiketi::reservation {

class ReservationStore;

struct SeatSnapshot {
  std::shared_ptr<const std::string> body;  // JSON
  std::string etag;                         // W/"…"
};

class SeatMapCache {
 public:
  SeatMapCache(ReservationStore& store, ClockPtr clock, Millis max_age_ms);
  // Throws ApiError not_found for an unknown event.
  Task<SeatSnapshot> get(const std::string& event_id);
  void invalidate(const std::string& event_id);
  std::uint64_t builds() const { return builds_.load(); }

 private:
  struct Entry {
    SeatSnapshot snapshot;
    Millis built_at = 0;
    std::uint64_t generation = 0;  // bumped by invalidate
    std::uint64_t built_generation = 0;
    bool has_snapshot = false;
    bool building = false;
  };
  ReservationStore& store_;
  ClockPtr clock_;
  Millis max_age_ms_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::atomic<std::uint64_t> builds_{0};
};

}  // namespace tiketi::reservation
