#include "services/notification/storage/delivery_store.hpp"

#include <algorithm>

#include "core/ids.hpp"
#include "services/notification/storage/sql.hpp"
#include "store/lists.hpp"

namespace tiketi::notification {
namespace {

using store::p;

// Built outside coroutines: g++ 12 rejects braced lists of non-trivial values in a co_await operand.
template <class... V>
store::Params params(V&&... v) {
  store::Params out;
  out.reserve(sizeof...(v));
  (out.push_back(p(std::forward<V>(v))), ...);
  return out;
}

store::Value opt_text(const std::string& s) { return s.empty() ? store::Value{} : store::Value{s}; }

DeliveryView view_of(const store::Row& r) {
  DeliveryView v;
  v.id = r.str("id");
  v.event_id = r.str("event_id");
  v.recipient = r.str("recipient");
  v.topic = r.str("topic");
  v.template_name = r.str("template");
  v.status = r.str("status");
  v.attempts = static_cast<int>(r.i64("attempts"));
  v.next_attempt_at = r.i64("next_attempt_at");
  v.last_error = r.opt_str("last_error");
  v.last_code = r.opt_i64("last_code");
  v.email = r.opt_str("email");
  v.subject = r.opt_str("subject");
  v.created_at = r.i64("created_at");
  v.updated_at = r.i64("updated_at");
  v.sent_at = r.opt_i64("sent_at");
  return v;
}

}  // namespace

Task<bool> DeliveryStore::enqueue(store::Tx& tx, const std::string& event_id, const std::string& recipient,
                                  const std::string& topic, const std::string& payload,
                                  Millis event_created_at) {
  const Millis now = clock_->now_ms();
  auto ps = params(ids::uuid_v7(now), event_id, recipient, topic, template_for_topic(topic), payload,
                   event_created_at > 0 ? event_created_at : now, now);
  auto r = co_await tx.exec(sql::kInsertDelivery, std::move(ps));
  co_return r.affected > 0;
}

Task<int> DeliveryStore::enqueue_many(store::Tx& tx, const std::vector<NewDelivery>& rows) {
  if (rows.empty()) {
    co_return 0;
  }
  const Millis now = clock_->now_ms();
  // Sorted ids keep the given (stream) order: the sender claims oldest id first, and uuid v7 ids of
  // one millisecond are not monotonic by themselves.
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ids.push_back(ids::uuid_v7(now));
  }
  std::sort(ids.begin(), ids.end());
  const store::Engine engine = tx.engine();
  store::Params bound;
  std::string text;
  if (engine == store::Engine::postgres) {
    std::vector<std::string> events, recipients, topics, templates, payloads, created;
    for (const auto& r : rows) {
      events.push_back(r.event_id);
      recipients.push_back(r.recipient);
      topics.push_back(r.topic);
      templates.push_back(template_for_topic(r.topic));
      payloads.push_back(r.payload);
      created.push_back(std::to_string(r.event_created_at > 0 ? r.event_created_at : now));
    }
    bound = params(store::text_list(engine, ids), store::text_list(engine, events),
                   store::text_list(engine, recipients), store::text_list(engine, topics),
                   store::text_list(engine, templates), store::text_list(engine, payloads),
                   store::text_list(engine, created), now);
    text = sql::kInsertDeliveriesPg;
  } else {
    std::vector<std::vector<std::optional<std::string>>> json_rows;
    json_rows.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      json_rows.push_back({ids[i], r.event_id, r.recipient, r.topic, template_for_topic(r.topic), r.payload,
                           std::to_string(r.event_created_at > 0 ? r.event_created_at : now)});
    }
    bound = params(store::json_rows(json_rows), now);
    text = sql::kInsertDeliveriesSqlite;
  }
  auto r = co_await tx.exec(text, std::move(bound));
  co_return static_cast<int>(r.affected);
}

Task<void> DeliveryStore::remember_event(store::Tx& tx, const EventInfo& info) {
  auto ps = params(info.event_id, info.title, info.performance_start, clock_->now_ms());
  co_await tx.exec(sql::kUpsertEventInfo, std::move(ps));
}

Task<void> DeliveryStore::remember_event(const EventInfo& info) {
  auto ps = params(info.event_id, info.title, info.performance_start, clock_->now_ms());
  co_await db_->exec(sql::kUpsertEventInfo, std::move(ps));
}

Task<std::optional<EventInfo>> DeliveryStore::find_event(const std::string& event_id) {
  auto r = co_await db_->exec(sql::kFindEventInfo, params(event_id));
  if (r.empty()) {
    co_return std::nullopt;
  }
  const auto& row = r.rows.front();
  co_return EventInfo{row.str("event_id"), row.str("title"), row.i64("performance_start")};
}

Task<std::vector<Delivery>> DeliveryStore::claim_due(const std::string& owner, Millis claim_ms, int limit) {
  const Millis now = clock_->now_ms();
  auto r = co_await db_->exec(sql::kClaimDue, params(owner, now + claim_ms, now, limit));
  std::vector<Delivery> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    Delivery d;
    d.id = row.str("id");
    d.event_id = row.str("event_id");
    d.recipient = row.str("recipient");
    d.topic = row.str("topic");
    d.template_name = row.str("template");
    d.payload = row.str("payload");
    d.event_created_at = row.i64("event_created_at");
    d.attempts = static_cast<int>(row.i64("attempts"));
    d.created_at = row.i64("created_at");
    out.push_back(std::move(d));
  }
  // RETURNING order is unspecified: keep the oldest first.
  std::sort(out.begin(), out.end(), [](const Delivery& a, const Delivery& b) { return a.id < b.id; });
  co_return out;
}

Task<bool> DeliveryStore::mark_sent(const std::string& id, const std::string& owner, const std::string& email,
                                    const std::string& subject, int code) {
  auto r = co_await db_->exec(sql::kMarkSent, params(id, clock_->now_ms(), email, subject, code, owner));
  co_return r.affected > 0;
}

Task<bool> DeliveryStore::mark_retry(const std::string& id, const std::string& owner, Millis next_at,
                                     const std::string& error, int code, const std::string& email) {
  store::Params ps = params(id, next_at, clock_->now_ms(), error, code);
  ps.push_back(opt_text(email));
  ps.push_back(p(owner));
  auto r = co_await db_->exec(sql::kMarkRetry, std::move(ps));
  co_return r.affected > 0;
}

Task<bool> DeliveryStore::mark_failed(const std::string& id, const std::string& owner,
                                      const std::string& error, int code, const std::string& email) {
  store::Params ps = params(id, clock_->now_ms(), error, code);
  ps.push_back(opt_text(email));
  ps.push_back(p(owner));
  auto r = co_await db_->exec(sql::kMarkFailed, std::move(ps));
  co_return r.affected > 0;
}

Task<bool> DeliveryStore::resend(const std::string& id) {
  auto r = co_await db_->exec(sql::kResend, params(id, clock_->now_ms()));
  co_return r.affected > 0;
}

Task<std::vector<DeliveryView>> DeliveryStore::list(const std::string& status, const std::string& recipient,
                                                    const std::string& before_id, int limit) {
  auto r = co_await db_->exec(sql::kList, params(status, before_id, recipient, limit));
  std::vector<DeliveryView> out;
  for (const auto& row : r.rows) {
    out.push_back(view_of(row));
  }
  co_return out;
}

Task<std::optional<DeliveryView>> DeliveryStore::get(const std::string& id) {
  auto r = co_await db_->exec(sql::kGet, params(id));
  if (r.empty()) {
    co_return std::nullopt;
  }
  co_return view_of(r.rows.front());
}

Task<QueueStats> DeliveryStore::queue_stats() {
  auto r = co_await db_->exec(sql::kQueueStats);
  QueueStats s;
  if (!r.empty()) {
    s.pending = r.rows.front().i64("pending");
    s.oldest_created_at = r.rows.front().opt_i64("oldest");
  }
  co_return s;
}

}  // namespace tiketi::notification
