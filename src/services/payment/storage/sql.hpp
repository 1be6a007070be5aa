#pragma once
// Every statement of the payment service, named. One text runs on both engines.
namespace tiketi::payment::sql {

inline constexpr const char* kPaymentColumns =
    "id, user_id, purpose, reservation_id, order_id, amount, points_amount, card_amount, status, payment_key,"
    " idempotency_key, request_hash, failure_reason, created_at, updated_at, confirmed_at, expires_at";

// Points.
inline constexpr const char* kSpendPoints =
    "UPDATE point_accounts SET balance = balance - $2, updated_at = $3"
    " WHERE user_id = $1 AND balance >= $2 RETURNING balance";
inline constexpr const char* kCreditPoints =
    "INSERT INTO point_accounts (user_id, balance, updated_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (user_id) DO UPDATE SET balance = point_accounts.balance + excluded.balance,"
    " updated_at = excluded.updated_at RETURNING balance";
inline constexpr const char* kInsertHistory =
    "INSERT INTO point_history (id, user_id, kind, amount, balance_after, reference, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
inline constexpr const char* kBalance = "SELECT balance FROM point_accounts WHERE user_id = $1";
inline constexpr const char* kHistory =
    "SELECT id, user_id, kind, amount, balance_after, reference, created_at FROM point_history"
    " WHERE user_id = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3))"
    " ORDER BY created_at DESC, id DESC LIMIT $4";

// Payments.
inline constexpr const char* kInsertPayment =
    "INSERT INTO payments (id, user_id, purpose, reservation_id, order_id, amount, points_amount, "
    "card_amount,"
    " status, payment_key, idempotency_key, request_hash, failure_reason, created_at, updated_at, "
    "confirmed_at,"
    " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, NULL, $12, $12, NULL, $13)";
inline constexpr const char* kFindPayment = "SELECT * FROM payments WHERE id = $1";
inline constexpr const char* kFindByIdempotency =
    "SELECT * FROM payments WHERE user_id = $1 AND idempotency_key = $2";
inline constexpr const char* kFindByReservation =
    "SELECT * FROM payments WHERE reservation_id = $1 ORDER BY created_at, id";
// Conditional transitions: the WHERE on the current status makes each one happen once.
inline constexpr const char* kStartGateway =
    "UPDATE payments SET status = 'PENDING_GATEWAY', payment_key = $2, updated_at = $3"
    " WHERE id = $1 AND status = 'CREATED'";
// The confirm request's first statement: ownership, state and the key in one durable write
// (one round trip instead of a SELECT and then the conditional UPDATE). No row: not this user's,
// not CREATED, or points only; the caller then reads the row and decides as before.
inline constexpr const char* kStartGatewayOwned =
    "UPDATE payments SET status = 'PENDING_GATEWAY', payment_key = $2, updated_at = $3"
    " WHERE id = $1 AND user_id = $4 AND status = 'CREATED' AND card_amount > 0 RETURNING *";
// The gateway was never reached (connect/TLS failure): back to CREATED, key released, so the fan
// can confirm again once the gateway is reachable.
inline constexpr const char* kReleaseGateway =
    "UPDATE payments SET status = 'CREATED', payment_key = NULL, updated_at = $2"
    " WHERE id = $1 AND status = 'PENDING_GATEWAY'";
inline constexpr const char* kMarkUnknown =
    "UPDATE payments SET status = 'UNKNOWN', failure_reason = $2, updated_at = $3"
    " WHERE id = $1 AND status = 'PENDING_GATEWAY'";
inline constexpr const char* kTouch = "UPDATE payments SET updated_at = $2 WHERE id = $1 AND status = $3";
inline constexpr const char* kMarkConfirmed =
    "UPDATE payments SET status = 'CONFIRMED', failure_reason = NULL, confirmed_at = $2, updated_at = $2"
    " WHERE id = $1 AND status IN ('CREATED', 'PENDING_GATEWAY', 'UNKNOWN')";
inline constexpr const char* kMarkConfirmedReturning =
    "UPDATE payments SET status = 'CONFIRMED', failure_reason = NULL, confirmed_at = $2, updated_at = $2"
    " WHERE id = $1 AND status IN ('CREATED', 'PENDING_GATEWAY', 'UNKNOWN') RETURNING *";
// PostgreSQL only: CONFIRMED and its payment.completed outbox row as ONE statement in its own
// implicit transaction (one round trip, one commit instead of BEGIN/UPDATE/INSERT/COMMIT). The
// outbox row is inserted only when the UPDATE moved the row, so a second confirm writes nothing.
// Columns as coord::Outbox::add writes them ($3 id, $4 topic, $5 key, $6 payload, $7 trace_id).
inline constexpr const char* kConfirmWithOutboxPg =
    "WITH moved AS (UPDATE payments SET status = 'CONFIRMED', failure_reason = NULL, confirmed_at = $2,"
    " updated_at = $2 WHERE id = $1 AND status IN ('CREATED', 'PENDING_GATEWAY', 'UNKNOWN') RETURNING *),"
    " event AS (INSERT INTO outbox (id, topic, key, payload, trace_id, created_at)"
    " SELECT $3::text, $4::text, $5::text, $6::text, $7::text, $2::bigint FROM moved)"
    " SELECT * FROM moved";
inline constexpr const char* kMarkFailed =
    "UPDATE payments SET status = 'FAILED', failure_reason = $2, updated_at = $3"
    " WHERE id = $1 AND status IN ('CREATED', 'PENDING_GATEWAY', 'UNKNOWN')";
inline constexpr const char* kMarkRefundOutcome =
    "UPDATE payments SET status = $2, failure_reason = $3, updated_at = $4 WHERE id = $1 AND status = "
    "'CONFIRMED'";
// Work for the reconciler: unknown outcomes, gateway calls older than the timeout (a crash
// between commit and answer), and abandoned CREATED payments.
inline constexpr const char* kNeedsReconcile =
    "SELECT * FROM payments WHERE (status = 'UNKNOWN' AND updated_at <= $1)"
    " OR (status = 'PENDING_GATEWAY' AND updated_at <= $2) ORDER BY updated_at LIMIT $3";
inline constexpr const char* kAbandoned =
    "SELECT * FROM payments WHERE status = 'CREATED' AND expires_at IS NOT NULL AND expires_at < $1"
    " ORDER BY expires_at LIMIT $2";

// Refunds.
inline constexpr const char* kInsertRefund =
    "INSERT INTO refunds (id, payment_id, reason, source, points_amount, card_amount, status, failure_reason,"
    " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8)"
    " ON CONFLICT (payment_id) DO NOTHING";
inline constexpr const char* kFindRefund = "SELECT * FROM refunds WHERE payment_id = $1";
inline constexpr const char* kPendingRefunds =
    "SELECT * FROM refunds WHERE status = 'PENDING' AND updated_at <= $1 ORDER BY updated_at LIMIT $2";
inline constexpr const char* kFinishRefund =
    "UPDATE refunds SET status = $2, failure_reason = $3, updated_at = $4 WHERE id = $1 AND status = "
    "'PENDING'";
inline constexpr const char* kTouchRefund = "UPDATE refunds SET updated_at = $2 WHERE id = $1";

// Admin.
inline constexpr const char* kRevenue =
    "SELECT confirmed_at / 86400000 AS day, COUNT(*) AS payments, COALESCE(SUM(card_amount), 0) AS card,"
    " COALESCE(SUM(points_amount), 0) AS points FROM payments"
    " WHERE status = 'CONFIRMED' AND purpose = 'RESERVATION' AND confirmed_at >= $1 AND confirmed_at < $2"
    " GROUP BY confirmed_at / 86400000 ORDER BY day";

}  // namespace tiketi::payment::sql
