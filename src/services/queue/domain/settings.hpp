#pragma once
// Per-event waiting-room settings: what the event service published, plus the admin's overrides
// (pause, rate, capacity), plus the rules that turn them into answers (open? closed? ETA).
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace tiketi::queue {

// off: nobody waits (admitted at once); always: everybody joins the line; auto: admitted at once
// while the line is empty and there is free shopper capacity, otherwise the line.
enum class Mode { off, always, automatic };
// At opening, users who joined during the pre-queue are shuffled once (random) or kept (fifo);
// after opening the line is strict FIFO by arrival either way.
enum class Order { fifo, random };

std::string_view to_string(Mode m);
std::string_view to_string(Order o);
std::optional<Mode> parse_mode(std::string_view s);
std::optional<Order> parse_order(std::string_view s);

struct QueueSettings {
  std::string event_id;
  std::string status = "scheduled";  // the event's status: scheduled, on_sale, closed, ended, cancelled
  Mode mode = Mode::always;
  double rate_per_second = 10;      // admissions per second
  std::int64_t max_active = 1'000;  // shoppers in the purchase flow at once
  Millis session_ms = 600'000;      // shopper session length
  Millis sale_start = 0;            // the opening: admission starts here
  Millis sale_end = 0;              // 0 = none
  Millis prequeue_ms = 1'800'000;   // the line opens this long before sale_start
  Order order = Order::random;
  bool paused = false;    // admin: admission paused (joining still works)
  Millis updated_at = 0;  // source timestamp: older updates are ignored

  Millis opens_at() const { return sale_start - prequeue_ms; }
  // The event can never sell again: joining answers "closed".
  bool closed(Millis now) const;
  // Users may join the line (pre-queue or on sale).
  bool joinable(Millis now) const { return !closed(now) && now >= opens_at(); }
  // The admission loop may let people in.
  bool admitting(Millis now) const {
    return !closed(now) && !paused && (status == "on_sale" || now >= sale_start);
  }
};

std::string to_json(const QueueSettings& s);
std::optional<QueueSettings> settings_from_json(std::string_view text);

// Admin overrides kept apart from the event's settings so a later event update never undoes them.
struct AdminOverrides {
  bool paused = false;
  std::optional<double> rate_per_second;
  std::optional<std::int64_t> max_active;
  std::optional<Mode> mode;
  std::optional<Order> order;
};
std::string to_json(const AdminOverrides& o);
AdminOverrides overrides_from_json(std::string_view text);  // {} on anything unreadable
QueueSettings apply(QueueSettings s, const AdminOverrides& o);

// Settings from the event service's payloads (docs: event.published / event.status_changed).
// `prequeue_ms` is this deployment's pre-queue window (queue.prequeue_minutes). nullopt when the
// payload is malformed; `why` says what was wrong.
std::optional<QueueSettings> settings_from_published(std::string_view payload, Millis prequeue_ms,
                                                     std::string& why);
struct StatusChange {
  std::string event_id;
  std::string to;
  Millis changed_at = 0;
  std::optional<Millis> sale_start;
  std::optional<Millis> sale_end;
};
std::optional<StatusChange> parse_status_changed(std::string_view payload, std::string& why);
// Applies a status change; false when it is older than what the settings already reflect.
bool apply_status(QueueSettings& s, const StatusChange& c);

// Estimated wait, in whole seconds, for the user at `position` (1 = next); -1 = unknown (admission
// stopped). Admission runs at `rate_per_second` while shopper slots are free; once `max_active`
// shoppers are in, a place opens only when a session ends, so beyond the free slots the line moves
// at the turnover rate max_active / session length (or the admission rate, if lower). That part is
// an upper bound: shoppers who finish early free their slot sooner. `active` < 0 = not known (all
// slots counted free); `max_active` <= 0 or `session_ms` <= 0 = no slot limit in the estimate.
// web/src/live.ts computes the same between exact answers.
std::int64_t eta_seconds(std::int64_t position, double rate_per_second, std::int64_t max_active = 0,
                         std::int64_t active = -1, Millis session_ms = 0);

}  // namespace tiketi::queue
