#pragma once
// The reservation service's storage: every decision about a seat or a quota is one database
// transaction here. Lock order everywhere (so concurrent work cannot deadlock): reservation row ->
// the user's counter row -> seats in seat-id order / quota stripes.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "services/reservation/domain/model.hpp"
#include "services/reservation/dto/events.hpp"
#include "store/database.hpp"
#include "store/group_commit.hpp"

namespace tiketi::reservation {

struct StoreOptions {
  std::int64_t quota_stripes = 32;  // rows per general-admission quota
  Millis event_cache_ms = 1'000;    // how long an EventInfo read is reused by holds
  // SQLite group commit: holds that queue up while one write transaction runs share the next one
  // (each hold's statements are conditional, so each stays all or nothing). 1 turns it off.
  std::size_t sqlite_hold_batch = 64;
  // PostgreSQL group commit of the one-statement holds: holds that queue up while a batch runs go
  // together as the next pipeline (one round trip, one transaction, one commit). A batch waits at
  // most 100 ms for a lock (lock_timeout), then its holds run alone. 1 turns it off (each hold its
  // own statement and commit, up to the pool size in parallel).
  std::size_t pg_hold_batch = 64;
  // PostgreSQL batches of this process in flight at once (one executes while the other commits, on
  // two backends). Two batches in flight never share a row — a hold whose user counter, seats or
  // stripe is in a running batch waits for the next one — so they cannot wait for each other.
  std::size_t pg_hold_inflight = 2;
};

struct HoldResult {
  Reservation reservation;
  bool replayed = false;  // an earlier request with the same Idempotency-Key
};

// One seat's new status after a commit; `version` is seats.version, bumped by every write, so a
// late message can never overwrite a newer status (the live seat feed keeps the highest).
struct SeatChange {
  std::string seat_id;
  SeatStatus status = SeatStatus::available;
  std::int64_t version = 0;
  Millis hold_expires_at = 0;  // held: when the hold runs out (GET /seats shows it free from then on)
};

// What a commit changed in an event's inventory (cache invalidation and the live seat feed).
struct InventoryChange {
  std::string event_id;
  std::vector<SeatChange> seats;  // empty for quota-only changes
  bool resync = false;            // the inventory or the event itself changed: refetch everything
};

enum class ConfirmOutcome { confirmed, duplicate, failed };
struct ConfirmResult {
  ConfirmOutcome outcome = ConfirmOutcome::failed;
  std::string event_id;           // set when seats or quota changed
  std::vector<SeatChange> seats;  // seats sold (confirmed) or released (failed)
  bool sold_out = false;          // this confirmation sold the last unit: inventory.sold_out added
};

// One row of the seat map as stored: `status` is the stored one (a `held` seat whose hold_expires_at
// has passed is free; the reader decides with its own clock), `version` as in SeatChange.
struct SeatState {
  std::string seat_id;
  std::string label;
  std::string ticket_type_id;
  std::int64_t price = 0;
  SeatStatus status = SeatStatus::available;
  Millis hold_expires_at = 0;
  std::int64_t version = 0;
};

struct QuotaState {
  std::string ticket_type_id;
  std::string name;
  std::int64_t price = 0;
  std::int64_t quota = 0;
  std::int64_t used = 0;  // held + sold
};

struct EventStats {
  std::map<std::string, std::int64_t> seats;  // available / held / sold
  std::vector<QuotaState> quotas;
  std::map<std::string, std::int64_t> reservations;  // by status
  std::map<std::string, std::int64_t> tickets;       // by reservation status
  std::int64_t revenue = 0;                          // CONFIRMED amounts
};

enum class CheckinResult { valid, already_used, invalid };
struct Checkin {
  CheckinResult result = CheckinResult::invalid;
  std::optional<Ticket> ticket;
  std::optional<Millis> first_scan_at;
};

class ReservationStore {
 public:
  ReservationStore(store::DatabasePtr db, ClockPtr clock, LogContext log, StoreOptions opts = {});

  store::Database& db() { return *db_; }
  const Clock& clock() const { return *clock_; }

  // Called after a commit that changed seats or quotas of an event (cache invalidation, live map).
  void set_on_change(std::function<void(const InventoryChange&)> fn) { on_change_ = std::move(fn); }

  Task<std::optional<EventInfo>> find_event(const std::string& event_id, bool fresh = false);

  // Holds. Throw ApiError: seat_unavailable / sold_out (409), limit_exceeded (409),
  // unknown_seat (400), idempotency_conflict (409), not_found.
  Task<HoldResult> hold_seats(const SeatHold& h);
  Task<HoldResult> hold_quota(const QuotaHold& h);

  Task<std::optional<Reservation>> find(const std::string& id);
  Task<std::vector<Reservation>> list_for_user(const std::string& user_id, std::int64_t limit);
  Task<std::vector<Reservation>> search(const std::string& event_id, const std::string& user_id,
                                        const std::string& status, std::int64_t limit);

  // Expiry: one transaction per reservation; returns how many expired.
  Task<bool> expire(const std::string& id);
  Task<int> expire_due(int batch = 200);
  Task<int> expire_for_user(const std::string& user_id, const std::string& event_id);

  // Cancel by owner (actor == user) or admin. Throws not_found for someone else's reservation.
  Task<Reservation> cancel(const std::string& id, const std::string& actor, bool admin);

  // Consumer handlers, inside the consumer's transaction (dedupe row in the same transaction).
  Task<ConfirmResult> confirm(store::Tx& tx, const PaymentCompleted& p);
  // A batch of payment.completed in one transaction: the common case (a PENDING reservation paid
  // once with the right amount, its seats still its own or free) set-based for the whole batch, the
  // rest through confirm() in order. Results in the order of `pays`, each as confirm() would answer.
  // (storage/confirm_store.cpp)
  Task<std::vector<ConfirmResult>> confirm_batch(store::Tx& tx, const std::vector<PaymentCompleted>& pays);
  Task<void> apply_published(store::Tx& tx, const PublishedEvent& e);
  Task<void> apply_status_changed(store::Tx& tx, const StatusChanged& s);
  // After the consumer's transaction commits. notify_changed: the whole inventory (resync).
  void notify_changed(const std::string& event_id);
  void notify(const InventoryChange& change);

  // inventory.sold_out: inside `tx`, when every seat and quota unit of the event is sold and it was
  // not announced yet, marks it and adds the outbox row. Returns whether it did.
  Task<bool> mark_if_sold_out(store::Tx& tx, const std::string& event_id, Millis now);
  // Periodic safety net (two confirmations selling the last seats concurrently on PostgreSQL may
  // each see the other's seat unsold): checks events not yet announced; returns how many it marked.
  Task<int> sold_out_scan(int limit = 200);

  // Reads.
  Task<std::vector<SeatState>> seat_map(const std::string& event_id);
  Task<std::vector<QuotaState>> quotas(const std::string& event_id);
  Task<EventStats> stats(const std::string& event_id);
  // Seats of one event by status (available/held/sold; an expired hold counts as available).
  Task<std::map<std::string, std::int64_t>> seat_counts(const std::string& event_id, Millis now);
  Task<std::vector<Ticket>> tickets_for_user(const std::string& user_id, std::int64_t limit);
  Task<std::vector<Ticket>> tickets_for_reservation(const std::string& reservation_id);
  Task<std::optional<Ticket>> ticket(const std::string& code);
  Task<Checkin> check_in(const std::string& code, const std::string& staff_id);

  // Group commit counters (SQLite holds): write transactions run, holds they carried.
  std::uint64_t hold_batches() const;
  std::uint64_t hold_batched() const;
  std::uint64_t hold_batches_failed() const;  // shared transactions that failed (holds re-run alone)
  std::uint64_t hold_batches_peak() const;    // most batches seen in flight at once
  std::uint64_t hold_deadlocks() const;       // PostgreSQL one-statement holds retried after a deadlock

 private:
  // A hold's statements (a db pipeline), run in one write transaction together with other holds
  // queued meanwhile. Results are this hold's own, in order. If the shared transaction fails, each
  // hold runs again alone, so an error belongs to the hold that caused it. `rows` names the existing
  // rows the hold locks (PostgreSQL: two batches in flight never share one; SQLite runs one batch).
  Task<std::vector<store::Result>> run_grouped(std::vector<std::pair<std::string, store::Params>> stmts,
                                               std::vector<std::string> rows = {});

  Task<std::optional<Reservation>> load(store::Tx& tx, const std::string& id, bool lock);
  Task<std::optional<HoldResult>> replay(const std::string& user_id, const std::optional<std::string>& key,
                                         const std::string& hash);
  Task<std::vector<std::pair<std::int64_t, std::int64_t>>> take_quota(store::Tx& tx,
                                                                      const std::string& event_id,
                                                                      const std::string& ticket_type_id,
                                                                      std::int64_t quantity);
  Task<bool> mark_sold_out_in_tx(std::string event_id, Millis now);
  Task<std::vector<SeatChange>> release(store::Tx& tx, const Reservation& r, Status from);
  Task<bool> expire_in(store::Tx& tx, const std::string& id, Millis now, InventoryChange& change);
  Task<std::vector<Ticket>> issue_tickets(store::Tx& tx, const Reservation& r, Millis now);
  std::int64_t stripe_count(const std::string& event_id, const std::string& ticket_type_id);
  void remember_stripes(const std::string& event_id, const std::string& ticket_type_id, std::int64_t n);
  void forget_event(const std::string& event_id);
  // PostgreSQL one-statement holds lock the user's counter row first, then the stripe or seats —
  // but only if the row exists. For a user's first holds it does not, the statement locks the
  // stripe/seats first and inserts the row last, and a concurrent hold of the same user that did
  // find the row locks in the other order: a deadlock, found only after deadlock_timeout (1 s) while
  // the stripe stays locked for everyone. So the row is made (tickets 0) before the first hold:
  // pg_hold runs the hold statement `sql`, preceded — while this process has not seen the user's
  // row yet — by that insert in the same pipeline (one round trip, one implicit transaction, one
  // commit; it was a commit of its own before every first hold).
  // `rows`: the seats or the stripe the statement locks (keys from seat_row/stripe_row in the .cpp).
  Task<store::Result> pg_hold(const std::string& event_id, const std::string& user_id, std::string sql,
                              store::Params ps, std::vector<std::string> rows);

  store::DatabasePtr db_;
  ClockPtr clock_;
  LogContext log_;
  StoreOptions opts_;
  std::function<void(const InventoryChange&)> on_change_;
  std::mutex mu_;
  std::map<std::string, std::pair<EventInfo, Millis>> events_;  // event id -> (info, fetched at)
  std::unordered_set<std::string> events_refreshing_;           // one re-read at a time per event
  std::map<std::string, std::int64_t> stripes_;                 // "event\nticket type" -> stripe count
  std::atomic<std::uint64_t> hold_deadlocks_{0};
  std::unordered_set<std::string> counter_rows_;                // "event\nuser" known to have a row
  struct TicketTypeInfo {
    std::string kind, name;
    std::int64_t price = 0;
    Millis fetched_at = 0;
  };
  std::map<std::string, TicketTypeInfo> ticket_types_;  // "event\nticket type", reused like events_
  std::unique_ptr<store::GroupCommit> group_;  // holds: SQLite always, PostgreSQL with pg_hold_batch > 1
};

Reservation reservation_from(const store::Row& row);
// The item of a reservation-with-items row (the item_* columns of the LEFT JOIN); nullopt when the
// row carries no item.
std::optional<ReservationItem> joined_item_from(const store::Row& row);
Ticket ticket_from(const store::Row& row);

}  // namespace tiketi::reservation
