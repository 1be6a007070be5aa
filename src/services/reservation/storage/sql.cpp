#include "services/reservation/storage/sql.hpp"

namespace tiketi::reservation::sql {

std::string placeholders(std::size_t first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += '$';
    out += std::to_string(first + i);
  }
  return out;
}

std::string upsert_seats(std::size_t n) {
  std::string out = "INSERT INTO seats (event_id, seat_id, label, ticket_type_id, price) VALUES ";
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t b = 2 + 4 * i;
    out += i > 0 ? ", ($1, " : "($1, ";
    out += placeholders(b, 4);
    out += ')';
  }
  out +=
      " ON CONFLICT (event_id, seat_id) DO UPDATE SET label = excluded.label,"
      " ticket_type_id = excluded.ticket_type_id, price = excluded.price";
  return out;
}

std::string select_seats(std::size_t n) {
  return "SELECT seat_id, label, ticket_type_id, price FROM seats WHERE event_id = $1 AND seat_id IN (" +
         placeholders(2, n) + ") ORDER BY seat_id";
}

std::string hold_seats(std::size_t n) {
  return "UPDATE seats SET status = 'held', hold_id = $2, hold_expires_at = $3, reservation_id = NULL,"
         " version = version + 1 WHERE event_id = $1 AND seat_id IN (" +
         placeholders(5, n) +
         ") AND (status = 'available' OR (status = 'held' AND hold_expires_at < $4))"
         " RETURNING seat_id, label, ticket_type_id, price, version";
}

std::vector<std::string> hold_seats_sqlite(std::size_t n) {
  const std::string ids = placeholders(10, n);
  const std::string free = "(status = 'available' OR (status = 'held' AND hold_expires_at < $4))";
  // The last seat (every statement must name the last parameter: SQLite counts up to the highest).
  const std::string held_first = "EXISTS (SELECT 1 FROM seats WHERE event_id = $1 AND seat_id = $" +
                                 std::to_string(9 + n) + " AND hold_id = $2)";
  std::vector<std::string> out;
  out.push_back(
      "UPDATE seats SET status = 'held', hold_id = $2, hold_expires_at = $3, reservation_id = NULL,"
      " version = version + 1 WHERE event_id = $1 AND seat_id IN (" + ids + ") AND " + free +
      " AND (SELECT COUNT(*) FROM seats WHERE event_id = $1 AND seat_id IN (" + ids + ") AND " + free + ") = $5"
      " AND COALESCE((SELECT tickets FROM user_limits WHERE event_id = $1 AND user_id = $6), 0) + $5 <= $7"
      " RETURNING seat_id, label, ticket_type_id, price, version");
  out.push_back(
      "INSERT INTO user_limits (event_id, user_id, tickets) SELECT $1, $6, $5 WHERE " + held_first +
      " ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = user_limits.tickets + excluded.tickets");
  out.push_back(
      "INSERT INTO reservations (id, user_id, event_id, status, kind, ticket_type_id, quantity, amount, expires_at,"
      " idempotency_key, request_hash, created_at, updated_at)"
      " SELECT $2, $6, $1, 'PENDING', 'seated', NULL, $5,"
      " (SELECT COALESCE(SUM(price), 0) FROM seats WHERE event_id = $1 AND seat_id IN (" + ids + ") AND hold_id = $2),"
      " $3, $8, $9, $4, $4 WHERE " + held_first);
  std::string values;
  for (std::size_t i = 0; i < n; ++i) {
    values += (i > 0 ? ", (" : "(") + std::to_string(i) + ", $" + std::to_string(10 + i) + ")";
  }
  out.push_back(
      "INSERT INTO reservation_items (reservation_id, idx, seat_id, label, ticket_type_id, unit_price, quantity,"
      " stripe) SELECT $2, v.column1, s.seat_id, s.label, s.ticket_type_id, s.price, 1, NULL FROM (VALUES " +
      values + ") AS v JOIN seats s ON s.event_id = $1 AND s.seat_id = v.column2 WHERE s.hold_id = $2");
  return out;
}

std::string hold_seats_pg(std::size_t n) {
  const std::string ids = placeholders(10, n);
  return "WITH lim0 AS (SELECT tickets FROM user_limits WHERE event_id = $1::text AND user_id = $6::text FOR UPDATE),"
         " locked AS (SELECT seat_id, status, hold_expires_at FROM seats WHERE event_id = $1::text AND seat_id IN (" +
         ids +
         ") AND (SELECT COUNT(*) FROM lim0) >= 0 ORDER BY seat_id FOR UPDATE),"
         " ok AS (SELECT COUNT(*) AS found, COUNT(*) FILTER (WHERE status = 'available'"
         " OR (status = 'held' AND hold_expires_at < $4::bigint)) AS free FROM locked),"
         " lim AS (INSERT INTO user_limits (event_id, user_id, tickets) SELECT $1::text, $6::text, $5::bigint FROM ok"
         " WHERE ok.free = $5::bigint"
         " ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = user_limits.tickets + excluded.tickets"
         " WHERE user_limits.tickets + excluded.tickets <= $7::bigint RETURNING tickets),"
         " held AS (UPDATE seats SET status = 'held', hold_id = $2::text, hold_expires_at = $3::bigint,"
         " reservation_id = NULL, version = version + 1 WHERE event_id = $1::text AND seat_id IN (" +
         ids +
         ") AND EXISTS (SELECT 1 FROM lim) RETURNING seat_id, label, ticket_type_id, price, version),"
         " res AS (INSERT INTO reservations (id, user_id, event_id, status, kind, ticket_type_id, quantity, amount,"
         " expires_at, idempotency_key, request_hash, created_at, updated_at)"
         " SELECT $2::text, $6::text, $1::text, 'PENDING', 'seated', NULL, $5::bigint, SUM(price), $3::bigint,"
         " $8::text, $9::text, $4::bigint, $4::bigint FROM held HAVING COUNT(*) > 0 RETURNING id),"
         " items AS (INSERT INTO reservation_items (reservation_id, idx, seat_id, label, ticket_type_id, unit_price,"
         " quantity, stripe) SELECT $2::text, (ROW_NUMBER() OVER (ORDER BY seat_id) - 1)::integer, seat_id, label,"
         " ticket_type_id, price, 1, NULL FROM held RETURNING idx)"
         " SELECT h.seat_id, h.label, h.ticket_type_id, h.price, h.version, NULL::bigint AS found,"
         " NULL::bigint AS free, (SELECT COUNT(*) FROM res) + (SELECT COUNT(*) FROM items) AS written FROM held h"
         " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, ok.found, ok.free, 0 FROM ok"
         " WHERE NOT EXISTS (SELECT 1 FROM held)";
}

std::string lock_seats(std::size_t n, bool for_update) {
  return "SELECT seat_id, status, hold_id, hold_expires_at, reservation_id FROM seats WHERE event_id = $1"
         " AND seat_id IN (" +
         placeholders(2, n) + ") ORDER BY seat_id" + (for_update ? " FOR UPDATE" : "");
}

std::string sell_seats(std::size_t n) {
  return "UPDATE seats SET status = 'sold', hold_id = $2, reservation_id = $2, hold_expires_at = NULL,"
         " version = version + 1 WHERE event_id = $1 AND seat_id IN (" +
         placeholders(3, n) + ") RETURNING seat_id, version";
}

std::string release_held_seats(std::size_t n) {
  return "UPDATE seats SET status = 'available', hold_id = NULL, hold_expires_at = NULL, version = version + "
         "1"
         " WHERE event_id = $1 AND hold_id = $2 AND status = 'held' AND seat_id IN (" +
         placeholders(3, n) + ") RETURNING seat_id, version";
}

std::string release_sold_seats(std::size_t n) {
  return "UPDATE seats SET status = 'available', hold_id = NULL, hold_expires_at = NULL, reservation_id = "
         "NULL,"
         " version = version + 1 WHERE event_id = $1 AND reservation_id = $2 AND status = 'sold'"
         " AND seat_id IN (" +
         placeholders(3, n) + ") RETURNING seat_id, version";
}

std::string insert_items(std::size_t n) {
  std::string out =
      "INSERT INTO reservation_items (reservation_id, idx, seat_id, label, ticket_type_id, unit_price, "
      "quantity,"
      " stripe) VALUES ";
  for (std::size_t i = 0; i < n; ++i) {
    out += i > 0 ? ", ($1, " : "($1, ";
    out += placeholders(2 + 7 * i, 7);
    out += ')';
  }
  return out;
}

}  // namespace tiketi::reservation::sql
