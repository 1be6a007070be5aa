// Set-based confirmation of a batch of payment.completed events (ReservationStore::confirm_batch).
//
// The reservation consumer handles up to 64 stream entries in one transaction. Confirming them one
// by one costs ~6 statements each; here the common case — a PENDING reservation paid once, with the
// right amount, whose seats (if any) are still its own or free — is confirmed for the whole batch
// with a fixed number of statements: lock and read every reservation with its items, lock the seats,
// sell them, mark the reservations CONFIRMED, insert every ticket, add every reservation.confirmed
// outbox row, and one sold-out check per event. Everything else (unknown, already confirmed or paid
// twice, cancelled, expired, amount mismatch, a seat someone else owns now, a reservation named twice
// in the batch) goes through the one-event ReservationStore::confirm in stream order, in the same
// transaction, so those cases behave exactly as before.
//
// Names here live in `confirm_batch_detail`: the release preset builds several .cpp files as one
// translation unit, so anonymous-namespace helpers must not clash with reservation_store.cpp's.
#include <algorithm>
#include <map>
#include <set>

#include "coord/outbox.hpp"
#include "services/reservation/storage/reservation_store.hpp"
#include "store/lists.hpp"

namespace tiketi::reservation {
namespace confirm_batch_detail {

// Reservations and their items, locked in id order on PostgreSQL (FOR UPDATE OF r; the lock order of
// every other path is reservation first). $1 the ids: a text[] literal (PostgreSQL) or a JSON array.
#define TIKETI_CONFIRM_COLUMNS                                                                                    \
  "SELECT r.id, r.user_id, r.event_id, r.status, r.kind, r.ticket_type_id, r.quantity, r.amount, r.expires_at," \
  " r.idempotency_key, r.request_hash, r.payment_id, r.created_at, r.updated_at, r.confirmed_at,"              \
  " r.cancelled_at, i.idx AS item_idx, i.seat_id AS item_seat_id, i.label AS item_label,"                     \
  " i.ticket_type_id AS item_ticket_type_id, i.unit_price AS item_unit_price, i.quantity AS item_quantity,"   \
  " i.stripe AS item_stripe FROM reservations r LEFT JOIN reservation_items i ON i.reservation_id = r.id"
constexpr const char* kLoadPg = TIKETI_CONFIRM_COLUMNS
    " WHERE r.id = ANY($1::text[]) ORDER BY r.id, i.idx FOR UPDATE OF r";
constexpr const char* kLoadSqlite = TIKETI_CONFIRM_COLUMNS
    " WHERE r.id IN (SELECT value FROM json_each($1)) ORDER BY r.id, i.idx";
#undef TIKETI_CONFIRM_COLUMNS

// The seats of the batch, locked in (event, seat) order (the hold path's order within an event).
// PostgreSQL: $1 event ids, $2 seat ids (parallel text[]); SQLite: $1 JSON [[event, seat], ...].
constexpr const char* kLockSeatsPg =
    "SELECT s.event_id, s.seat_id, s.status, s.hold_id, s.hold_expires_at FROM seats s"
    " WHERE s.event_id = ANY($1::text[]) AND s.seat_id = ANY($2::text[])"
    " AND (s.event_id, s.seat_id) IN (SELECT u.e, u.s FROM unnest($1::text[], $2::text[]) AS u(e, s))"
    " ORDER BY s.event_id, s.seat_id FOR UPDATE OF s";
constexpr const char* kLockSeatsSqlite =
    "SELECT event_id, seat_id, status, hold_id, hold_expires_at FROM seats WHERE (event_id, seat_id) IN"
    " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1))"
    " ORDER BY event_id, seat_id";

// Sell: PostgreSQL $1 events, $2 seats, $3 reservations (parallel); SQLite $1 JSON [[event, seat,
// reservation], ...]. Returns (hold_id = the reservation, seat_id, version) of every seat sold.
constexpr const char* kSellPg =
    "UPDATE seats s SET status = 'sold', hold_id = u.r, reservation_id = u.r, hold_expires_at = NULL,"
    " version = s.version + 1 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(e, s, r)"
    " WHERE s.event_id = u.e AND s.seat_id = u.s AND s.event_id = ANY($1::text[]) AND s.seat_id = ANY($2::text[])"
    " RETURNING s.hold_id, s.seat_id, s.version";
constexpr const char* kSellSqlite =
    "UPDATE seats SET status = 'sold', hold_id = u.r, reservation_id = u.r, hold_expires_at = NULL,"
    " version = seats.version + 1 FROM (SELECT json_extract(value, '$[0]') AS e, json_extract(value, '$[1]') AS s,"
    " json_extract(value, '$[2]') AS r FROM json_each($1)) AS u WHERE seats.event_id = u.e AND seats.seat_id = u.s"
    " RETURNING hold_id, seat_id, version";

// CONFIRMED: PostgreSQL $1 ids, $2 payment ids (parallel), $3 now; SQLite $1 JSON [[id, payment], ...],
// $2 now. Only PENDING rows (all of them are, locked above); the caller checks the count.
constexpr const char* kConfirmPg =
    "UPDATE reservations r SET status = 'CONFIRMED', payment_id = u.p, confirmed_at = $3::bigint,"
    " updated_at = $3::bigint FROM unnest($1::text[], $2::text[]) AS u(id, p)"
    " WHERE r.id = u.id AND r.id = ANY($1::text[]) AND r.status = 'PENDING'";
constexpr const char* kConfirmSqlite =
    "UPDATE reservations SET status = 'CONFIRMED', payment_id = u.p, confirmed_at = $2, updated_at = $2"
    " FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS p FROM json_each($1)) AS u"
    " WHERE reservations.id = u.id AND reservations.status = 'PENDING'";

// Tickets: PostgreSQL $1..$7 parallel arrays (code, reservation, event, user, seat or NULL, ticket
// type, label), $8 issued_at; SQLite $1 JSON [[code, reservation, event, user, seat, type, label], ...],
// $2 issued_at.
constexpr const char* kTicketsPg =
    "INSERT INTO tickets (code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, issued_at)"
    " SELECT u.c, u.r, u.e, u.us, u.s, u.t, u.l, $8::bigint"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
    " AS u(c, r, e, us, s, t, l)";
constexpr const char* kTicketsSqlite =
    "INSERT INTO tickets (code, reservation_id, event_id, user_id, seat_id, ticket_type_id, label, issued_at)"
    " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
    " json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),"
    " json_extract(value, '$[6]'), $2 FROM json_each($1)";

// A PostgreSQL text[] literal of the list (store/lists.hpp).
template <class List>
std::string pg_array(const List& items) {
  return store::text_list(store::Engine::postgres, items);
}

// Params built outside co_await operands (g++ 12).
template <class... V>
store::Params bind(V&&... v) {
  store::Params out;
  out.reserve(sizeof...(v));
  (out.push_back(std::forward<V>(v)), ...);
  return out;
}

std::map<std::string, Reservation> reservations_from(const store::Result& res) {
  std::map<std::string, Reservation> out;
  for (const auto& row : res.rows) {
    const std::string id = row.str("id");
    auto it = out.find(id);
    if (it == out.end()) {
      it = out.emplace(id, reservation_from(row)).first;
    }
    if (auto item = joined_item_from(row)) {
      it->second.items.push_back(std::move(*item));
    }
  }
  return out;
}

}  // namespace confirm_batch_detail

Task<std::vector<ConfirmResult>> ReservationStore::confirm_batch(store::Tx& tx,
                                                                 const std::vector<PaymentCompleted>& pays) {
  namespace d = confirm_batch_detail;
  using store::p;
  std::vector<ConfirmResult> results(pays.size());
  if (pays.empty()) {
    co_return results;
  }
  const Millis now = clock_->now_ms();
  const bool pg = tx.engine() == store::Engine::postgres;

  // A reservation named by more than one event of the batch (a second payment, a duplicate with a
  // new event id) is left to the one-event path, in stream order.
  std::map<std::string, int> named;
  for (const auto& pay : pays) {
    ++named[pay.reservation_id];
  }
  std::vector<std::string> ids;
  ids.reserve(named.size());
  for (const auto& [id, n] : named) {
    ids.push_back(id);  // sorted (std::map): the lock order
  }
  std::string load_sql;
  std::string id_list;
  if (pg) {
    load_sql = d::kLoadPg;
    id_list = d::pg_array(ids);
  } else {
    load_sql = d::kLoadSqlite;
    id_list = store::text_list(store::Engine::sqlite, ids);
  }
  store::Params load_params = d::bind(p(id_list));
  auto loaded = co_await tx.exec(load_sql, std::move(load_params));
  std::map<std::string, Reservation> rs = d::reservations_from(loaded);

  // Candidates for the set-based path, by index into `pays`.
  std::vector<std::size_t> fast;
  std::vector<bool> is_fast(pays.size(), false);
  for (std::size_t i = 0; i < pays.size(); ++i) {
    const auto& pay = pays[i];
    auto it = rs.find(pay.reservation_id);
    if (it == rs.end() || named[pay.reservation_id] != 1) {
      continue;
    }
    const Reservation& r = it->second;
    // PENDING, paid with the right amount: confirm() claims it (quota is still held; seats are
    // checked below). EXPIRED/CONFIRMED/CANCELLED and mismatches take the one-event path.
    if (r.status != Status::pending || (pay.amount && *pay.amount != r.amount)) {
      continue;
    }
    fast.push_back(i);
    is_fast[i] = true;
  }

  // Seats of the seated candidates: locked together, then the same test as confirm(): each seat
  // exists and is free, held by this reservation, or held by an expired hold. A reservation that
  // fails it goes to the one-event path (which releases what it still holds and refunds).
  std::vector<std::string> seat_events, seat_ids;
  for (const std::size_t i : fast) {
    const Reservation& r = rs.at(pays[i].reservation_id);
    if (r.kind != Kind::seated) {
      continue;
    }
    for (auto& s : seat_ids_of(r)) {
      seat_events.push_back(r.event_id);
      seat_ids.push_back(std::move(s));
    }
  }
  if (!seat_ids.empty()) {
    std::string lock_sql;
    store::Params lock_params;
    if (pg) {
      lock_sql = d::kLockSeatsPg;
      lock_params = d::bind(p(d::pg_array(seat_events)), p(d::pg_array(seat_ids)));
    } else {
      lock_sql = d::kLockSeatsSqlite;
      std::vector<std::vector<std::optional<std::string>>> rows;
      rows.reserve(seat_ids.size());
      for (std::size_t k = 0; k < seat_ids.size(); ++k) {
        rows.push_back({seat_events[k], seat_ids[k]});
      }
      lock_params = d::bind(p(store::json_rows(rows)));
    }
    auto locked = co_await tx.exec(lock_sql, std::move(lock_params));
    std::map<std::pair<std::string, std::string>, const store::Row*> seat_rows;
    for (const auto& row : locked.rows) {
      seat_rows[{row.str("event_id"), row.str("seat_id")}] = &row;
    }
    for (const std::size_t i : fast) {
      const Reservation& r = rs.at(pays[i].reservation_id);
      if (r.kind != Kind::seated) {
        continue;
      }
      bool ok = true;
      for (const auto& s : seat_ids_of(r)) {
        auto it = seat_rows.find({r.event_id, s});
        if (it == seat_rows.end()) {
          ok = false;
          break;
        }
        const store::Row& row = *it->second;
        const std::string status = row.str("status");
        const bool ours = row.opt_str("hold_id") == r.id;
        const bool expired_hold = status == "held" && row.opt_i64("hold_expires_at").value_or(0) < now;
        if (!(status == "available" || (status == "held" && (ours || expired_hold)))) {
          ok = false;
          break;
        }
      }
      if (!ok) {
        is_fast[i] = false;
      }
    }
    std::erase_if(fast, [&](std::size_t i) { return !is_fast[i]; });
  }

  if (!fast.empty()) {
    // Sell the seats of the reservations still on the set-based path.
    std::map<std::string, std::vector<SeatChange>> sold_by_reservation;
    {
      std::vector<std::string> se, ss, sr;
      for (const std::size_t i : fast) {
        const Reservation& r = rs.at(pays[i].reservation_id);
        if (r.kind != Kind::seated) {
          continue;
        }
        for (auto& s : seat_ids_of(r)) {
          se.push_back(r.event_id);
          ss.push_back(std::move(s));
          sr.push_back(r.id);
        }
      }
      if (!ss.empty()) {
        std::string sell_sql;
        store::Params sell_params;
        if (pg) {
          sell_sql = d::kSellPg;
          sell_params = d::bind(p(d::pg_array(se)), p(d::pg_array(ss)), p(d::pg_array(sr)));
        } else {
          sell_sql = d::kSellSqlite;
          std::vector<std::vector<std::optional<std::string>>> rows;
          for (std::size_t k = 0; k < ss.size(); ++k) {
            rows.push_back({se[k], ss[k], sr[k]});
          }
          sell_params = d::bind(p(store::json_rows(rows)));
        }
        auto sold = co_await tx.exec(sell_sql, std::move(sell_params));
        if (sold.rows.size() != ss.size()) {
          throw std::runtime_error("confirm_batch: sold " + std::to_string(sold.rows.size()) + " of " +
                                   std::to_string(ss.size()) + " seats");
        }
        for (const auto& row : sold.rows) {
          sold_by_reservation[row.str("hold_id")].push_back(
              {row.str("seat_id"), SeatStatus::sold, row.i64("version")});
        }
      }
    }

    // CONFIRMED, all at once.
    {
      std::vector<std::string> rid, pid;
      for (const std::size_t i : fast) {
        rid.push_back(pays[i].reservation_id);
        pid.push_back(pays[i].payment_id);
      }
      std::string confirm_sql;
      store::Params confirm_params;
      if (pg) {
        confirm_sql = d::kConfirmPg;
        confirm_params = d::bind(p(d::pg_array(rid)), p(d::pg_array(pid)), p(now));
      } else {
        confirm_sql = d::kConfirmSqlite;
        std::vector<std::vector<std::optional<std::string>>> rows;
        for (std::size_t k = 0; k < rid.size(); ++k) {
          rows.push_back({rid[k], pid[k]});
        }
        confirm_params = d::bind(p(store::json_rows(rows)), p(now));
      }
      auto updated = co_await tx.exec(confirm_sql, std::move(confirm_params));
      if (updated.affected != static_cast<std::int64_t>(fast.size())) {
        // Cannot happen with the rows locked above; roll back (the consumer redoes the batch one by one).
        throw std::runtime_error("confirm_batch: confirmed " + std::to_string(updated.affected) + " of " +
                                 std::to_string(fast.size()));
      }
    }

    // Tickets and the reservation.confirmed events.
    std::vector<std::vector<std::optional<std::string>>> ticket_rows;
    std::vector<coord::NewEvent> events;
    events.reserve(fast.size());
    for (const std::size_t i : fast) {
      Reservation& r = rs.at(pays[i].reservation_id);
      r.status = Status::confirmed;
      r.payment_id = pays[i].payment_id;
      r.confirmed_at = now;
      std::vector<Ticket> tickets = new_tickets(r, now);
      for (const auto& t : tickets) {
        ticket_rows.push_back({t.code, t.reservation_id, t.event_id, t.user_id, t.seat_id, t.ticket_type_id, t.label});
      }
      events.push_back({"reservation.confirmed", r.id, confirmed_payload(r, tickets, now), {}});
      ConfirmResult& out = results[i];
      out.outcome = ConfirmOutcome::confirmed;
      out.event_id = r.event_id;
      if (auto s = sold_by_reservation.find(r.id); s != sold_by_reservation.end()) {
        out.seats = std::move(s->second);
      }
    }
    if (!ticket_rows.empty()) {
      std::string tickets_sql;
      store::Params ticket_params;
      if (pg) {
        tickets_sql = d::kTicketsPg;
        std::vector<std::vector<std::optional<std::string>>> cols(7);
        for (auto& row : ticket_rows) {
          for (std::size_t c = 0; c < 7; ++c) {
            cols[c].push_back(std::move(row[c]));
          }
        }
        ticket_params.reserve(8);
        for (const auto& col : cols) {
          ticket_params.push_back(p(d::pg_array(col)));
        }
        ticket_params.push_back(p(now));
      } else {
        tickets_sql = d::kTicketsSqlite;
        ticket_params = d::bind(p(store::json_rows(ticket_rows)), p(now));
      }
      auto inserted = co_await tx.exec(tickets_sql, std::move(ticket_params));
      (void)inserted;
    }
    auto event_ids = co_await coord::Outbox::add_many(tx, *clock_, std::move(events));
    (void)event_ids;

    // One sold-out check per event, after all of its confirmations (the last result carries it).
    std::map<std::string, std::size_t> last_of_event;
    for (const std::size_t i : fast) {
      last_of_event[results[i].event_id] = i;
    }
    for (const auto& [event_id, i] : last_of_event) {
      const bool sold_out = co_await mark_if_sold_out(tx, event_id, now);
      results[i].sold_out = sold_out;
    }
  }

  // Everything else, one event at a time in stream order (same transaction).
  for (std::size_t i = 0; i < pays.size(); ++i) {
    if (is_fast[i]) {
      continue;
    }
    results[i] = co_await confirm(tx, pays[i]);
  }
  co_return results;
}

}  // namespace tiketi::reservation
