#pragma once
// Storage of payments, refunds and the points ledger. Methods taking a Tx run inside the caller's
// transaction (so a balance change, its history row, the payment row and the outbox event commit
// together); the others run on their own.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "services/payment/domain/model.hpp"
#include "store/database.hpp"
#include "store/group_commit.hpp"

namespace tiketi::payment {

struct HistoryCursor {
  Millis created_at = 0;
  std::string id;
};

struct PaymentFilter {
  std::optional<std::string> status;
  std::optional<std::string> user_id;
  std::optional<std::string> reservation_id;
  std::optional<std::string> order_id;
  std::int64_t limit = 50;
};

struct RevenueDay {
  std::int64_t day = 0;  // days since the epoch (UTC)
  std::int64_t payments = 0;
  std::int64_t card = 0;
  std::int64_t points = 0;
};

class PaymentStore {
 public:
  // `write_batch` > 1 on PostgreSQL: the card path's three single-statement writes (insert, start
  // the gateway call, CONFIRMED + outbox row) of concurrent payments share transactions (group
  // commit, store/group_commit.hpp; each commit still durable before its caller goes on).
  PaymentStore(store::DatabasePtr db, ClockPtr clock, std::size_t write_batch = 1);
  ~PaymentStore();
  store::Database& db() { return *db_; }
  const Clock& clock() const { return *clock_; }

  // Points. spend throws ApiError 409 insufficient_points when the balance is short (the caller's
  // transaction then rolls back). Both write the history row and return the new balance.
  Task<std::int64_t> spend_points(store::Tx& tx, const std::string& user_id, std::int64_t amount,
                                  const std::string& reference);
  Task<std::int64_t> credit_points(store::Tx& tx, const std::string& user_id, std::int64_t amount,
                                   PointKind kind, const std::string& reference);
  Task<std::int64_t> balance(const std::string& user_id);
  Task<std::vector<PointEntry>> history(const std::string& user_id, std::int64_t limit,
                                        std::optional<HistoryCursor> before);

  // Payments.
  Task<void> insert(store::Tx& tx, const Payment& p);
  Task<void> insert(const Payment& p);  // alone, in its own implicit transaction (one round trip)
  Task<std::optional<Payment>> find(const std::string& id);
  Task<std::optional<Payment>> find(store::Tx& tx, const std::string& id);
  Task<std::optional<Payment>> find_by_idempotency(const std::string& user_id, const std::string& key);
  Task<std::vector<Payment>> find_by_reservation(store::Tx& tx, const std::string& reservation_id);
  // CREATED -> PENDING_GATEWAY with the key; false when not CREATED. A key already used by another
  // payment throws DbError(unique_violation).
  Task<bool> start_gateway(const std::string& id, const std::string& payment_key);
  // CREATED card payment of user_id -> PENDING_GATEWAY with the key, returning the row; nullopt
  // when it is not this user's, not CREATED or has no card part (the caller reads it then).
  Task<std::optional<Payment>> start_gateway_owned(const std::string& id, const std::string& user_id,
                                                   const std::string& payment_key);
  // PENDING_GATEWAY -> CREATED without the key (the gateway call never left); false otherwise.
  Task<bool> release_gateway(const std::string& id);
  Task<bool> mark_unknown(const std::string& id, const std::string& reason);
  Task<void> touch(const std::string& id, Status status);
  Task<bool> mark_confirmed(store::Tx& tx, const std::string& id);
  // As mark_confirmed, returning the row as stored (nullopt when it did not move).
  Task<std::optional<Payment>> mark_confirmed_returning(store::Tx& tx, const std::string& id);
  // PostgreSQL: CONFIRMED plus its outbox row in one statement (one round trip, one commit);
  // nullopt when the payment did not move (and then no outbox row was written).
  bool confirm_in_one_statement() const;
  Task<std::optional<Payment>> confirm_with_event(const std::string& id, Millis now, std::string event_id,
                                                  std::string topic, std::string key, std::string payload,
                                                  std::string trace_id);
  Task<bool> mark_failed(store::Tx& tx, const std::string& id, const std::string& reason);
  Task<bool> mark_refund_outcome(store::Tx& tx, const std::string& id, Status status,
                                 std::optional<std::string> reason);
  Task<std::vector<Payment>> needs_reconcile(Millis unknown_before, Millis pending_before,
                                             std::int64_t limit);
  Task<std::vector<Payment>> abandoned(Millis now, std::int64_t limit);
  Task<std::vector<Payment>> search(const PaymentFilter& f);

  // Refunds.
  Task<bool> insert_refund(store::Tx& tx, const Refund& r);  // false when the payment has one already
  Task<std::optional<Refund>> find_refund(const std::string& payment_id);
  Task<std::vector<Refund>> pending_refunds(Millis updated_before, std::int64_t limit);
  Task<bool> finish_refund(store::Tx& tx, const std::string& id, RefundStatus status,
                           std::optional<std::string> reason);
  Task<void> touch_refund(const std::string& id);

  Task<std::vector<RevenueDay>> revenue(Millis from, Millis to);

  static Payment payment_from(const store::Row& row);
  const store::GroupCommit* group_commit() const { return group_.get(); }  // null when off
  static Refund refund_from(const store::Row& row);

 private:
  // One statement alone, or through the group commit (PostgreSQL, write_batch > 1). `rows`: the
  // payment row and the unique keys the statement inserts or locks.
  Task<store::Result> write(const char* sql, store::Params params, std::vector<std::string> rows);

  store::DatabasePtr db_;
  ClockPtr clock_;
  std::unique_ptr<store::GroupCommit> group_;  // null when off
};

}  // namespace tiketi::payment
