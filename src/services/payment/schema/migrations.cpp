#include "services/payment/schema/migrations.hpp"

#include "coord/outbox.hpp"

namespace tiketi::payment {

std::vector<store::Migration> migrations() {
  return {
      {1, "create points and payments",
       // The balance never goes negative: spends are conditional updates and the CHECK is the
       // last line of defence.
       "CREATE TABLE point_accounts ("
       " user_id TEXT PRIMARY KEY,"
       " balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),"
       " updated_at BIGINT NOT NULL);"
       "CREATE TABLE point_history ("
       " id TEXT PRIMARY KEY,"
       " user_id TEXT NOT NULL,"
       " kind TEXT NOT NULL CHECK (kind IN ('CHARGE', 'USE', 'REFUND')),"
       " amount BIGINT NOT NULL CHECK (amount > 0),"
       " balance_after BIGINT NOT NULL CHECK (balance_after >= 0),"
       " reference TEXT NOT NULL,"
       " created_at BIGINT NOT NULL);"
       "CREATE INDEX point_history_user ON point_history (user_id, created_at, id);"
       // One entry of each kind per reference (payment id): a redelivered event can never move
       // the same points twice.
       "CREATE UNIQUE INDEX point_history_reference ON point_history (kind, reference);"
       "CREATE TABLE payments ("
       " id TEXT PRIMARY KEY,"
       " user_id TEXT NOT NULL,"
       " purpose TEXT NOT NULL CHECK (purpose IN ('RESERVATION', 'POINT_CHARGE')),"
       " reservation_id TEXT,"
       " order_id TEXT NOT NULL UNIQUE,"
       " amount BIGINT NOT NULL CHECK (amount >= 0),"
       " points_amount BIGINT NOT NULL CHECK (points_amount >= 0),"
       " card_amount BIGINT NOT NULL CHECK (card_amount >= 0),"
       " status TEXT NOT NULL CHECK (status IN ('CREATED', 'PENDING_GATEWAY', 'UNKNOWN', 'CONFIRMED',"
       "   'FAILED', 'REFUNDED', 'REFUND_FAILED')),"
       " payment_key TEXT,"
       " idempotency_key TEXT,"
       " request_hash TEXT NOT NULL,"
       " failure_reason TEXT,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL,"
       " confirmed_at BIGINT,"
       " expires_at BIGINT,"
       " CHECK (points_amount + card_amount = amount),"
       " UNIQUE (user_id, idempotency_key));"
       // A gateway payment key pays for one payment only (a replayed key is refused).
       "CREATE UNIQUE INDEX payments_payment_key ON payments (payment_key);"
       // At most one live payment per reservation: two tabs can never both charge for it.
       "CREATE UNIQUE INDEX payments_reservation_live ON payments (reservation_id)"
       " WHERE status IN ('CREATED', 'PENDING_GATEWAY', 'UNKNOWN', 'CONFIRMED');"
       "CREATE INDEX payments_status ON payments (status, updated_at);"
       "CREATE INDEX payments_user ON payments (user_id, created_at);"
       "CREATE INDEX payments_confirmed ON payments (confirmed_at);"
       // One refund per payment (refunds are always full).
       "CREATE TABLE refunds ("
       " id TEXT PRIMARY KEY,"
       " payment_id TEXT NOT NULL UNIQUE,"
       " reason TEXT NOT NULL,"
       " source TEXT NOT NULL,"
       " points_amount BIGINT NOT NULL,"
       " card_amount BIGINT NOT NULL,"
       " status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),"
       " failure_reason TEXT,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL);"
       "CREATE INDEX refunds_status ON refunds (status, updated_at);"},
      coord::outbox_migration(2),
      // Fewer index entries per payment. A payment row is written three times on its way to
      // CONFIRMED (insert, PENDING_GATEWAY, CONFIRMED), and none of those updates is HOT (status,
      // payment_key and confirmed_at are indexed), so every index of the table gets an entry per
      // version: 8 indexes x 3 versions. payments_user duplicated the leading column of
      // UNIQUE (user_id, idempotency_key), which serves the admin search by user; payment_key and
      // confirmed_at are NULL until the gateway step / confirmation, so partial indexes skip those
      // versions (uniqueness of payment_key is unchanged: NULLs never conflicted; the revenue query's
      // confirmed_at range implies IS NOT NULL).
      {3, "fewer payment index entries",
       "DROP INDEX IF EXISTS payments_user;"
       "DROP INDEX IF EXISTS payments_payment_key;"
       "CREATE UNIQUE INDEX payments_payment_key ON payments (payment_key) WHERE payment_key IS NOT NULL;"
       "DROP INDEX IF EXISTS payments_confirmed;"
       "CREATE INDEX payments_confirmed ON payments (confirmed_at) WHERE confirmed_at IS NOT NULL",
       "", ""},
  };
}

}  // namespace tiketi::payment
