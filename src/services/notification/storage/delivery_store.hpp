#pragma once
// The deliveries log and the event_info cache table.
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "services/notification/domain/message.hpp"
#include "store/database.hpp"

namespace tiketi::notification {

struct Delivery {
  std::string id;
  std::string event_id;
  std::string recipient;  // user id
  std::string topic;
  std::string template_name;
  std::string payload;
  Millis event_created_at = 0;
  int attempts = 0;  // before this attempt
  Millis created_at = 0;
};

struct DeliveryView {
  std::string id, event_id, recipient, topic, template_name, status;
  int attempts = 0;
  Millis next_attempt_at = 0;
  std::optional<std::string> last_error;
  std::optional<std::int64_t> last_code;
  std::optional<std::string> email, subject;
  Millis created_at = 0, updated_at = 0;
  std::optional<std::int64_t> sent_at;
};

struct QueueStats {
  std::int64_t pending = 0;
  std::optional<Millis> oldest_created_at;
};

// One delivery to queue (the consumer's batch form queues several with one statement).
struct NewDelivery {
  std::string event_id;
  std::string recipient;  // user id
  std::string topic;
  std::string payload;
  Millis event_created_at = 0;
};

class DeliveryStore {
 public:
  DeliveryStore(store::DatabasePtr db, ClockPtr clock) : db_(std::move(db)), clock_(std::move(clock)) {}

  // Inside the consumer's transaction; false when this (event, recipient) already has a row.
  Task<bool> enqueue(store::Tx& tx, const std::string& event_id, const std::string& recipient,
                     const std::string& topic, const std::string& payload, Millis event_created_at);
  // Several at once, in one statement; returns how many were new (the others already had a row).
  Task<int> enqueue_many(store::Tx& tx, const std::vector<NewDelivery>& rows);
  Task<void> remember_event(store::Tx& tx, const EventInfo& info);
  Task<void> remember_event(const EventInfo& info);
  Task<std::optional<EventInfo>> find_event(const std::string& event_id);

  Task<std::vector<Delivery>> claim_due(const std::string& owner, Millis claim_ms, int limit);
  // Each returns false when the claim was lost (another replica took over an expired claim).
  Task<bool> mark_sent(const std::string& id, const std::string& owner, const std::string& email,
                       const std::string& subject, int code);
  Task<bool> mark_retry(const std::string& id, const std::string& owner, Millis next_at,
                        const std::string& error, int code, const std::string& email);
  Task<bool> mark_failed(const std::string& id, const std::string& owner, const std::string& error, int code,
                         const std::string& email);
  Task<bool> resend(const std::string& id);

  Task<std::vector<DeliveryView>> list(const std::string& status, const std::string& recipient,
                                       const std::string& before_id, int limit);
  Task<std::optional<DeliveryView>> get(const std::string& id);
  Task<QueueStats> queue_stats();

  const Clock& clock() const { return *clock_; }

 private:
  store::DatabasePtr db_;
  ClockPtr clock_;
};

}  // namespace tiketi::notification
