#pragma once
// Every statement of the reservation service, named. One text runs on both engines; the few
// statements over a list of seats are generated with one placeholder per seat (IN ($5, $6, …)),
// which both engines accept, instead of PostgreSQL's ANY(array).
#include <cstddef>
#include <string>
#include <vector>

namespace tiketi::reservation::sql {

// "$first, $first+1, …" — n placeholders.
std::string placeholders(std::size_t first, std::size_t n);

// ---- events (inventory header) ----
inline constexpr const char* kSelectEvent =
    "SELECT event_id, title, status, sale_start, sale_end, performance_start, per_user_limit, hold_minutes,"
    " waiting_room FROM events WHERE event_id = $1";
inline constexpr const char* kUpsertEvent =
    "INSERT INTO events (event_id, title, status, sale_start, sale_end, performance_start, per_user_limit,"
    " hold_minutes, waiting_room, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (event_id) DO UPDATE SET title = excluded.title, status = excluded.status,"
    " sale_start = excluded.sale_start, sale_end = excluded.sale_end,"
    " performance_start = excluded.performance_start, per_user_limit = excluded.per_user_limit,"
    " hold_minutes = excluded.hold_minutes, waiting_room = excluded.waiting_room,"
    " updated_at = excluded.updated_at";
inline constexpr const char* kUpdateEventStatus =
    "UPDATE events SET status = $2, sale_start = $3, sale_end = $4, updated_at = $5 WHERE event_id = $1";

// ---- ticket types and quotas ----
inline constexpr const char* kUpsertTicketType =
    "INSERT INTO ticket_types (event_id, ticket_type_id, name, kind, price, quota) VALUES ($1, $2, $3, $4, "
    "$5, $6)"
    " ON CONFLICT (event_id, ticket_type_id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
    " price = excluded.price, quota = excluded.quota";
inline constexpr const char* kSelectTicketType =
    "SELECT ticket_type_id, name, kind, price, quota FROM ticket_types WHERE event_id = $1 AND "
    "ticket_type_id = $2";
inline constexpr const char* kSelectTicketTypes =
    "SELECT ticket_type_id, name, kind, price, quota FROM ticket_types WHERE event_id = $1 ORDER BY "
    "ticket_type_id";
inline constexpr const char* kSelectStripes =
    "SELECT stripe, cap, used FROM quota_stripes WHERE event_id = $1 AND ticket_type_id = $2 ORDER BY stripe";
inline constexpr const char* kInsertStripe =
    "INSERT INTO quota_stripes (event_id, ticket_type_id, stripe, cap, used) VALUES ($1, $2, $3, $4, 0)"
    " ON CONFLICT (event_id, ticket_type_id, stripe) DO NOTHING";
inline constexpr const char* kSetStripeCap =
    "UPDATE quota_stripes SET cap = $4 WHERE event_id = $1 AND ticket_type_id = $2 AND stripe = $3 AND used "
    "<= $4";
// The quota decision: succeeds only while this stripe stays within its own cap.
inline constexpr const char* kTakeFromStripe =
    "UPDATE quota_stripes SET used = used + $4"
    " WHERE event_id = $1 AND ticket_type_id = $2 AND stripe = $3 AND used + $4 <= cap";
inline constexpr const char* kReturnToStripe =
    "UPDATE quota_stripes SET used = used - $4"
    " WHERE event_id = $1 AND ticket_type_id = $2 AND stripe = $3 AND used >= $4";
inline constexpr const char* kQuotaFree =
    "SELECT COALESCE(SUM(cap - used), 0) AS free, COUNT(*) AS n FROM quota_stripes"
    " WHERE event_id = $1 AND ticket_type_id = $2";

// ---- seats ----
// INSERT … ON CONFLICT for n seats ($1 event, then 4 per seat: seat_id, label, ticket_type_id, price).
// Status, holds and owners of existing seats are never touched by a republish.
std::string upsert_seats(std::size_t n);
// $1 event, $2.. seat ids.
std::string select_seats(std::size_t n);
// The hold decision ($1 event, $2 hold id, $3 hold expiry, $4 now, $5.. sorted seat ids): one
// conditional write over every requested seat; the caller compares the rows returned with n.
std::string hold_seats(std::size_t n);
// The whole seat hold as four statements run back to back in one SQLite write transaction (one trip
// to the database thread instead of six; SQLite has a single writer, so nothing interleaves):
//   [0] the seats, all or none: the uncorrelated count is taken once before any row changes, and the
//       user's ticket counter must leave room (RETURNING seat_id, label, ticket_type_id, price, version);
//   [1] the counter, [2] the reservation, [3] its items — each only when [0] held the seats.
// Parameters (the same list for each): $1 event, $2 reservation (= hold) id, $3 hold expiry, $4 now,
// $5 seat count, $6 user, $7 per-user limit, $8 idempotency key, $9 request hash, $10.. sorted seat ids.
// Not for PostgreSQL: under concurrent writers the count would not cover the rows it guards.
std::vector<std::string> hold_seats_sqlite(std::size_t n);
// A general-admission hold from one stripe as one SQLite write transaction (same reasoning as
// hold_seats_sqlite; each statement has its own parameters, listed with it). The item row is written
// first and names the stripe chosen (the first with room, while the user's counter leaves room); the
// other statements only act when it exists. When none was written the caller decides with the
// transaction (a quantity spread over several stripes near sell-out, or sold out, or the limit).
//  [0] item: $1 reservation, $2 name, $3 ticket type, $4 unit price, $5 quantity, $6 event, $7 user, $8 limit
inline constexpr const char* kGaItemSqlite =
    "INSERT INTO reservation_items (reservation_id, idx, seat_id, label, ticket_type_id, unit_price, quantity, stripe)"
    " SELECT $1, 0, NULL, $2, $3, $4, $5, s.stripe FROM quota_stripes s WHERE s.event_id = $6 AND s.ticket_type_id = $3"
    " AND s.used + $5 <= s.cap"
    " AND COALESCE((SELECT tickets FROM user_limits WHERE event_id = $6 AND user_id = $7), 0) + $5 <= $8"
    " ORDER BY s.stripe LIMIT 1";
//  [1] stripe: $1 event, $2 ticket type, $3 reservation, $4 quantity
inline constexpr const char* kGaTakeSqlite =
    "UPDATE quota_stripes SET used = used + $4 WHERE event_id = $1 AND ticket_type_id = $2"
    " AND stripe = (SELECT stripe FROM reservation_items WHERE reservation_id = $3 AND idx = 0) AND used + $4 <= cap";
//  [2] counter: $1 event, $2 user, $3 quantity, $4 reservation
inline constexpr const char* kGaCountSqlite =
    "INSERT INTO user_limits (event_id, user_id, tickets) SELECT $1, $2, $3"
    " WHERE EXISTS (SELECT 1 FROM reservation_items WHERE reservation_id = $4)"
    " ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = user_limits.tickets + excluded.tickets";
//  [3] reservation: $1 id, $2 user, $3 event, $4 ticket type, $5 quantity, $6 amount, $7 expiry,
//      $8 idempotency key, $9 request hash, $10 now
inline constexpr const char* kGaReservationSqlite =
    "INSERT INTO reservations (id, user_id, event_id, status, kind, ticket_type_id, quantity, amount, expires_at,"
    " idempotency_key, request_hash, created_at, updated_at)"
    " SELECT $1, $2, $3, 'PENDING', 'general_admission', $4, $5, $6, $7, $8, $9, $10, $10"
    " WHERE EXISTS (SELECT 1 FROM reservation_items WHERE reservation_id = $1)";
// The whole seat hold as ONE PostgreSQL statement (one round trip, one implicit transaction, one
// commit). Parameters as hold_seats_sqlite: $1 event, $2 reservation (= hold) id, $3 hold expiry,
// $4 now, $5 seat count, $6 user, $7 per-user limit, $8 idempotency key, $9 request hash, $10.. sorted
// seat ids. Lock order as everywhere else: the user's counter row, then the seats in seat-id order
// (SELECT … ORDER BY seat_id FOR UPDATE, which in READ COMMITTED returns each row's newest committed
// version). Only when every requested seat exists and is free does the counter move (within the
// limit, ON CONFLICT … WHERE), and only when the counter moved are the seats, the reservation and
// its items written: all or nothing without an error on a conflict. The UPDATE of the seats carries
// no status condition on purpose: its scan sees the statement's snapshot, which may be older than the
// version locked above (PostgreSQL re-checks the conditions on the newest version only when they
// held on the snapshot's); the locks make the check above final.
// Returns the seats held (seat_id, label, ticket_type_id, price, version), or — when nothing was
// held — one row with seat_id NULL and `found` (requested seats that exist) and `free` (of those,
// free); free = n with nothing held means the per-user limit.
std::string hold_seats_pg(std::size_t n);
// A general-admission hold from one given stripe as ONE PostgreSQL statement (same reasoning as
// hold_seats_pg; lock order counter -> stripe). $1 event, $2 ticket type, $3 user, $4 stripe,
// $5 quantity, $6 per-user limit, $7 reservation id, $8 amount, $9 expiry, $10 idempotency key,
// $11 request hash, $12 now, $13 item label (ticket type name), $14 unit price.
// Returns one row: `stripe` (NULL when nothing was written) and `room` (1 when the stripe had room;
// room = 1 with stripe NULL means the per-user limit).
inline constexpr const char* kGaHoldPg =
    "WITH lim0 AS (SELECT tickets FROM user_limits WHERE event_id = $1::text AND user_id = $3::text FOR UPDATE),"
    " st AS (SELECT stripe, cap, used FROM quota_stripes WHERE event_id = $1::text AND ticket_type_id = $2::text"
    " AND stripe = $4::integer AND (SELECT COUNT(*) FROM lim0) >= 0 FOR UPDATE),"
    " lim AS (INSERT INTO user_limits (event_id, user_id, tickets) SELECT $1::text, $3::text, $5::bigint FROM st"
    " WHERE st.used + $5::bigint <= st.cap"
    " ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = user_limits.tickets + excluded.tickets"
    " WHERE user_limits.tickets + excluded.tickets <= $6::bigint RETURNING tickets),"
    " take AS (UPDATE quota_stripes SET used = used + $5::bigint WHERE event_id = $1::text"
    " AND ticket_type_id = $2::text AND stripe = $4::integer AND EXISTS (SELECT 1 FROM lim) RETURNING stripe),"
    " res AS (INSERT INTO reservations (id, user_id, event_id, status, kind, ticket_type_id, quantity, amount,"
    " expires_at, idempotency_key, request_hash, created_at, updated_at)"
    " SELECT $7::text, $3::text, $1::text, 'PENDING', 'general_admission', $2::text, $5::bigint, $8::bigint,"
    " $9::bigint, $10::text, $11::text, $12::bigint, $12::bigint FROM take RETURNING id),"
    " items AS (INSERT INTO reservation_items (reservation_id, idx, seat_id, label, ticket_type_id, unit_price,"
    " quantity, stripe) SELECT $7::text, 0, NULL, $13::text, $2::text, $14::bigint, $5::bigint, stripe FROM take"
    " RETURNING idx)"
    " SELECT (SELECT stripe FROM take) AS stripe,"
    " (SELECT COUNT(*) FROM st WHERE st.used + $5::bigint <= st.cap) AS room,"
    " (SELECT COUNT(*) FROM res) + (SELECT COUNT(*) FROM items) AS written";
// Seats of one reservation, locked in seat order on PostgreSQL ($1 event, $2.. seat ids).
std::string lock_seats(std::size_t n, bool for_update);
// $1 event, $2 reservation, $3.. seat ids. These three return (seat_id, version) of the rows changed.
std::string sell_seats(std::size_t n);
std::string release_held_seats(std::size_t n);
std::string release_sold_seats(std::size_t n);
inline constexpr const char* kSeatMap =
    "SELECT seat_id, label, ticket_type_id, price, status, hold_expires_at, version FROM seats WHERE event_id = $1"
    " ORDER BY seat_id";

// ---- per-user ticket counter ----
// Adds $3 tickets unless that would pass the limit $4 (the caller checks $3 <= $4 for a new row).
// The counter row with 0 tickets when there is none yet (see ReservationStore::pg_hold).
inline constexpr const char* kEnsureUserTickets =
    "INSERT INTO user_limits (event_id, user_id, tickets) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING";
inline constexpr const char* kReserveUserTickets =
    "INSERT INTO user_limits (event_id, user_id, tickets) VALUES ($1, $2, $3)"
    " ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = user_limits.tickets + excluded.tickets"
    " WHERE user_limits.tickets + excluded.tickets <= $4";
inline constexpr const char* kAddUserTickets =
    "INSERT INTO user_limits (event_id, user_id, tickets) VALUES ($1, $2, $3)"
    " ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = user_limits.tickets + excluded.tickets";
inline constexpr const char* kReleaseUserTickets =
    "UPDATE user_limits SET tickets = tickets - $3 WHERE event_id = $1 AND user_id = $2 AND tickets >= $3";
inline constexpr const char* kUserTickets =
    "SELECT tickets FROM user_limits WHERE event_id = $1 AND user_id = $2";

// ---- reservations ----
#define TIKETI_RESERVATION_COLUMNS                                                                      \
  "id, user_id, event_id, status, kind, ticket_type_id, quantity, amount, expires_at, idempotency_key," \
  " request_hash, payment_id, created_at, updated_at, confirmed_at, cancelled_at"
inline constexpr const char* kReservationColumns = TIKETI_RESERVATION_COLUMNS;
inline constexpr const char* kInsertReservation =
    "INSERT INTO reservations (id, user_id, event_id, status, kind, ticket_type_id, quantity, amount, "
    "expires_at,"
    " idempotency_key, request_hash, created_at, updated_at)"
    " VALUES ($1, $2, $3, 'PENDING', $4, $5, $6, $7, $8, $9, $10, $11, $11)";
inline constexpr const char* kSelectByKey =
    "SELECT " TIKETI_RESERVATION_COLUMNS " FROM reservations WHERE user_id = $1 AND idempotency_key = $2";
inline constexpr const char* kListByUser = "SELECT " TIKETI_RESERVATION_COLUMNS
                                           " FROM reservations WHERE user_id = $1"
                                           " ORDER BY created_at DESC, id DESC LIMIT $2";
inline constexpr const char* kAdminSearch =
    "SELECT " TIKETI_RESERVATION_COLUMNS
    " FROM reservations"
    " WHERE ($1 = '' OR event_id = $1) AND ($2 = '' OR user_id = $2) AND ($3 = '' OR status = $3)"
    " ORDER BY created_at DESC, id DESC LIMIT $4";
#undef TIKETI_RESERVATION_COLUMNS
// A reservation and its items in one statement (LEFT JOIN: a row per item, item columns prefixed
// "item_", NULL when it has none), ordered by item. The locking variant locks only the reservation
// row on PostgreSQL (FOR UPDATE OF r).
#define TIKETI_RESERVATION_WITH_ITEMS                                                                           \
  "SELECT r.id, r.user_id, r.event_id, r.status, r.kind, r.ticket_type_id, r.quantity, r.amount, r.expires_at," \
  " r.idempotency_key, r.request_hash, r.payment_id, r.created_at, r.updated_at, r.confirmed_at,"              \
  " r.cancelled_at, i.idx AS item_idx, i.seat_id AS item_seat_id, i.label AS item_label,"                     \
  " i.ticket_type_id AS item_ticket_type_id, i.unit_price AS item_unit_price, i.quantity AS item_quantity,"   \
  " i.stripe AS item_stripe FROM reservations r LEFT JOIN reservation_items i ON i.reservation_id = r.id"     \
  " WHERE r.id = $1 ORDER BY i.idx"
inline constexpr const char* kSelectReservationWithItems = TIKETI_RESERVATION_WITH_ITEMS;
inline constexpr const char* kLockReservationWithItems = TIKETI_RESERVATION_WITH_ITEMS " FOR UPDATE OF r";
#undef TIKETI_RESERVATION_WITH_ITEMS
inline constexpr const char* kSelectItems =
    "SELECT idx, seat_id, label, ticket_type_id, unit_price, quantity, stripe FROM reservation_items"
    " WHERE reservation_id = $1 ORDER BY idx";
inline constexpr const char* kDeleteItems = "DELETE FROM reservation_items WHERE reservation_id = $1";
// $1 reservation, then 7 per item: idx, seat_id, label, ticket_type_id, unit_price, quantity, stripe.
std::string insert_items(std::size_t n);
inline constexpr const char* kSetExpired =
    "UPDATE reservations SET status = 'EXPIRED', updated_at = $2 WHERE id = $1 AND status = 'PENDING'";
inline constexpr const char* kSetConfirmed =
    "UPDATE reservations SET status = 'CONFIRMED', payment_id = $2, confirmed_at = $3, updated_at = $3"
    " WHERE id = $1";
inline constexpr const char* kSetCancelled =
    "UPDATE reservations SET status = 'CANCELLED', cancelled_at = $2, updated_at = $2 WHERE id = $1";
inline constexpr const char* kDueForExpiry =
    "SELECT id FROM reservations WHERE status = 'PENDING' AND expires_at < $1 ORDER BY expires_at LIMIT $2";
inline constexpr const char* kUserExpiredHolds =
    "SELECT id FROM reservations WHERE user_id = $1 AND event_id = $2 AND status = 'PENDING' AND expires_at "
    "< $3";

// ---- tickets ----
inline constexpr const char* kInsertTicket =
    "INSERT INTO tickets (code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, issued_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
inline constexpr const char* kCancelTickets =
    "UPDATE tickets SET status = 'cancelled' WHERE reservation_id = $1";
inline constexpr const char* kTicketColumns =
    "code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, status, issued_at, "
    "checked_in_at";
inline constexpr const char* kTicketsByUser =
    "SELECT code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, status, issued_at,"
    " checked_in_at FROM tickets WHERE user_id = $1 ORDER BY issued_at DESC, code LIMIT $2";
inline constexpr const char* kTicketsByReservation =
    "SELECT code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, status, issued_at,"
    " checked_in_at FROM tickets WHERE reservation_id = $1 ORDER BY code";
inline constexpr const char* kTicketByCode =
    "SELECT code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, status, issued_at,"
    " checked_in_at FROM tickets WHERE code = $1";
// The first scan wins; every later scan sees checked_in_at set.
inline constexpr const char* kCheckIn =
    "UPDATE tickets SET checked_in_at = $2, checked_in_by = $3"
    " WHERE code = $1 AND status = 'valid' AND checked_in_at IS NULL";

// ---- sold out (inventory.sold_out, once per event) ----
inline constexpr const char* kAnySeat = "SELECT seat_id FROM seats WHERE event_id = $1 LIMIT 1";
inline constexpr const char* kQuotaCapacity =
    "SELECT COALESCE(SUM(cap), 0) AS cap, COALESCE(SUM(cap - used), 0) AS free, COUNT(*) AS n FROM quota_stripes"
    " WHERE event_id = $1";
inline constexpr const char* kConfirmedQuotaUnits =
    "SELECT COALESCE(SUM(quantity), 0) AS n FROM reservations WHERE event_id = $1 AND status = 'CONFIRMED'"
    " AND kind = 'general_admission'";
// The cheap answers of mark_if_sold_out in one statement: already announced, any seat unsold, any
// quota unit nobody holds. Any of them non-zero: not sold out.
inline constexpr const char* kSoldOutPrecheck =
    "SELECT (SELECT COUNT(*) FROM sold_out WHERE event_id = $1) AS marked,"
    " (SELECT COUNT(*) FROM (SELECT 1 FROM seats WHERE event_id = $1 AND status <> 'sold' LIMIT 1) u) AS unsold,"
    " (SELECT COALESCE(SUM(cap - used), 0) FROM quota_stripes WHERE event_id = $1) AS free";
inline constexpr const char* kMarkSoldOut =
    "INSERT INTO sold_out (event_id, sold_out_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING";
// Candidates for the periodic check (a confirmation racing another may miss the last seat).
inline constexpr const char* kSoldOutCandidates =
    "SELECT event_id FROM events e WHERE NOT EXISTS (SELECT 1 FROM sold_out o WHERE o.event_id = e.event_id)"
    " AND e.performance_start > $1 ORDER BY event_id LIMIT $2";

// ---- gauges ----
inline constexpr const char* kReservationsByStatus =
    "SELECT status, COUNT(*) AS n FROM reservations GROUP BY status";
// Events whose performance has not started ($1 now): the seat gauges (seat_cache counts viewed
// maps from memory; the others by kSeatStats, one event at a time).
inline constexpr const char* kGaugeEvents = "SELECT event_id FROM events WHERE performance_start > $1 ORDER BY event_id";

// ---- stats ----
inline constexpr const char* kSeatStats =
    "SELECT CASE WHEN status = 'held' AND hold_expires_at < $2 THEN 'available' ELSE status END AS s,"
    " COUNT(*) AS n FROM seats WHERE event_id = $1 GROUP BY 1";
inline constexpr const char* kQuotaStats =
    "SELECT ticket_type_id, SUM(cap) AS cap, SUM(used) AS used FROM quota_stripes WHERE event_id = $1"
    " GROUP BY ticket_type_id ORDER BY ticket_type_id";
inline constexpr const char* kReservationStats =
    "SELECT status, COUNT(*) AS n, COALESCE(SUM(quantity), 0) AS tickets, COALESCE(SUM(amount), 0) AS amount"
    " FROM reservations WHERE event_id = $1 GROUP BY status";

}  // namespace tiketi::reservation::sql
