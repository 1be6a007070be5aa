#pragma once
// Group commit of small independent writes: statements of callers that arrive while a batch runs go
// together as the next pipeline — one round trip, one transaction, one commit for the whole batch
// (on this machine a PostgreSQL commit and round trip cost about as much CPU as a small conditional
// write itself: the hold benchmark's PostgreSQL CPU per hold halved with group commit).
//
// Each caller's statements must decide on their own (conditional writes, no read-then-write across
// round trips), so one caller's result never depends on which other callers share its batch. If the
// shared transaction fails for any reason (one caller's unique violation, a lock timeout, a
// deadlock), every caller of that batch runs again alone, so an error reaches only the caller that
// caused it — exactly the error it would have had without group commit.
//
// PostgreSQL: up to `in_flight` batches run at once (one executes while another waits for its WAL
// flush); another batch starts while one runs only once 8 callers wait (smaller ones cost a commit
// and a round trip for little: measured, 10-15 % less CPU per hold at the same latency). Callers name the existing rows their statements lock or whose unique keys they insert
// (`rows`, free-form keys); batches in flight together never share one — a caller whose rows are in
// a running batch waits, in queue order, for a later batch — so two batches of one process cannot
// wait for each other in opposite orders. Against other processes a batch waits at most
// `lock_timeout_ms` for a lock, then its callers run alone. SQLite has one writer: one batch at a
// time.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/database.hpp"

namespace tiketi::store {

struct GroupCommitOptions {
  std::size_t batch = 64;       // most callers per shared transaction; <= 1 turns group commit off
  std::size_t in_flight = 2;    // PostgreSQL: batches running at once (SQLite: always 1)
  int lock_timeout_ms = 100;    // PostgreSQL: a batch's longest wait for a row lock
};

class GroupCommit {
 public:
  GroupCommit(DatabasePtr db, GroupCommitOptions opts);
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `stmts` in a transaction shared with other callers; returns this caller's results, in order.
  Task<std::vector<Result>> run(std::vector<std::pair<std::string, Params>> stmts,
                                std::vector<std::string> rows = {});

  std::uint64_t batches() const;  // shared transactions run
  std::uint64_t callers() const;  // callers they carried
  std::uint64_t failed() const;   // shared transactions that failed (their callers re-ran alone)
  std::uint64_t peak() const;     // most batches seen in flight at once

 private:
  struct State;
  DatabasePtr db_;
  GroupCommitOptions opts_;
  std::shared_ptr<State> state_;
};

}  // namespace tiketi::store
