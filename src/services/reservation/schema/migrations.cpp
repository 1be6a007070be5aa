#include "services/reservation/schema/migrations.hpp"

#include "coord/outbox.hpp"

namespace tiketi::reservation {

std::vector<store::Migration> migrations() {
  return {
      {1, "create inventory",
       // What this service knows about an event, copied from event.published / status_changed.
       "CREATE TABLE events ("
       " event_id TEXT PRIMARY KEY,"
       " title TEXT NOT NULL,"
       " status TEXT NOT NULL,"
       " sale_start BIGINT NOT NULL,"
       " sale_end BIGINT NOT NULL,"
       " performance_start BIGINT NOT NULL,"
       " per_user_limit BIGINT NOT NULL,"
       " hold_minutes BIGINT NOT NULL,"
       " waiting_room INTEGER NOT NULL DEFAULT 0,"
       " updated_at BIGINT NOT NULL);"
       "CREATE TABLE ticket_types ("
       " event_id TEXT NOT NULL,"
       " ticket_type_id TEXT NOT NULL,"
       " name TEXT NOT NULL,"
       " kind TEXT NOT NULL CHECK (kind IN ('seated', 'general_admission')),"
       " price BIGINT NOT NULL,"
       " quota BIGINT,"
       " PRIMARY KEY (event_id, ticket_type_id));"
       // One row per seat. hold_id is the reservation holding it while status = 'held';
       // reservation_id the owner once 'sold'. An expired hold (hold_expires_at < now) counts as free.
       "CREATE TABLE seats ("
       " event_id TEXT NOT NULL,"
       " seat_id TEXT NOT NULL,"
       " label TEXT NOT NULL,"
       " ticket_type_id TEXT NOT NULL,"
       " price BIGINT NOT NULL,"
       " status TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'sold')),"
       " hold_id TEXT,"
       " hold_expires_at BIGINT,"
       " reservation_id TEXT,"
       " version BIGINT NOT NULL DEFAULT 0,"
       " PRIMARY KEY (event_id, seat_id));"
       // A general-admission quota split into stripes so concurrent buyers do not queue on one hot
       // row; the caps sum to the quota and each stripe can never exceed its own cap.
       "CREATE TABLE quota_stripes ("
       " event_id TEXT NOT NULL,"
       " ticket_type_id TEXT NOT NULL,"
       " stripe INTEGER NOT NULL,"
       " cap BIGINT NOT NULL,"
       " used BIGINT NOT NULL DEFAULT 0,"
       " PRIMARY KEY (event_id, ticket_type_id, stripe),"
       " CHECK (used >= 0 AND used <= cap));"
       // Tickets a user holds or owns for an event (live = PENDING + CONFIRMED), updated
       // conditionally inside every hold so parallel requests cannot pass the limit together.
       "CREATE TABLE user_limits ("
       " event_id TEXT NOT NULL,"
       " user_id TEXT NOT NULL,"
       " tickets BIGINT NOT NULL CHECK (tickets >= 0),"
       " PRIMARY KEY (event_id, user_id))",
       "", ""},
      {2, "create reservations",
       "CREATE TABLE reservations ("
       " id TEXT PRIMARY KEY,"
       " user_id TEXT NOT NULL,"
       " event_id TEXT NOT NULL,"
       " status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'EXPIRED', 'CANCELLED')),"
       " kind TEXT NOT NULL CHECK (kind IN ('seated', 'general_admission')),"
       " ticket_type_id TEXT,"
       " quantity BIGINT NOT NULL,"
       " amount BIGINT NOT NULL,"
       " expires_at BIGINT NOT NULL,"
       " idempotency_key TEXT,"
       " request_hash TEXT NOT NULL,"
       " payment_id TEXT,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL,"
       " confirmed_at BIGINT,"
       " cancelled_at BIGINT,"
       " UNIQUE (user_id, idempotency_key));"
       "CREATE INDEX reservations_user ON reservations (user_id, created_at);"
       "CREATE INDEX reservations_event ON reservations (event_id, status);"
       "CREATE INDEX reservations_pending ON reservations (expires_at) WHERE status = 'PENDING';"
       "CREATE TABLE reservation_items ("
       " reservation_id TEXT NOT NULL,"
       " idx INTEGER NOT NULL,"
       " seat_id TEXT,"
       " label TEXT NOT NULL,"
       " ticket_type_id TEXT NOT NULL,"
       " unit_price BIGINT NOT NULL,"
       " quantity BIGINT NOT NULL,"
       " stripe INTEGER,"
       " PRIMARY KEY (reservation_id, idx));"
       "CREATE TABLE tickets ("
       " code TEXT PRIMARY KEY,"
       " reservation_id TEXT NOT NULL,"
       " event_id TEXT NOT NULL,"
       " user_id TEXT NOT NULL,"
       " seat_id TEXT,"
       " ticket_type_id TEXT NOT NULL,"
       " label TEXT NOT NULL,"
       " status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'cancelled')),"
       " issued_at BIGINT NOT NULL,"
       " checked_in_at BIGINT,"
       " checked_in_by TEXT);"
       "CREATE INDEX tickets_user ON tickets (user_id, issued_at);"
       "CREATE INDEX tickets_reservation ON tickets (reservation_id)",
       "", ""},
      coord::outbox_migration(3),
      // inventory.sold_out is emitted once per event: the row is the proof it was.
      {4, "sold out marker", "CREATE TABLE sold_out (event_id TEXT PRIMARY KEY, sold_out_at BIGINT NOT NULL)", "",
       ""},
  };
}

}  // namespace tiketi::reservation
