#include "services/payment/storage/payment_store.hpp"

#include <limits>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/payment/storage/sql.hpp"

namespace tiketi::payment {

using store::p;

PaymentStore::PaymentStore(store::DatabasePtr db, ClockPtr clock, std::size_t write_batch)
    : db_(std::move(db)), clock_(std::move(clock)) {
  if (write_batch > 1 && db_->engine() == store::Engine::postgres) {
    group_ = std::make_unique<store::GroupCommit>(db_, store::GroupCommitOptions{.batch = write_batch});
  }
}

PaymentStore::~PaymentStore() = default;

Task<store::Result> PaymentStore::write(const char* sql, store::Params params, std::vector<std::string> rows) {
  if (!group_) {
    auto res = co_await db_->exec(sql, std::move(params));
    co_return res;
  }
  std::vector<std::pair<std::string, store::Params>> stmts;
  stmts.emplace_back(sql, std::move(params));
  auto res = co_await group_->run(std::move(stmts), std::move(rows));
  co_return std::move(res.at(0));
}

Payment PaymentStore::payment_from(const store::Row& row) {
  Payment x;
  x.id = row.str("id");
  x.user_id = row.str("user_id");
  x.purpose = parse_purpose(row.str("purpose"));
  x.reservation_id = row.opt_str("reservation_id");
  x.order_id = row.str("order_id");
  x.amount = row.i64("amount");
  x.points_amount = row.i64("points_amount");
  x.card_amount = row.i64("card_amount");
  x.status = parse_status(row.str("status")).value_or(Status::failed);
  x.payment_key = row.opt_str("payment_key");
  x.idempotency_key = row.opt_str("idempotency_key");
  x.request_hash = row.str("request_hash");
  x.failure_reason = row.opt_str("failure_reason");
  x.created_at = row.i64("created_at");
  x.updated_at = row.i64("updated_at");
  x.confirmed_at = row.opt_i64("confirmed_at");
  x.expires_at = row.opt_i64("expires_at");
  return x;
}

Refund PaymentStore::refund_from(const store::Row& row) {
  Refund r;
  r.id = row.str("id");
  r.payment_id = row.str("payment_id");
  r.reason = row.str("reason");
  r.source = row.str("source");
  r.points_amount = row.i64("points_amount");
  r.card_amount = row.i64("card_amount");
  r.status = parse_refund_status(row.str("status"));
  r.failure_reason = row.opt_str("failure_reason");
  r.created_at = row.i64("created_at");
  r.updated_at = row.i64("updated_at");
  return r;
}

Task<std::int64_t> PaymentStore::spend_points(store::Tx& tx, const std::string& user_id, std::int64_t amount,
                                              const std::string& reference) {
  const Millis now = clock_->now_ms();
  store::Params params{p(user_id), p(amount), p(now)};
  auto res = co_await tx.exec(sql::kSpendPoints, std::move(params));
  if (res.rows.empty()) {
    throw errors::conflict("insufficient_points", "Not enough points.");
  }
  const std::int64_t after = res.rows.front().i64(0);
  store::Params hist{p(ids::uuid_v7(now)), p(user_id), p(to_string(PointKind::use)), p(amount), p(after),
                     p(reference),         p(now)};
  co_await tx.exec(sql::kInsertHistory, std::move(hist));
  co_return after;
}

Task<std::int64_t> PaymentStore::credit_points(store::Tx& tx, const std::string& user_id, std::int64_t amount,
                                               PointKind kind, const std::string& reference) {
  const Millis now = clock_->now_ms();
  store::Params params{p(user_id), p(amount), p(now)};
  auto res = co_await tx.exec(sql::kCreditPoints, std::move(params));
  const std::int64_t after = res.one().i64(0);
  store::Params hist{p(ids::uuid_v7(now)), p(user_id), p(to_string(kind)), p(amount), p(after),
                     p(reference),         p(now)};
  co_await tx.exec(sql::kInsertHistory, std::move(hist));
  co_return after;
}

Task<std::int64_t> PaymentStore::balance(const std::string& user_id) {
  store::Params params{p(user_id)};
  auto res = co_await db_->exec(sql::kBalance, std::move(params));
  co_return res.rows.empty() ? 0 : res.rows.front().i64(0);
}

Task<std::vector<PointEntry>> PaymentStore::history(const std::string& user_id, std::int64_t limit,
                                                    std::optional<HistoryCursor> before) {
  const HistoryCursor c = before.value_or(HistoryCursor{std::numeric_limits<std::int64_t>::max(), ""});
  store::Params params{p(user_id), p(c.created_at), p(c.id), p(limit)};
  if (!before) {
    // No cursor: every id sorts below "~" (ids are hex and dashes), so the first page is complete.
    params[2] = p("~");
  }
  auto res = co_await db_->exec(sql::kHistory, std::move(params));
  std::vector<PointEntry> out;
  out.reserve(res.rows.size());
  for (const auto& row : res.rows) {
    PointEntry e;
    e.id = row.str("id");
    e.user_id = row.str("user_id");
    const auto kind = row.str("kind");
    e.kind = kind == "USE" ? PointKind::use : kind == "REFUND" ? PointKind::refund : PointKind::charge;
    e.amount = row.i64("amount");
    e.balance_after = row.i64("balance_after");
    e.reference = row.str("reference");
    e.created_at = row.i64("created_at");
    out.push_back(std::move(e));
  }
  co_return out;
}

namespace {
// kInsertPayment's parameters, for both insert overloads.
store::Params insert_params(const Payment& x) {
  return store::Params{p(x.id),
                       p(x.user_id),
                       p(to_string(x.purpose)),
                       p(x.reservation_id),
                       p(x.order_id),
                       p(x.amount),
                       p(x.points_amount),
                       p(x.card_amount),
                       p(to_string(x.status)),
                       p(x.idempotency_key),
                       p(x.request_hash),
                       p(x.created_at),
                       p(x.expires_at)};
}
}  // namespace

Task<void> PaymentStore::insert(store::Tx& tx, const Payment& x) {
  auto params = insert_params(x);
  co_await tx.exec(sql::kInsertPayment, std::move(params));
}

Task<void> PaymentStore::insert(const Payment& x) {
  auto params = insert_params(x);
  // Unique keys it inserts: two batches in flight never wait for each other on them.
  std::vector<std::string> rows{"p\n" + x.id, "o\n" + x.order_id};
  if (x.reservation_id) {
    rows.push_back("r\n" + *x.reservation_id);
  }
  if (x.idempotency_key) {
    rows.push_back("k\n" + x.user_id + "\n" + *x.idempotency_key);
  }
  co_await write(sql::kInsertPayment, std::move(params), std::move(rows));
}

Task<std::optional<Payment>> PaymentStore::find(const std::string& id) {
  store::Params params{p(id)};
  auto res = co_await db_->exec(sql::kFindPayment, std::move(params));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return payment_from(res.rows.front());
}

Task<std::optional<Payment>> PaymentStore::find(store::Tx& tx, const std::string& id) {
  store::Params params{p(id)};
  auto res = co_await tx.exec(sql::kFindPayment, std::move(params));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return payment_from(res.rows.front());
}

Task<std::optional<Payment>> PaymentStore::find_by_idempotency(const std::string& user_id,
                                                               const std::string& key) {
  store::Params params{p(user_id), p(key)};
  auto res = co_await db_->exec(sql::kFindByIdempotency, std::move(params));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return payment_from(res.rows.front());
}

Task<std::vector<Payment>> PaymentStore::find_by_reservation(store::Tx& tx,
                                                             const std::string& reservation_id) {
  store::Params params{p(reservation_id)};
  auto res = co_await tx.exec(sql::kFindByReservation, std::move(params));
  std::vector<Payment> out;
  for (const auto& row : res.rows) {
    out.push_back(payment_from(row));
  }
  co_return out;
}

Task<bool> PaymentStore::start_gateway(const std::string& id, const std::string& payment_key) {
  store::Params params{p(id), p(payment_key), p(clock_->now_ms())};
  auto res = co_await db_->exec(sql::kStartGateway, std::move(params));
  co_return res.affected == 1;
}

Task<std::optional<Payment>> PaymentStore::start_gateway_owned(const std::string& id, const std::string& user_id,
                                                               const std::string& payment_key) {
  store::Params params{p(id), p(payment_key), p(clock_->now_ms()), p(user_id)};
  std::vector<std::string> rows{"p\n" + id, "g\n" + payment_key};
  auto res = co_await write(sql::kStartGatewayOwned, std::move(params), std::move(rows));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return payment_from(res.rows.front());
}

Task<bool> PaymentStore::release_gateway(const std::string& id) {
  store::Params params{p(id), p(clock_->now_ms())};
  auto res = co_await db_->exec(sql::kReleaseGateway, std::move(params));
  co_return res.affected == 1;
}

Task<bool> PaymentStore::mark_unknown(const std::string& id, const std::string& reason) {
  store::Params params{p(id), p(reason), p(clock_->now_ms())};
  auto res = co_await db_->exec(sql::kMarkUnknown, std::move(params));
  co_return res.affected == 1;
}

Task<void> PaymentStore::touch(const std::string& id, Status status) {
  store::Params params{p(id), p(clock_->now_ms()), p(to_string(status))};
  co_await db_->exec(sql::kTouch, std::move(params));
}

Task<bool> PaymentStore::mark_confirmed(store::Tx& tx, const std::string& id) {
  store::Params params{p(id), p(clock_->now_ms())};
  auto res = co_await tx.exec(sql::kMarkConfirmed, std::move(params));
  co_return res.affected == 1;
}

Task<std::optional<Payment>> PaymentStore::mark_confirmed_returning(store::Tx& tx, const std::string& id) {
  store::Params params{p(id), p(clock_->now_ms())};
  auto res = co_await tx.exec(sql::kMarkConfirmedReturning, std::move(params));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return payment_from(res.rows.front());
}

bool PaymentStore::confirm_in_one_statement() const { return db_->engine() == store::Engine::postgres; }

Task<std::optional<Payment>> PaymentStore::confirm_with_event(const std::string& id, Millis now,
                                                              std::string event_id, std::string topic,
                                                              std::string key, std::string payload,
                                                              std::string trace_id) {
  store::Params params{p(id),
                       p(now),
                       p(std::move(event_id)),
                       p(std::move(topic)),
                       p(std::move(key)),
                       p(std::move(payload)),
                       p(std::move(trace_id))};
  std::vector<std::string> rows{"p\n" + id};
  auto res = co_await write(sql::kConfirmWithOutboxPg, std::move(params), std::move(rows));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return payment_from(res.rows.front());
}

Task<bool> PaymentStore::mark_failed(store::Tx& tx, const std::string& id, const std::string& reason) {
  store::Params params{p(id), p(reason), p(clock_->now_ms())};
  auto res = co_await tx.exec(sql::kMarkFailed, std::move(params));
  co_return res.affected == 1;
}

Task<bool> PaymentStore::mark_refund_outcome(store::Tx& tx, const std::string& id, Status status,
                                             std::optional<std::string> reason) {
  store::Params params{p(id), p(to_string(status)), p(reason), p(clock_->now_ms())};
  auto res = co_await tx.exec(sql::kMarkRefundOutcome, std::move(params));
  co_return res.affected == 1;
}

Task<std::vector<Payment>> PaymentStore::needs_reconcile(Millis unknown_before, Millis pending_before,
                                                         std::int64_t limit) {
  store::Params params{p(unknown_before), p(pending_before), p(limit)};
  auto res = co_await db_->exec(sql::kNeedsReconcile, std::move(params));
  std::vector<Payment> out;
  for (const auto& row : res.rows) {
    out.push_back(payment_from(row));
  }
  co_return out;
}

Task<std::vector<Payment>> PaymentStore::abandoned(Millis now, std::int64_t limit) {
  store::Params params{p(now), p(limit)};
  auto res = co_await db_->exec(sql::kAbandoned, std::move(params));
  std::vector<Payment> out;
  for (const auto& row : res.rows) {
    out.push_back(payment_from(row));
  }
  co_return out;
}

Task<std::vector<Payment>> PaymentStore::search(const PaymentFilter& f) {
  std::string q = "SELECT * FROM payments WHERE 1 = 1";
  store::Params params;
  auto add = [&](const char* column, const std::optional<std::string>& v) {
    if (v) {
      params.push_back(p(*v));
      q += std::string(" AND ") + column + " = $" + std::to_string(params.size());
    }
  };
  add("status", f.status);
  add("user_id", f.user_id);
  add("reservation_id", f.reservation_id);
  add("order_id", f.order_id);
  params.push_back(p(f.limit));
  q += " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(params.size());
  auto res = co_await db_->exec(q, std::move(params));
  std::vector<Payment> out;
  for (const auto& row : res.rows) {
    out.push_back(payment_from(row));
  }
  co_return out;
}

Task<bool> PaymentStore::insert_refund(store::Tx& tx, const Refund& r) {
  store::Params params{
      p(r.id),          p(r.payment_id),        p(r.reason),    p(r.source), p(r.points_amount),
      p(r.card_amount), p(to_string(r.status)), p(r.created_at)};
  auto res = co_await tx.exec(sql::kInsertRefund, std::move(params));
  co_return res.affected == 1;
}

Task<std::optional<Refund>> PaymentStore::find_refund(const std::string& payment_id) {
  store::Params params{p(payment_id)};
  auto res = co_await db_->exec(sql::kFindRefund, std::move(params));
  if (res.rows.empty()) {
    co_return std::nullopt;
  }
  co_return refund_from(res.rows.front());
}

Task<std::vector<Refund>> PaymentStore::pending_refunds(Millis updated_before, std::int64_t limit) {
  store::Params params{p(updated_before), p(limit)};
  auto res = co_await db_->exec(sql::kPendingRefunds, std::move(params));
  std::vector<Refund> out;
  for (const auto& row : res.rows) {
    out.push_back(refund_from(row));
  }
  co_return out;
}

Task<bool> PaymentStore::finish_refund(store::Tx& tx, const std::string& id, RefundStatus status,
                                       std::optional<std::string> reason) {
  store::Params params{p(id), p(to_string(status)), p(reason), p(clock_->now_ms())};
  auto res = co_await tx.exec(sql::kFinishRefund, std::move(params));
  co_return res.affected == 1;
}

Task<void> PaymentStore::touch_refund(const std::string& id) {
  store::Params params{p(id), p(clock_->now_ms())};
  co_await db_->exec(sql::kTouchRefund, std::move(params));
}

Task<std::vector<RevenueDay>> PaymentStore::revenue(Millis from, Millis to) {
  store::Params params{p(from), p(to)};
  auto res = co_await db_->exec(sql::kRevenue, std::move(params));
  std::vector<RevenueDay> out;
  for (const auto& row : res.rows) {
    out.push_back(RevenueDay{row.i64("day"), row.i64("payments"), row.i64("card"), row.i64("points")});
  }
  co_return out;
}

}  // namespace tiketi::payment
