#pragma once
// Transactional outbox and idempotent consumers.
//
// A service writes its state change and the event in one database transaction (Outbox::add).
// The relay moves unpublished rows to the stream `events:<topic>` through the Coordinator (Redis
// Streams in the scaled shape, the in-process stream in the embedded one) and marks them published.
// Consumers read through a consumer group, handle, record the event id in their own
// processed_events table inside the handler's transaction, and then ack — so redelivery is harmless.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coord/coordinator.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "store/database.hpp"

namespace tiketi::coord {

struct Event {
  std::string id;       // globally unique event id (uuid v7)
  std::string topic;    // "event.published", "payment.completed", ...
  std::string key;      // aggregate id (event id, reservation id, ...)
  std::string payload;  // JSON
  std::int64_t created_at_ms = 0;
  std::string trace_id;
};

// Migration text that creates outbox and processed_events in a service's database.
store::Migration outbox_migration(int version);

struct NewEvent {
  std::string topic;
  std::string key;
  std::string payload;
  std::string trace_id;
};

class Outbox {
 public:
  // Adds an event inside the caller's transaction; returns the event id.
  static Task<std::string> add(store::Tx& tx, const Clock& clock, std::string topic, std::string key,
                               std::string payload, std::string trace_id = {});
  // Adds several events with ONE statement (same created_at, ids ascending in the given order, so the
  // relay publishes them in that order); returns their ids in that order. Nothing is written for an
  // empty list.
  static Task<std::vector<std::string>> add_many(store::Tx& tx, const Clock& clock, std::vector<NewEvent> events);
};

// Publishes outbox rows of one database to the coordinator's streams. Several replicas may run a
// relay for the same database: rows are claimed with a lease so each is published once in the
// normal case (and at least once always; consumers dedupe).
class OutboxRelay {
 public:
  OutboxRelay(store::DatabasePtr db, CoordinatorPtr coord, ClockPtr clock, LogContext log);
  ~OutboxRelay();
  // Runs until stop(); polls every poll_ms and is woken early by notify().
  Task<void> run(int poll_ms = 50);
  // Publishes what is pending now if this relay holds (or can take) the lease "outbox:<schema>";
  // returns the number published (0 when another replica holds the lease). One pass is four round
  // trips whatever the batch size: lease, SELECT, one script that XADDs every row in order, one
  // UPDATE that marks them all published.
  Task<int> publish_pending(int batch = 256);
  // Under a steady stream of notify() calls, passes start at most this often (default 5 ms), so a
  // busy writer's events leave in batches instead of one pass per commit. A notify after a quiet
  // spell still starts a pass at once. Before run().
  void set_min_interval(std::chrono::milliseconds interval);
  void notify();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Handler for one event inside the consumer's transaction. Throwing rolls back and the event is
// retried later; returning commits and the event is acked.
//
// Several entries of one read share ONE transaction (up to ConsumerOptions::max_per_transaction):
// one statement records all their ids in processed_events (entries seen before, and repeats inside
// the batch, are skipped), the handlers run in stream order, one commit, then every entry is acked.
// If any handler throws (or the commit fails), that transaction rolls back and the batch is handled
// again one entry per transaction, so one poison event is left unacked for a later retry while the
// others commit. A handler may therefore run more than once for an event whose effects were rolled
// back; as with Database::transaction's retries, work outside `tx` (metrics, cache pokes) must
// tolerate that.
using EventHandler = std::function<Task<void>(store::Tx&, const Event&)>;

// Optional handler for the new events of one batch at once (set-based work), inside the batch's
// transaction: the events not seen before, in stream order, repeats removed. Used only when a batch
// has two or more new events; a single event, and the one-per-transaction fallback after a failed
// batch, go to the per-event EventHandler, which must do the same thing for one event.
using BatchHandler = std::function<Task<void>(store::Tx&, const std::vector<Event>&)>;

struct ConsumerOptions {
  Ttl block{1'000};            // how long one read waits for new entries; also bounds stop() latency
  Ttl claim_min_idle{30'000};  // unacked this long (dead consumer, failed handler) -> taken over
  std::int64_t batch = 64;     // entries per read
  std::int64_t max_per_transaction = 64;  // entries handled in one transaction (1 = one each)
};

class Consumer {
 public:
  Consumer(store::DatabasePtr db, CoordinatorPtr coord, std::string group, std::string consumer_name,
           LogContext log);
  ~Consumer();
  void on(std::string topic, EventHandler handler);
  // As above, plus a handler for whole batches (see BatchHandler); `handler` stays the fallback.
  void on(std::string topic, EventHandler handler, BatchHandler batch);
  void set_options(ConsumerOptions options);  // before run()/poll_once()
  // Runs until stop(): creates the groups, reads, claims stale entries from dead consumers.
  Task<void> run();
  // One pass over what is available now (tests); returns events handled.
  Task<int> poll_once(int max = 256);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

std::string stream_for_topic(const std::string& topic);  // "events:" + topic

}  // namespace tiketi::coord
