#include "services/reservation/storage/reservation_store.hpp"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/reservation/storage/sql.hpp"

namespace tiketi::reservation {
namespace {

using store::p;

// Lists are built by a plain function: g++ 12 rejects braced lists of non-trivial values inside a
// co_await operand ("array used as initializer").
template <class... V>
store::Params params(V&&... v) {
  store::Params out;
  out.reserve(sizeof...(v) + kMaxSeatsPerHold);
  (out.push_back(std::forward<V>(v)), ...);
  return out;
}

// Thrown inside a hold transaction to roll it back; turned into the API answer outside.
struct LimitHit : std::runtime_error {
  LimitHit() : std::runtime_error("per-user limit") {}
};
struct SeatsTaken : std::runtime_error {
  SeatsTaken() : std::runtime_error("seat unavailable") {}
};
struct QuotaExhausted : std::runtime_error {
  QuotaExhausted() : std::runtime_error("sold out") {}
};

bool is_pg(const store::Tx& tx) { return tx.engine() == store::Engine::postgres; }

void append(store::Params& ps, const std::vector<std::string>& values) {
  for (const auto& v : values) {
    ps.push_back(p(v));
  }
}

ApiError limit_error(std::int64_t limit) {
  return ApiError(409, "limit_exceeded",
                  "At most " + std::to_string(limit) + " tickets per person for this event.");
}

}  // namespace

Reservation reservation_from(const store::Row& row) {
  Reservation r;
  r.id = row.str("id");
  r.user_id = row.str("user_id");
  r.event_id = row.str("event_id");
  r.status = parse_status(row.str("status")).value_or(Status::pending);
  r.kind = parse_kind(row.str("kind")).value_or(Kind::seated);
  r.ticket_type_id = row.opt_str("ticket_type_id");
  r.quantity = row.i64("quantity");
  r.amount = row.i64("amount");
  r.expires_at = row.i64("expires_at");
  r.idempotency_key = row.opt_str("idempotency_key");
  r.request_hash = row.str("request_hash");
  r.payment_id = row.opt_str("payment_id");
  r.created_at = row.i64("created_at");
  r.updated_at = row.i64("updated_at");
  r.confirmed_at = row.opt_i64("confirmed_at");
  r.cancelled_at = row.opt_i64("cancelled_at");
  return r;
}

std::optional<ReservationItem> joined_item_from(const store::Row& row) {
  if (row.is_null("item_idx")) {
    return std::nullopt;  // no items (LEFT JOIN)
  }
  ReservationItem i;
  i.seat_id = row.opt_str("item_seat_id");
  i.label = row.str("item_label");
  i.ticket_type_id = row.str("item_ticket_type_id");
  i.unit_price = row.i64("item_unit_price");
  i.quantity = row.i64("item_quantity");
  i.stripe = row.opt_i64("item_stripe");
  return i;
}

Ticket ticket_from(const store::Row& row) {
  Ticket t;
  t.code = row.str("code");
  t.reservation_id = row.str("reservation_id");
  t.event_id = row.str("event_id");
  t.user_id = row.str("user_id");
  t.seat_id = row.opt_str("seat_id");
  t.ticket_type_id = row.str("ticket_type_id");
  t.label = row.str("label");
  t.status = row.str("status");
  t.issued_at = row.i64("issued_at");
  t.checked_in_at = row.opt_i64("checked_in_at");
  return t;
}

namespace {
EventInfo event_from(const store::Row& row) {
  EventInfo e;
  e.event_id = row.str("event_id");
  e.title = row.str("title");
  e.status = row.str("status");
  e.sale_start = row.i64("sale_start");
  e.sale_end = row.i64("sale_end");
  e.performance_start = row.i64("performance_start");
  e.per_user_limit = row.i64("per_user_limit");
  e.hold_minutes = row.i64("hold_minutes");
  e.waiting_room = row.i64("waiting_room") != 0;
  return e;
}

ReservationItem item_from(const store::Row& row) {
  ReservationItem i;
  i.seat_id = row.opt_str("seat_id");
  i.label = row.str("label");
  i.ticket_type_id = row.str("ticket_type_id");
  i.unit_price = row.i64("unit_price");
  i.quantity = row.i64("quantity");
  i.stripe = row.opt_i64("stripe");
  return i;
}

store::Params item_params(const std::string& reservation_id, const std::vector<ReservationItem>& items) {
  store::Params ps;
  ps.reserve(1 + 7 * items.size());
  ps.push_back(p(reservation_id));
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    ps.push_back(p(static_cast<std::int64_t>(i)));
    ps.push_back(p(it.seat_id));
    ps.push_back(p(it.label));
    ps.push_back(p(it.ticket_type_id));
    ps.push_back(p(it.unit_price));
    ps.push_back(p(it.quantity));
    ps.push_back(p(it.stripe));
  }
  return ps;
}

Task<void> insert_reservation(store::Tx& tx, const Reservation& r) {
  auto ps =
      params(p(r.id), p(r.user_id), p(r.event_id), p(to_string(r.kind)), p(r.ticket_type_id), p(r.quantity),
             p(r.amount), p(r.expires_at), p(r.idempotency_key), p(r.request_hash), p(r.created_at));
  co_await tx.exec(sql::kInsertReservation, std::move(ps));
  if (!r.items.empty()) {
    co_await tx.exec(sql::insert_items(r.items.size()), item_params(r.id, r.items));
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Group commit of holds (SQLite always, PostgreSQL with pg_hold_batch > 1)

namespace {
// Keys of the existing rows a PostgreSQL hold locks (group commit keeps batches in flight disjoint).
std::string user_row(const std::string& event_id, const std::string& user_id) {
  return "u\n" + event_id + "\n" + user_id;
}
std::string seat_row(const std::string& event_id, const std::string& seat_id) {
  return "s\n" + event_id + "\n" + seat_id;
}
std::string stripe_row(const std::string& event_id, const std::string& ticket_type_id, std::int64_t stripe) {
  return "q\n" + event_id + "\n" + ticket_type_id + "\n" + std::to_string(stripe);
}
}  // namespace

ReservationStore::ReservationStore(store::DatabasePtr db, ClockPtr clock, LogContext log, StoreOptions opts)
    : db_(std::move(db)),
      clock_(std::move(clock)),
      log_(std::move(log)),
      opts_(opts),
      group_(std::make_unique<store::GroupCommit>(
          db_, store::GroupCommitOptions{
                   .batch = db_->engine() == store::Engine::sqlite ? opts.sqlite_hold_batch : opts.pg_hold_batch,
                   .in_flight = opts.pg_hold_inflight})) {}

std::uint64_t ReservationStore::hold_batches() const { return group_->batches(); }
std::uint64_t ReservationStore::hold_batched() const { return group_->callers(); }
std::uint64_t ReservationStore::hold_deadlocks() const { return hold_deadlocks_.load(std::memory_order_relaxed); }
std::uint64_t ReservationStore::hold_batches_peak() const { return group_->peak(); }
std::uint64_t ReservationStore::hold_batches_failed() const { return group_->failed(); }

Task<std::vector<store::Result>> ReservationStore::run_grouped(
    std::vector<std::pair<std::string, store::Params>> stmts, std::vector<std::string> rows) {
  auto res = co_await group_->run(std::move(stmts), std::move(rows));
  co_return res;
}

// ------------------------------------------------------------------------------------------------
// Events

Task<std::optional<EventInfo>> ReservationStore::find_event(const std::string& event_id, bool fresh) {
  const Millis now = clock_->now_ms();
  bool refresher = false;
  if (!fresh) {
    std::lock_guard lock(mu_);
    auto it = events_.find(event_id);
    if (it != events_.end() && now >= it->second.second) {
      const Millis age = now - it->second.second;
      if (age < opts_.event_cache_ms) {
        co_return it->second.first;
      }
      // Expired: one caller re-reads it; the others keep the old copy meanwhile (for at most one
      // more cache period) instead of every hold in flight reading the same row at once — under a
      // hold storm that was a third of the statements.
      if (events_refreshing_.contains(event_id)) {
        if (age < 2 * opts_.event_cache_ms) {
          co_return it->second.first;
        }
      } else {
        events_refreshing_.insert(event_id);
        refresher = true;
      }
    }
  }
  store::Result res;
  try {
    res = co_await db_->exec(sql::kSelectEvent, params(p(event_id)));
  } catch (...) {
    if (refresher) {
      std::lock_guard lock(mu_);
      events_refreshing_.erase(event_id);
    }
    throw;
  }
  std::lock_guard lock(mu_);
  if (refresher) {
    events_refreshing_.erase(event_id);
  }
  if (res.empty()) {
    events_.erase(event_id);
    co_return std::nullopt;
  }
  EventInfo e = event_from(res.rows.front());
  if (events_.size() > 10'000) {
    events_.clear();  // bounded: ids come from requests
  }
  events_[event_id] = {e, now};
  co_return e;
}

void ReservationStore::forget_event(const std::string& event_id) {
  std::lock_guard lock(mu_);
  events_.erase(event_id);
  ticket_types_.clear();
}

void ReservationStore::notify_changed(const std::string& event_id) {
  InventoryChange c;
  c.event_id = event_id;
  c.resync = true;
  notify(c);
}

void ReservationStore::notify(const InventoryChange& change) {
  if (change.resync) {
    forget_event(change.event_id);
  }
  if (on_change_) {
    on_change_(change);
  }
}

namespace {
std::vector<SeatChange> changes_from(const store::Result& res, SeatStatus status) {
  std::vector<SeatChange> out;
  out.reserve(res.rows.size());
  for (const auto& row : res.rows) {
    out.push_back({row.str("seat_id"), status, row.i64("version")});
  }
  return out;
}

// The seats a hold just took (rows: seat_id, label, ticket_type_id, price, status columns) become
// the reservation's items and amount and the seat-map change.
void take_held_seats(const store::Result& held, Reservation& r, InventoryChange& change) {
  change.seats = changes_from(held, SeatStatus::held);
  for (auto& c : change.seats) {
    c.hold_expires_at = r.expires_at;
  }
  r.items.clear();
  r.amount = 0;
  for (const auto& row : held.rows) {
    ReservationItem it;
    it.seat_id = row.str("seat_id");
    it.label = row.str("label");
    it.ticket_type_id = row.str("ticket_type_id");
    it.unit_price = row.i64("price");
    r.amount += it.unit_price;
    r.items.push_back(std::move(it));
  }
  std::sort(r.items.begin(), r.items.end(),
            [](const ReservationItem& a, const ReservationItem& b) { return a.seat_id < b.seat_id; });
}
}  // namespace

Task<store::Result> ReservationStore::pg_hold(const std::string& event_id, const std::string& user_id,
                                              std::string sql, store::Params ps, std::vector<std::string> rows) {
  std::string key = event_id + "\n" + user_id;
  bool known = false;
  {
    std::lock_guard lock(mu_);
    known = counter_rows_.contains(key);
  }
  if (known && opts_.pg_hold_batch <= 1) {
    auto res = co_await db_->exec(sql, std::move(ps));
    co_return res;
  }
  // The insert runs first in the transaction and holds no other lock while it waits (for a
  // concurrent first hold of the same user that inserted the row and has not committed yet); the
  // hold statement then finds the row and locks it before the stripe/seats. (In a group commit
  // batch the holds before it hold their own locks meanwhile; a batch running at the same time
  // shares no row with this one, the user's counter row included.)
  std::vector<std::pair<std::string, store::Params>> stmts;
  if (!known) {
    stmts.emplace_back(sql::kEnsureUserTickets, params(p(event_id), p(user_id)));
  }
  stmts.emplace_back(std::move(sql), std::move(ps));
  const std::size_t hold_at = stmts.size() - 1;
  std::vector<store::Result> res;
  if (opts_.pg_hold_batch > 1) {
    rows.push_back(user_row(event_id, user_id));
    res = co_await run_grouped(std::move(stmts), std::move(rows));
  } else {
    res = co_await db_->pipeline(std::move(stmts));
  }
  if (known) {
    co_return std::move(res.at(hold_at));
  }
  std::lock_guard lock(mu_);
  if (counter_rows_.size() >= 200'000) {
    counter_rows_.clear();  // bounded; a forgotten user costs one more no-op insert
  }
  counter_rows_.insert(std::move(key));
  co_return std::move(res.at(hold_at));
}

std::int64_t ReservationStore::stripe_count(const std::string& event_id, const std::string& ticket_type_id) {
  std::lock_guard lock(mu_);
  auto it = stripes_.find(event_id + "\n" + ticket_type_id);
  return it == stripes_.end() ? 0 : it->second;
}

void ReservationStore::remember_stripes(const std::string& event_id, const std::string& ticket_type_id,
                                        std::int64_t n) {
  std::lock_guard lock(mu_);
  stripes_[event_id + "\n" + ticket_type_id] = n;
}

// ------------------------------------------------------------------------------------------------
// Holds

Task<std::optional<HoldResult>> ReservationStore::replay(const std::string& user_id,
                                                         const std::optional<std::string>& key,
                                                         const std::string& hash) {
  if (!key) {
    co_return std::nullopt;
  }
  auto res = co_await db_->exec(sql::kSelectByKey, params(p(user_id), p(*key)));
  if (res.empty()) {
    co_return std::nullopt;
  }
  Reservation r = reservation_from(res.rows.front());
  if (r.request_hash != hash) {
    throw errors::make("idempotency_conflict");
  }
  auto items = co_await db_->exec(sql::kSelectItems, params(p(r.id)));
  for (const auto& row : items.rows) {
    r.items.push_back(item_from(row));
  }
  co_return HoldResult{std::move(r), true};
}

Task<HoldResult> ReservationStore::hold_seats(const SeatHold& h) {
  const std::string hash = request_hash(h);
  if (auto r = co_await replay(h.user_id, h.idempotency_key, hash)) {
    co_return std::move(*r);
  }
  auto ev = co_await find_event(h.event_id);
  if (!ev) {
    throw errors::not_found("event");
  }
  const std::size_t n = h.seat_ids.size();
  if (n == 0 || n > kMaxSeatsPerHold || !std::is_sorted(h.seat_ids.begin(), h.seat_ids.end()) ||
      std::adjacent_find(h.seat_ids.begin(), h.seat_ids.end()) != h.seat_ids.end()) {
    throw errors::bad_request("seatIds must be 1 to 20 distinct seats");
  }
  const auto count = static_cast<std::int64_t>(n);
  if (count > ev->per_user_limit) {
    throw limit_error(ev->per_user_limit);
  }
  const bool one_trip = db_->engine() == store::Engine::sqlite;
  const std::vector<std::string> one_trip_sql = one_trip ? sql::hold_seats_sqlite(n) : std::vector<std::string>{};
  const std::string pg_sql = one_trip ? std::string() : sql::hold_seats_pg(n);
  bool expired_swept = false;
  int deadlock_retries = 0;
  for (;;) {
    const Millis now = clock_->now_ms();
    Reservation r;
    r.id = ids::uuid_v7(now);
    r.user_id = h.user_id;
    r.event_id = h.event_id;
    r.kind = Kind::seated;
    r.quantity = count;
    r.expires_at = now + ev->hold_minutes * 60'000;
    r.idempotency_key = h.idempotency_key;
    r.request_hash = hash;
    r.created_at = now;
    r.updated_at = now;
    InventoryChange change;
    change.event_id = h.event_id;
    std::optional<ApiError> failure;
    bool limit_hit = false;
    try {
      if (one_trip) {
        // SQLite: the same decision in one write transaction and one trip to the database thread.
        auto ps = params(p(h.event_id), p(r.id), p(r.expires_at), p(now), p(count), p(h.user_id),
                         p(ev->per_user_limit), p(h.idempotency_key), p(hash));
        append(ps, h.seat_ids);
        std::vector<std::pair<std::string, store::Params>> batch;
        for (const auto& text : one_trip_sql) {
          batch.emplace_back(text, ps);
        }
        auto res = co_await run_grouped(std::move(batch));
        const store::Result& held = res.at(0);
        if (held.rows.size() != n) {
          if (!held.rows.empty()) {
            // Cannot happen (one writer, the count is taken before any row changes); never keep it.
            throw std::logic_error("seat hold: " + std::to_string(held.rows.size()) + " of " + std::to_string(n) +
                                   " seats held");
          }
          // Nothing changed. The seats or the per-user limit: the limit is checked again below.
          auto lim = co_await db_->exec(sql::kUserTickets, params(p(h.event_id), p(h.user_id)));
          const std::int64_t have = lim.empty() ? 0 : lim.rows.front().i64("tickets");
          if (have + count > ev->per_user_limit) {
            throw LimitHit();
          }
          throw SeatsTaken();
        }
        take_held_seats(held, r, change);
      } else {
        // PostgreSQL: the same decision as ONE statement (one round trip, one commit; see
        // sql::hold_seats_pg): the counter row, then the seats in seat order, are locked inside it.
        auto ps = params(p(h.event_id), p(r.id), p(r.expires_at), p(now), p(count), p(h.user_id),
                         p(ev->per_user_limit), p(h.idempotency_key), p(hash));
        append(ps, h.seat_ids);
        std::vector<std::string> rows;
        rows.reserve(n + 1);
        for (const auto& seat : h.seat_ids) {
          rows.push_back(seat_row(h.event_id, seat));
        }
        auto res = co_await pg_hold(h.event_id, h.user_id, pg_sql, std::move(ps), std::move(rows));
        if (res.rows.size() == 1 && res.rows.front().is_null(0)) {
          const store::Row& diag = res.rows.front();
          if (diag.i64("found") == count && diag.i64("free") == count) {
            throw LimitHit();  // every seat was free: the counter refused
          }
          throw SeatsTaken();  // unknown seats are told apart below
        }
        if (res.rows.size() != n || res.rows.front().i64("written") != count + 1) {
          // Cannot happen (the seats are locked before the write); never keep it quietly.
          throw std::logic_error("seat hold: " + std::to_string(res.rows.size()) + " of " + std::to_string(n) +
                                 " seats held");
        }
        take_held_seats(res, r, change);
      }
      notify(change);
      co_return HoldResult{std::move(r), false};
    } catch (const LimitHit&) {
      limit_hit = true;
    } catch (const SeatsTaken&) {
      failure = errors::make("seat_unavailable");
    } catch (const store::DbError& e) {
      if (e.retryable() && ++deadlock_retries <= 3) {
        hold_deadlocks_.fetch_add(1, std::memory_order_relaxed);
        continue;  // a deadlock with a confirmation or expiry of the same user's seats: nothing was written
      }
      if (e.kind != store::DbError::Kind::unique_violation) {
        throw;
      }
      failure = errors::make("idempotency_conflict");  // replaced below by the winner's answer
    }
    // A concurrent request with the same key may have won: answer as it did.
    if (auto rep = co_await replay(h.user_id, h.idempotency_key, hash)) {
      co_return std::move(*rep);
    }
    if (limit_hit) {
      // The counter may still include this user's own holds that expired but were not swept yet.
      if (!expired_swept && co_await expire_for_user(h.user_id, h.event_id) > 0) {
        expired_swept = true;
        continue;
      }
      throw limit_error(ev->per_user_limit);
    }
    // Tell unknown seats (bad input, 400) from taken ones (409).
    auto ps = params(p(h.event_id));
    append(ps, h.seat_ids);
    auto known = co_await db_->exec(sql::select_seats(n), std::move(ps));
    if (known.rows.size() != n) {
      // A set, not a merge: the database's collation may order seat ids differently.
      std::set<std::string> found;
      for (const auto& row : known.rows) {
        found.insert(row.str("seat_id"));
      }
      std::vector<FieldError> fields;
      for (const auto& id : h.seat_ids) {
        if (!found.count(id)) {
          fields.push_back({"seatIds", "unknown seat " + id.substr(0, 64)});
        }
      }
      throw ApiError(400, "unknown_seat", "Some seats do not exist for this event.", std::move(fields));
    }
    throw *failure;
  }
}

Task<std::vector<std::pair<std::int64_t, std::int64_t>>> ReservationStore::take_quota(
    store::Tx& tx, const std::string& event_id, const std::string& ticket_type_id, std::int64_t quantity) {
  std::vector<std::pair<std::int64_t, std::int64_t>> taken;  // (stripe, quantity)
  std::int64_t n = stripe_count(event_id, ticket_type_id);
  if (n == 0) {
    auto info = co_await tx.exec(sql::kQuotaFree, params(p(event_id), p(ticket_type_id)));
    n = info.one().i64("n");
    if (n == 0) {
      throw errors::not_found("ticket type");
    }
    remember_stripes(event_id, ticket_type_id, n);
  }
  // Fast path: the whole quantity from one stripe, starting at a random one so concurrent buyers
  // spread over different rows. A few tries only: near sell-out the slow path decides.
  const auto start = static_cast<std::int64_t>(randombytes_uniform(static_cast<std::uint32_t>(n)));
  const std::int64_t tries = std::min<std::int64_t>(n, 4);
  for (std::int64_t i = 0; i < tries; ++i) {
    const std::int64_t s = (start + i) % n;
    auto r =
        co_await tx.exec(sql::kTakeFromStripe, params(p(event_id), p(ticket_type_id), p(s), p(quantity)));
    if (r.affected == 1) {
      taken.emplace_back(s, quantity);
      co_return taken;
    }
  }
  // Slow path: what is left may be spread over several stripes. A plain read first so that a
  // sold-out quota answers without taking any lock.
  auto free = co_await tx.exec(sql::kQuotaFree, params(p(event_id), p(ticket_type_id)));
  if (free.one().i64("free") < quantity) {
    throw QuotaExhausted();
  }
  std::string lock_sql = std::string(sql::kSelectStripes) + (is_pg(tx) ? " FOR UPDATE" : "");
  auto stripes = co_await tx.exec(lock_sql, params(p(event_id), p(ticket_type_id)));
  std::int64_t need = quantity;
  for (const auto& row : stripes.rows) {
    const std::int64_t avail = row.i64("cap") - row.i64("used");
    if (avail <= 0 || need == 0) {
      continue;
    }
    const std::int64_t k = std::min(avail, need);
    const std::int64_t s = row.i64("stripe");
    auto r = co_await tx.exec(sql::kTakeFromStripe, params(p(event_id), p(ticket_type_id), p(s), p(k)));
    if (r.affected != 1) {
      throw QuotaExhausted();  // cannot happen under the row locks; never oversell if it does
    }
    taken.emplace_back(s, k);
    need -= k;
  }
  if (need > 0) {
    throw QuotaExhausted();
  }
  co_return taken;
}

Task<HoldResult> ReservationStore::hold_quota(const QuotaHold& h) {
  const std::string hash = request_hash(h);
  if (auto r = co_await replay(h.user_id, h.idempotency_key, hash)) {
    co_return std::move(*r);
  }
  auto ev = co_await find_event(h.event_id);
  if (!ev) {
    throw errors::not_found("event");
  }
  // The ticket type, reused for event_cache_ms like the event (a republish forgets both).
  std::optional<TicketTypeInfo> info;
  const std::string tt_key = h.event_id + "\n" + h.ticket_type_id;
  {
    const Millis now = clock_->now_ms();
    std::lock_guard lock(mu_);
    auto it = ticket_types_.find(tt_key);
    if (it != ticket_types_.end() && now - it->second.fetched_at < opts_.event_cache_ms &&
        now >= it->second.fetched_at) {
      info = it->second;
    }
  }
  if (!info) {
    auto tt = co_await db_->exec(sql::kSelectTicketType, params(p(h.event_id), p(h.ticket_type_id)));
    if (!tt.empty()) {
      info = TicketTypeInfo{tt.one().str("kind"), tt.one().str("name"), tt.one().i64("price"), clock_->now_ms()};
      std::lock_guard lock(mu_);
      if (ticket_types_.size() > 10'000) {
        ticket_types_.clear();  // bounded: ids come from requests
      }
      ticket_types_[tt_key] = *info;
    }
  }
  if (!info || info->kind != "general_admission") {
    throw ApiError(400, "unknown_ticket_type", "No general-admission ticket type with this id for the event.",
                   {{"ticketTypeId", "unknown general-admission ticket type"}});
  }
  const std::int64_t price = info->price;
  const std::string name = info->name;
  if (h.quantity <= 0) {
    throw errors::bad_request("quantity must be positive");
  }
  if (h.quantity > ev->per_user_limit) {
    throw limit_error(ev->per_user_limit);
  }
  const bool pg = db_->engine() == store::Engine::postgres;
  std::int64_t stripes = pg ? stripe_count(h.event_id, h.ticket_type_id) : 0;
  if (!pg || stripes == 0) {
    // Sold-out fast answer from a plain read, no transaction: after a sell-out most buyers end here.
    // Only "sold out" is decided from it; a sale is always decided by the conditional writes.
    // (PostgreSQL reads it only when the one-statement order below found its stripe full.)
    auto free = co_await db_->exec(sql::kQuotaFree, params(p(h.event_id), p(h.ticket_type_id)));
    if (free.one().i64("free") < h.quantity) {
      throw errors::make("sold_out");
    }
    if (pg && free.one().i64("n") > 0) {
      stripes = free.one().i64("n");
      remember_stripes(h.event_id, h.ticket_type_id, stripes);
    }
  }
  bool expired_swept = false;
  bool pg_one_statement = pg && stripes > 0;
  int deadlock_retries = 0;
  for (;;) {
    const Millis now = clock_->now_ms();
    Reservation r;
    r.id = ids::uuid_v7(now);
    r.user_id = h.user_id;
    r.event_id = h.event_id;
    r.kind = Kind::general_admission;
    r.ticket_type_id = h.ticket_type_id;
    r.quantity = h.quantity;
    r.amount = price * h.quantity;
    r.expires_at = now + ev->hold_minutes * 60'000;
    r.idempotency_key = h.idempotency_key;
    r.request_hash = hash;
    r.created_at = now;
    r.updated_at = now;
    std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
      r.items.clear();
      auto lim = co_await tx.exec(sql::kReserveUserTickets,
                                  params(p(h.event_id), p(h.user_id), p(h.quantity), p(ev->per_user_limit)));
      if (lim.affected == 0) {
        throw LimitHit();
      }
      for (const auto& [stripe, k] : co_await take_quota(tx, h.event_id, h.ticket_type_id, h.quantity)) {
        ReservationItem it;
        it.label = name;
        it.ticket_type_id = h.ticket_type_id;
        it.unit_price = price;
        it.quantity = k;
        it.stripe = stripe;
        r.items.push_back(std::move(it));
      }
      co_await insert_reservation(tx, r);
    };
    std::optional<ApiError> failure;
    bool limit_hit = false;
    try {
      bool decided = false;
      if (db_->engine() == store::Engine::sqlite) {
        // SQLite: one stripe in one write transaction and one trip to the database thread.
        std::vector<std::pair<std::string, store::Params>> batch;
        batch.emplace_back(sql::kGaItemSqlite, params(p(r.id), p(name), p(h.ticket_type_id), p(price), p(h.quantity),
                                                     p(h.event_id), p(h.user_id), p(ev->per_user_limit)));
        batch.emplace_back(sql::kGaTakeSqlite, params(p(h.event_id), p(h.ticket_type_id), p(r.id), p(h.quantity)));
        batch.emplace_back(sql::kGaCountSqlite, params(p(h.event_id), p(h.user_id), p(h.quantity), p(r.id)));
        batch.emplace_back(sql::kGaReservationSqlite,
                           params(p(r.id), p(h.user_id), p(h.event_id), p(h.ticket_type_id), p(h.quantity),
                                  p(r.amount), p(r.expires_at), p(h.idempotency_key), p(hash), p(now)));
        batch.emplace_back(sql::kSelectItems, params(p(r.id)));
        auto res = co_await run_grouped(std::move(batch));
        if (res.at(0).affected == 1) {
          if (res.at(1).affected != 1 || res.at(2).affected != 1 || res.at(3).affected != 1 ||
              res.at(4).rows.size() != 1) {
            throw std::logic_error("quota hold: partial write");  // cannot happen: one writer
          }
          r.items.clear();
          r.items.push_back(item_from(res.at(4).rows.front()));
          decided = true;
        } else {
          auto lim = co_await db_->exec(sql::kUserTickets, params(p(h.event_id), p(h.user_id)));
          const std::int64_t have = lim.empty() ? 0 : lim.rows.front().i64("tickets");
          if (have + h.quantity > ev->per_user_limit) {
            throw LimitHit();
          }
          // No single stripe has room: several stripes, or sold out — the transaction decides.
        }
      }
      if (pg_one_statement) {
        // PostgreSQL: one random stripe as ONE statement (sql::kGaHoldPg: one round trip, one commit).
        const auto stripe = static_cast<std::int64_t>(randombytes_uniform(static_cast<std::uint32_t>(stripes)));
        auto ps = params(p(h.event_id), p(h.ticket_type_id), p(h.user_id), p(stripe), p(h.quantity),
                         p(ev->per_user_limit), p(r.id), p(r.amount), p(r.expires_at), p(h.idempotency_key),
                         p(hash), p(now), p(name), p(price));
        std::vector<std::string> rows{stripe_row(h.event_id, h.ticket_type_id, stripe)};
        auto res = co_await pg_hold(h.event_id, h.user_id, sql::kGaHoldPg, std::move(ps), std::move(rows));
        const store::Row& row = res.one();
        if (!row.is_null("stripe")) {
          if (row.i64("written") != 2) {
            throw std::logic_error("quota hold: partial write");  // cannot happen: all from one CTE
          }
          ReservationItem it;
          it.label = name;
          it.ticket_type_id = h.ticket_type_id;
          it.unit_price = price;
          it.quantity = h.quantity;
          it.stripe = row.i64("stripe");
          r.items.clear();
          r.items.push_back(std::move(it));
          decided = true;
        } else if (row.i64("room") == 1) {
          throw LimitHit();
        } else {
          // This stripe is full: is anything left at all (a plain read), then the transaction decides
          // (other stripes, or a quantity spread over several near sell-out).
          pg_one_statement = false;
          auto free = co_await db_->exec(sql::kQuotaFree, params(p(h.event_id), p(h.ticket_type_id)));
          if (free.one().i64("free") < h.quantity) {
            throw QuotaExhausted();
          }
        }
      }
      if (!decided) {
        co_await db_->transaction(std::move(work));
      }
      InventoryChange change;
      change.event_id = h.event_id;  // quota only: no seat changed
      notify(change);
      co_return HoldResult{std::move(r), false};
    } catch (const LimitHit&) {
      limit_hit = true;
    } catch (const QuotaExhausted&) {
      failure = errors::make("sold_out");
    } catch (const store::DbError& e) {
      if (pg_one_statement && e.retryable() && ++deadlock_retries <= 3) {
        hold_deadlocks_.fetch_add(1, std::memory_order_relaxed);
        continue;  // a deadlock on the counter or the stripe: the one statement wrote nothing
      }
      if (e.kind != store::DbError::Kind::unique_violation) {
        throw;
      }
      failure = errors::make("idempotency_conflict");
    }
    if (auto rep = co_await replay(h.user_id, h.idempotency_key, hash)) {
      co_return std::move(*rep);
    }
    if (limit_hit) {
      if (!expired_swept && co_await expire_for_user(h.user_id, h.event_id) > 0) {
        expired_swept = true;
        continue;
      }
      throw limit_error(ev->per_user_limit);
    }
    throw *failure;
  }
}

// ------------------------------------------------------------------------------------------------
// Reads of reservations

namespace {
// Rows of kSelectReservationWithItems / kLockReservationWithItems: the reservation and its items.
std::optional<Reservation> reservation_with_items(const store::Result& res) {
  if (res.empty()) {
    return std::nullopt;
  }
  Reservation r = reservation_from(res.rows.front());
  for (const auto& row : res.rows) {
    if (auto item = joined_item_from(row)) {
      r.items.push_back(std::move(*item));
    }
  }
  return r;
}
}  // namespace

Task<std::optional<Reservation>> ReservationStore::load(store::Tx& tx, const std::string& id, bool lock) {
  // One statement for the reservation and its items (was two).
  std::string text;
  if (lock && is_pg(tx)) {
    text = sql::kLockReservationWithItems;
  } else {
    text = sql::kSelectReservationWithItems;
  }
  auto res = co_await tx.exec(text, params(p(id)));
  co_return reservation_with_items(res);
}

Task<std::optional<Reservation>> ReservationStore::find(const std::string& id) {
  auto res = co_await db_->exec(sql::kSelectReservationWithItems, params(p(id)));
  co_return reservation_with_items(res);
}

Task<std::vector<Reservation>> ReservationStore::list_for_user(const std::string& user_id,
                                                               std::int64_t limit) {
  auto res = co_await db_->exec(sql::kListByUser, params(p(user_id), p(limit)));
  std::vector<Reservation> out;
  for (const auto& row : res.rows) {
    out.push_back(reservation_from(row));
  }
  co_return out;
}

Task<std::vector<Reservation>> ReservationStore::search(const std::string& event_id,
                                                        const std::string& user_id, const std::string& status,
                                                        std::int64_t limit) {
  auto res = co_await db_->exec(sql::kAdminSearch, params(p(event_id), p(user_id), p(status), p(limit)));
  std::vector<Reservation> out;
  for (const auto& row : res.rows) {
    out.push_back(reservation_from(row));
  }
  co_return out;
}

// ------------------------------------------------------------------------------------------------
// Releasing inventory (expiry, cancel, failed confirmation)

// Gives back what `r` holds (from PENDING) or owns (from CONFIRMED). Only rows still pointing at r
// are touched: a seat whose expired hold someone else took over stays theirs.
Task<std::vector<SeatChange>> ReservationStore::release(store::Tx& tx, const Reservation& r, Status from) {
  std::vector<SeatChange> changed;
  co_await tx.exec(sql::kReleaseUserTickets, params(p(r.event_id), p(r.user_id), p(r.quantity)));
  if (r.kind == Kind::seated) {
    const auto seats = seat_ids_of(r);
    if (!seats.empty()) {
      auto ps = params(p(r.event_id), p(r.id));
      append(ps, seats);
      // A named string: g++ 12 destroys a ?: temporary inside a co_await operand twice.
      std::string text;
      if (from == Status::confirmed) {
        text = sql::release_sold_seats(seats.size());
      } else {
        text = sql::release_held_seats(seats.size());
      }
      auto res = co_await tx.exec(text, std::move(ps));
      changed = changes_from(res, SeatStatus::available);
    }
  } else {
    for (const auto& it : r.items) {
      if (it.stripe) {
        co_await tx.exec(sql::kReturnToStripe,
                         params(p(r.event_id), p(it.ticket_type_id), p(*it.stripe), p(it.quantity)));
      }
    }
  }
  co_return changed;
}

Task<bool> ReservationStore::expire_in(store::Tx& tx, const std::string& id, Millis now,
                                       InventoryChange& change) {
  auto r = co_await load(tx, id, true);
  if (!r || r->status != Status::pending || r->expires_at >= now) {
    co_return false;
  }
  change.event_id = r->event_id;
  change.seats = co_await release(tx, *r, Status::pending);
  co_await tx.exec(sql::kSetExpired, params(p(id), p(now)));
  r->status = Status::expired;
  co_await coord::Outbox::add(tx, *clock_, "reservation.expired", r->id,
                              expired_payload(*r, now, "hold_expired"));
  co_return true;
}

Task<bool> ReservationStore::expire(const std::string& id) {
  bool done = false;
  InventoryChange change;
  const Millis now = clock_->now_ms();
  std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
    change = InventoryChange{};
    done = co_await expire_in(tx, id, now, change);
  };
  co_await db_->transaction(std::move(work));
  if (done) {
    notify(change);
  }
  co_return done;
}

Task<int> ReservationStore::expire_due(int batch) {
  auto due = co_await db_->exec(sql::kDueForExpiry, params(p(clock_->now_ms()), p(batch)));
  int n = 0;
  for (const auto& row : due.rows) {
    if (co_await expire(row.str("id"))) {
      ++n;
    }
  }
  co_return n;
}

Task<int> ReservationStore::expire_for_user(const std::string& user_id, const std::string& event_id) {
  auto due = co_await db_->exec(sql::kUserExpiredHolds, params(p(user_id), p(event_id), p(clock_->now_ms())));
  int n = 0;
  for (const auto& row : due.rows) {
    if (co_await expire(row.str("id"))) {
      ++n;
    }
  }
  co_return n;
}

// ------------------------------------------------------------------------------------------------
// Cancel

Task<Reservation> ReservationStore::cancel(const std::string& id, const std::string& actor, bool admin) {
  std::optional<Reservation> out;
  bool changed = false;
  InventoryChange change;
  const Millis now = clock_->now_ms();
  std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
    changed = false;
    change = InventoryChange{};
    out = co_await load(tx, id, true);
    if (!out || (!admin && out->user_id != actor)) {
      throw errors::not_found("reservation");  // never reveal another user's reservation
    }
    Reservation& r = *out;
    if (r.status == Status::cancelled) {
      co_return;  // idempotent
    }
    if (r.status == Status::expired || (r.status == Status::pending && r.expires_at < now)) {
      throw errors::make("hold_expired");
    }
    if (!admin) {
      auto ev = co_await tx.exec(sql::kSelectEvent, params(p(r.event_id)));
      if (!ev.empty() && ev.one().i64("performance_start") <= now) {
        throw errors::conflict("cancel_closed", "The performance has started; ask an administrator.");
      }
    }
    const Status previous = r.status;
    change.event_id = r.event_id;
    change.seats = co_await release(tx, r, previous);
    if (previous == Status::confirmed) {
      co_await tx.exec(sql::kCancelTickets, params(p(r.id)));
    }
    co_await tx.exec(sql::kSetCancelled, params(p(r.id), p(now)));
    r.status = Status::cancelled;
    r.cancelled_at = now;
    r.updated_at = now;
    co_await coord::Outbox::add(tx, *clock_, "reservation.cancelled", r.id,
                                cancelled_payload(r, previous, previous == Status::confirmed,
                                                  admin && actor != r.user_id ? "admin" : "owner", now));
    changed = true;
  };
  co_await db_->transaction(std::move(work));
  if (changed) {
    notify(change);
  }
  co_return std::move(*out);
}

// ------------------------------------------------------------------------------------------------
// Confirmation on payment.completed

Task<std::vector<Ticket>> ReservationStore::issue_tickets(store::Tx& tx, const Reservation& r, Millis now) {
  std::vector<Ticket> out = new_tickets(r, now);
  for (const auto& t : out) {
    auto ps = params(p(t.code), p(t.reservation_id), p(t.event_id), p(t.user_id), p(t.seat_id), p(t.ticket_type_id),
                     p(t.label), p(now));
    auto res = co_await tx.exec(sql::kInsertTicket, std::move(ps));
    (void)res;
  }
  co_return out;
}

Task<ConfirmResult> ReservationStore::confirm(store::Tx& tx, const PaymentCompleted& pay) {
  const Millis now = clock_->now_ms();
  auto loaded = co_await load(tx, pay.reservation_id, true);
  auto fail = [&](const Reservation* r, std::string_view reason) -> Task<ConfirmResult> {
    log::warn(
        log_, "payment cannot confirm the reservation; refund requested",
        {lf("reservation_id", pay.reservation_id), lf("payment_id", pay.payment_id), lf("reason", reason)});
    co_await coord::Outbox::add(
        tx, *clock_, "reservation.confirmation_failed", pay.reservation_id,
        confirmation_failed_payload(pay.reservation_id, pay.payment_id, r, reason, now));
    ConfirmResult out{ConfirmOutcome::failed, {}};
    if (r != nullptr) {
      out.event_id = r->event_id;
    }
    co_return out;
  };
  if (!loaded) {
    co_return co_await fail(nullptr, "unknown_reservation");
  }
  Reservation& r = *loaded;
  if (r.status == Status::confirmed) {
    if (r.payment_id == pay.payment_id) {
      co_return ConfirmResult{ConfirmOutcome::duplicate, {}};
    }
    co_return co_await fail(&r, "already_paid");  // a second payment for the same order
  }
  if (r.status == Status::cancelled) {
    co_return co_await fail(&r, "cancelled");
  }
  if (pay.amount && *pay.amount != r.amount) {
    co_return co_await fail(&r, "amount_mismatch");
  }
  const bool was_expired = r.status == Status::expired;
  std::vector<SeatChange> sold_changes;
  bool claimed = true;
  const char* reason = "seats_taken";
  if (r.kind == Kind::seated) {
    const auto seats = seat_ids_of(r);
    auto ps = params(p(r.event_id));
    append(ps, seats);
    auto rows = co_await tx.exec(sql::lock_seats(seats.size(), is_pg(tx)), std::move(ps));
    claimed = rows.rows.size() == seats.size();
    for (const auto& row : rows.rows) {
      const std::string status = row.str("status");
      const bool ours = row.opt_str("hold_id") == r.id;
      const bool expired_hold = status == "held" && row.opt_i64("hold_expires_at").value_or(0) < now;
      if (!(status == "available" || (status == "held" && (ours || expired_hold)))) {
        claimed = false;
      }
    }
    if (claimed) {
      auto sp = params(p(r.event_id), p(r.id));
      append(sp, seats);
      auto sold = co_await tx.exec(sql::sell_seats(seats.size()), std::move(sp));
      sold_changes = changes_from(sold, SeatStatus::sold);
    }
  } else if (was_expired) {
    // The quota was given back at expiry; take it again if any is left.
    reason = "sold_out";
    try {
      auto taken = co_await take_quota(tx, r.event_id, r.ticket_type_id.value_or(""), r.quantity);
      ReservationItem base;
      if (!r.items.empty()) {
        base = r.items.front();
      }
      r.items.clear();
      for (const auto& [stripe, k] : taken) {
        ReservationItem it = base;
        it.quantity = k;
        it.stripe = stripe;
        r.items.push_back(std::move(it));
      }
      co_await tx.exec(sql::kDeleteItems, params(p(r.id)));
      co_await tx.exec(sql::insert_items(r.items.size()), item_params(r.id, r.items));
    } catch (const QuotaExhausted&) {
      claimed = false;
    }
  }
  if (!claimed) {
    if (r.status == Status::pending) {
      // Expired but not swept yet, and someone else owns part of it now: give back the rest.
      auto released = co_await release(tx, r, Status::pending);
      co_await tx.exec(sql::kSetExpired, params(p(r.id), p(now)));
      r.status = Status::expired;
      auto out = co_await fail(&r, reason);
      out.seats = std::move(released);
      co_return out;
    }
    co_return co_await fail(&r, reason);
  }
  if (was_expired) {
    // The counter was decremented at expiry; the paid tickets count again (no limit check: paid).
    co_await tx.exec(sql::kAddUserTickets, params(p(r.event_id), p(r.user_id), p(r.quantity)));
  }
  co_await tx.exec(sql::kSetConfirmed, params(p(r.id), p(pay.payment_id), p(now)));
  r.status = Status::confirmed;
  r.payment_id = pay.payment_id;
  r.confirmed_at = now;
  auto tickets = co_await issue_tickets(tx, r, now);
  co_await coord::Outbox::add(tx, *clock_, "reservation.confirmed", r.id, confirmed_payload(r, tickets, now));
  ConfirmResult out{ConfirmOutcome::confirmed, r.event_id, std::move(sold_changes), false};
  out.sold_out = co_await mark_if_sold_out(tx, r.event_id, now);
  co_return out;
}

// ------------------------------------------------------------------------------------------------
// Sold out

Task<bool> ReservationStore::mark_if_sold_out(store::Tx& tx, const std::string& event_id, Millis now) {
  // Cheapest checks first, in one statement: a marked event, any unsold seat (found at once until
  // the very end), any quota unit nobody holds. On almost every confirmation one of them answers.
  auto pre = co_await tx.exec(sql::kSoldOutPrecheck, params(p(event_id)));
  if (pre.one().i64("marked") > 0 || pre.one().i64("unsold") > 0 || pre.one().i64("free") > 0) {
    co_return false;
  }
  auto quota = co_await tx.exec(sql::kQuotaCapacity, params(p(event_id)));
  const std::int64_t stripes = quota.one().i64("n");
  if (stripes > 0) {
    if (quota.one().i64("free") > 0) {
      co_return false;  // quota units nobody holds yet
    }
    // Every unit is held or sold: sold out only when the confirmed units fill the whole quota.
    auto confirmed = co_await tx.exec(sql::kConfirmedQuotaUnits, params(p(event_id)));
    if (confirmed.one().i64("n") < quota.one().i64("cap")) {
      co_return false;
    }
  } else {
    auto any = co_await tx.exec(sql::kAnySeat, params(p(event_id)));
    if (any.empty()) {
      co_return false;  // no inventory at all is not "sold out"
    }
  }
  auto ins = co_await tx.exec(sql::kMarkSoldOut, params(p(event_id), p(now)));
  if (ins.affected != 1) {
    co_return false;  // a concurrent confirmation announced it
  }
  co_await coord::Outbox::add(tx, *clock_, "inventory.sold_out", event_id, sold_out_payload(event_id, now));
  log::info(log_, "event sold out", {lf("event_id", event_id)});
  co_return true;
}

Task<int> ReservationStore::sold_out_scan(int limit) {
  const Millis now = clock_->now_ms();
  auto candidates = co_await db_->exec(sql::kSoldOutCandidates, params(p(now), p(limit)));
  int marked = 0;
  for (const auto& row : candidates.rows) {
    if (co_await mark_sold_out_in_tx(row.str("event_id"), now)) {
      ++marked;
    }
  }
  co_return marked;
}

Task<bool> ReservationStore::mark_sold_out_in_tx(std::string event_id, Millis now) {
  bool done = false;
  std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
    done = co_await mark_if_sold_out(tx, event_id, now);
  };
  co_await db_->transaction(std::move(work));
  co_return done;
}

// ------------------------------------------------------------------------------------------------
// Inventory from the event service

Task<void> ReservationStore::apply_published(store::Tx& tx, const PublishedEvent& e) {
  const Millis now = clock_->now_ms();
  const EventInfo& i = e.info;
  co_await tx.exec(sql::kUpsertEvent, params(p(i.event_id), p(i.title), p(i.status), p(i.sale_start),
                                             p(i.sale_end), p(i.performance_start), p(i.per_user_limit),
                                             p(i.hold_minutes), p(i.waiting_room), p(now)));
  std::map<std::string, std::int64_t> price_of;
  for (const auto& t : e.ticket_types) {
    price_of[t.id] = t.price;
    co_await tx.exec(sql::kUpsertTicketType,
                     params(p(i.event_id), p(t.id), p(t.name), p(to_string(t.kind)), p(t.price), p(t.quota)));
    if (t.kind != Kind::general_admission) {
      continue;
    }
    auto existing = co_await tx.exec(sql::kSelectStripes, params(p(i.event_id), p(t.id)));
    if (existing.empty()) {
      const auto caps = stripe_caps(*t.quota, opts_.quota_stripes);
      for (std::size_t s = 0; s < caps.size(); ++s) {
        co_await tx.exec(sql::kInsertStripe,
                         params(p(i.event_id), p(t.id), p(static_cast<std::int64_t>(s)), p(caps[s])));
      }
      continue;
    }
    // A changed quota: grow the first stripe, or shrink stripes with room to spare. A quota below
    // what is already held or sold stops at that floor (never takes a ticket back).
    std::int64_t total = 0;
    for (const auto& row : existing.rows) {
      total += row.i64("cap");
    }
    std::int64_t delta = *t.quota - total;
    for (const auto& row : existing.rows) {
      if (delta == 0) {
        break;
      }
      const std::int64_t cap = row.i64("cap");
      const std::int64_t used = row.i64("used");
      const std::int64_t change = delta > 0 ? delta : std::max(delta, used - cap);
      if (change == 0) {
        continue;
      }
      co_await tx.exec(sql::kSetStripeCap,
                       params(p(i.event_id), p(t.id), p(row.i64("stripe")), p(cap + change)));
      delta -= change;
    }
    if (delta != 0) {
      log::warn(log_, "quota lowered below what is already held or sold",
                {lf("event_id", i.event_id), lf("ticket_type_id", t.id),
                 lf("short_by", static_cast<long long>(-delta))});
    }
  }
  // Seats in batches (one statement per batch); republishing never touches status or owner.
  constexpr std::size_t kBatch = 200;
  std::vector<const PublishedSeat*> batch;
  auto flush = [&]() -> Task<void> {
    if (batch.empty()) {
      co_return;
    }
    store::Params ps;
    ps.reserve(1 + 4 * batch.size());
    ps.push_back(p(i.event_id));
    for (const auto* s : batch) {
      ps.push_back(p(s->id));
      ps.push_back(p(s->label));
      ps.push_back(p(s->ticket_type_id));
      ps.push_back(p(price_of[s->ticket_type_id]));
    }
    co_await tx.exec(sql::upsert_seats(batch.size()), std::move(ps));
    batch.clear();
  };
  for (const auto& s : e.seats) {
    if (!price_of.count(s.ticket_type_id)) {
      continue;  // a seat whose category has no ticket type cannot be sold
    }
    batch.push_back(&s);
    if (batch.size() == kBatch) {
      co_await flush();
    }
  }
  co_await flush();
}

Task<void> ReservationStore::apply_status_changed(store::Tx& tx, const StatusChanged& s) {
  co_await tx.exec(sql::kUpdateEventStatus,
                   params(p(s.event_id), p(s.to), p(s.sale_start), p(s.sale_end), p(clock_->now_ms())));
}

// ------------------------------------------------------------------------------------------------
// Reads

Task<std::vector<SeatState>> ReservationStore::seat_map(const std::string& event_id) {
  auto res = co_await db_->exec(sql::kSeatMap, params(p(event_id)));
  std::vector<SeatState> out;
  out.reserve(res.rows.size());
  for (const auto& row : res.rows) {
    SeatState s;
    s.seat_id = row.str(0);
    s.label = row.str(1);
    s.ticket_type_id = row.str(2);
    s.price = row.i64(3);
    const std::string status = row.str(4);
    if (status == "sold") {
      s.status = SeatStatus::sold;
    } else if (status == "held" && !row.is_null(5)) {
      s.status = SeatStatus::held;  // free once hold_expires_at has passed (the reader decides)
      s.hold_expires_at = row.i64(5);
    } else {
      s.status = SeatStatus::available;
    }
    s.version = row.i64(6);
    out.push_back(std::move(s));
  }
  co_return out;
}

Task<std::vector<QuotaState>> ReservationStore::quotas(const std::string& event_id) {
  auto types = co_await db_->exec(sql::kSelectTicketTypes, params(p(event_id)));
  auto used = co_await db_->exec(sql::kQuotaStats, params(p(event_id)));
  std::vector<QuotaState> out;
  for (const auto& row : types.rows) {
    if (row.str("kind") != "general_admission") {
      continue;
    }
    QuotaState q;
    q.ticket_type_id = row.str("ticket_type_id");
    q.name = row.str("name");
    q.price = row.i64("price");
    for (const auto& u : used.rows) {
      if (u.str("ticket_type_id") == q.ticket_type_id) {
        q.quota = u.i64("cap");
        q.used = u.i64("used");
      }
    }
    out.push_back(std::move(q));
  }
  co_return out;
}

Task<std::map<std::string, std::int64_t>> ReservationStore::seat_counts(const std::string& event_id, Millis now) {
  std::map<std::string, std::int64_t> out;
  auto seats = co_await db_->exec(sql::kSeatStats, params(p(event_id), p(now)));
  for (const auto& row : seats.rows) {
    out[row.str("s")] += row.i64("n");
  }
  co_return out;
}

Task<EventStats> ReservationStore::stats(const std::string& event_id) {
  EventStats st;
  const std::string id = event_id;
  const Millis now = clock_->now_ms();
  auto seats = co_await seat_counts(id, now);
  for (const auto& [status, n] : seats) {
    st.seats[status] += n;
  }
  st.quotas = co_await quotas(event_id);
  auto res = co_await db_->exec(sql::kReservationStats, params(p(event_id)));
  for (const auto& row : res.rows) {
    const std::string status = row.str("status");
    st.reservations[status] = row.i64("n");
    st.tickets[status] = row.i64("tickets");
    if (status == "CONFIRMED") {
      st.revenue = row.i64("amount");
    }
  }
  co_return st;
}

Task<std::vector<Ticket>> ReservationStore::tickets_for_user(const std::string& user_id, std::int64_t limit) {
  auto res = co_await db_->exec(sql::kTicketsByUser, params(p(user_id), p(limit)));
  std::vector<Ticket> out;
  for (const auto& row : res.rows) {
    out.push_back(ticket_from(row));
  }
  co_return out;
}

Task<std::vector<Ticket>> ReservationStore::tickets_for_reservation(const std::string& reservation_id) {
  auto res = co_await db_->exec(sql::kTicketsByReservation, params(p(reservation_id)));
  std::vector<Ticket> out;
  for (const auto& row : res.rows) {
    out.push_back(ticket_from(row));
  }
  co_return out;
}

Task<std::optional<Ticket>> ReservationStore::ticket(const std::string& code) {
  auto res = co_await db_->exec(sql::kTicketByCode, params(p(code)));
  if (res.empty()) {
    co_return std::nullopt;
  }
  co_return ticket_from(res.rows.front());
}

Task<Checkin> ReservationStore::check_in(const std::string& code, const std::string& staff_id) {
  Checkin out;
  auto r = co_await db_->exec(sql::kCheckIn, params(p(code), p(clock_->now_ms()), p(staff_id)));
  out.ticket = co_await ticket(code);
  if (!out.ticket || out.ticket->status != "valid") {
    out.result = CheckinResult::invalid;
    out.ticket.reset();
    co_return out;
  }
  out.first_scan_at = out.ticket->checked_in_at;
  out.result = r.affected == 1 ? CheckinResult::valid : CheckinResult::already_used;
  co_return out;
}

}  // namespace tiketi::reservation
