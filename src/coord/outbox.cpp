#include "coord/outbox.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <set>
#include <mutex>

#include "coord/memory/memory_state.hpp"
#include "core/ids.hpp"
#include "store/lists.hpp"

namespace tiketi::coord {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using WakeChannel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

constexpr const char* kCreateTables = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  trace_id TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  published_at BIGINT NULL
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (created_at, id) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS processed_events (
  event_id TEXT NOT NULL,
  consumer_group TEXT NOT NULL,
  processed_at BIGINT NOT NULL,
  PRIMARY KEY (event_id, consumer_group)
);
)sql";

constexpr const char* kInsertEvent =
    "INSERT INTO outbox (id, topic, key, payload, trace_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
// Several events in one statement: parallel text arrays on PostgreSQL, a JSON array of
// [id, topic, key, payload, trace_id] on SQLite.
constexpr const char* kInsertEventsPg =
    "INSERT INTO outbox (id, topic, key, payload, trace_id, created_at)"
    " SELECT u.id, u.topic, u.key, u.payload, u.trace_id, $6::bigint"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, topic, key, payload, trace_id)";
constexpr const char* kInsertEventsSqlite =
    "INSERT INTO outbox (id, topic, key, payload, trace_id, created_at)"
    " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
    " json_extract(value, '$[3]'), json_extract(value, '$[4]'), $2 FROM json_each($1) ORDER BY json_each.key";
constexpr const char* kSelectUnpublished =
    "SELECT id, topic, key, payload, trace_id, created_at FROM outbox WHERE published_at IS NULL "
    "ORDER BY created_at, id LIMIT $1";
// A whole published batch is marked by one statement; the ids travel as one parameter (a text[]
// literal on PostgreSQL, a JSON array on SQLite), so the text is the same for every batch size.
constexpr const char* kMarkPublishedPg = "UPDATE outbox SET published_at = $1 WHERE id = ANY($2::text[])";
constexpr const char* kMarkPublishedSqlite =
    "UPDATE outbox SET published_at = $1 WHERE id IN (SELECT value FROM json_each($2))";
constexpr const char* kRecordProcessed =
    "INSERT INTO processed_events (event_id, consumer_group, processed_at) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING";
// The dedupe rows of a batch in one statement; RETURNING names the ids not seen before (a repeat
// inside the batch conflicts with its first copy and is not returned twice).
constexpr const char* kRecordProcessedManyPg =
    "INSERT INTO processed_events (event_id, consumer_group, processed_at) "
    "SELECT unnest($1::text[]), $2::text, $3::bigint ON CONFLICT DO NOTHING RETURNING event_id";
constexpr const char* kRecordProcessedManySqlite =
    "INSERT INTO processed_events (event_id, consumer_group, processed_at) "
    "SELECT value, $2, $3 FROM json_each($1) WHERE true ON CONFLICT DO NOTHING RETURNING event_id";

constexpr Ttl kRelayLeaseTtl{10'000};

Millis wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Lists are built by plain functions: g++ 12 rejects an initializer_list of non-trivial values
// inside a coroutine ("array used as initializer").
template <class... V>
store::Params params(V&&... v) {
  store::Params out;
  out.reserve(sizeof...(v));
  (out.push_back(std::forward<V>(v)), ...);
  return out;
}

std::vector<std::pair<std::string, std::string>> entry_fields(const store::Row& row) {
  return {{"id", row.str("id")},
          {"topic", row.str("topic")},
          {"key", row.str("key")},
          {"payload", row.str("payload")},
          {"created_at", std::to_string(row.i64("created_at"))},
          {"trace_id", row.str("trace_id")}};
}

Event event_from(const StreamEntry& e, const std::string& topic) {
  Event ev;
  ev.id = e.field("id").value_or("");
  ev.topic = e.field("topic").value_or(topic);
  ev.key = e.field("key").value_or("");
  ev.payload = e.field("payload").value_or("");
  ev.trace_id = e.field("trace_id").value_or("");
  try {
    ev.created_at_ms = std::stoll(e.field("created_at").value_or("0"));
  } catch (const std::exception&) {
    ev.created_at_ms = 0;
  }
  return ev;
}

// XADDs a batch of entries in order in one call: KEYS = the stream of each entry, ARGV[1] = the
// number of values per entry (field, value, field, value, ...), then the entries' values back to
// back. Returns the new entry ids. If the call fails part-way, the entries added before stay (Redis
// does not roll a script back); the relay then publishes the whole batch again (at least once).
Script xadd_many_script() {
  Script s;
  s.name = "outbox.xadd_many";
  s.lua = R"lua(
local per = tonumber(ARGV[1])
local ids = {}
for i = 1, #KEYS do
  local base = 1 + (i - 1) * per
  ids[i] = redis.call('XADD', KEYS[i], '*', unpack(ARGV, base + 1, base + per))
end
return ids
)lua";
  s.native = [](MemoryState& m, const std::vector<std::string>& keys, const std::vector<std::string>& args) {
    const std::size_t per = static_cast<std::size_t>(std::stoul(args.at(0)));
    ReplyArray ids;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      std::vector<std::pair<std::string, std::string>> fields;
      const std::size_t base = 1 + i * per;
      for (std::size_t j = 0; j + 1 < per; j += 2) {
        fields.emplace_back(args.at(base + j), args.at(base + j + 1));
      }
      ids.push_back(Reply{m.xadd(keys[i], std::move(fields))});
    }
    return Reply{std::move(ids)};
  };
  return s;
}

// XACKs several entries of one stream: KEYS[1] = stream, ARGV[1] = group, ARGV[2..] = entry ids.
Script ack_many_script() {
  Script s;
  s.name = "consumer.ack_many";
  s.lua = "return redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))";
  s.native = [](MemoryState& m, const std::vector<std::string>& keys, const std::vector<std::string>& args) {
    std::int64_t n = 0;
    for (std::size_t i = 1; i < args.size(); ++i) {
      n += m.ack(keys.at(0), args[0], args[i]) ? 1 : 0;
    }
    return Reply{n};
  };
  return s;
}

const Script& xadd_many() {
  static const Script s = xadd_many_script();
  return s;
}

const Script& ack_many() {
  static const Script s = ack_many_script();
  return s;
}

// A wake-up signal that may be raised from any thread before or while someone waits on it.
class Waker {
 public:
  void attach(const Executor& ex) {
    std::lock_guard lock(mu_);
    channel_ = std::make_shared<WakeChannel>(ex, 1);
    if (pending_) {
      channel_->try_send(boost::system::error_code{});
      pending_ = false;
    }
  }
  void wake() {
    std::lock_guard lock(mu_);
    if (channel_) {
      channel_->try_send(boost::system::error_code{});  // a full buffer already means "wake"
    } else {
      pending_ = true;
    }
  }
  // Returns when woken or after `timeout`.
  Task<void> wait(Ttl timeout) {
    std::shared_ptr<WakeChannel> ch;
    {
      std::lock_guard lock(mu_);
      ch = channel_;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    if (!ch) {
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    co_await (ch->async_receive(asio::as_tuple(asio::use_awaitable)) ||
              timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  }

 private:
  std::mutex mu_;
  std::shared_ptr<WakeChannel> channel_;
  bool pending_ = false;
};

}  // namespace

std::string stream_for_topic(const std::string& topic) { return "events:" + topic; }

store::Migration outbox_migration(int version) {
  store::Migration m;
  m.version = version;
  m.name = "outbox";
  m.sql = kCreateTables;
  return m;
}

Task<std::vector<std::string>> Outbox::add_many(store::Tx& tx, const Clock& clock, std::vector<NewEvent> events) {
  std::vector<std::string> ids;
  if (events.empty()) {
    co_return ids;
  }
  const Millis now = clock.now_ms();
  ids.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    ids.push_back(ids::uuid_v7(now));
  }
  // The relay publishes in (created_at, id) order and the rows share created_at: sorted ids keep
  // the given order (uuid v7 ids of one millisecond are not monotonic by themselves).
  std::sort(ids.begin(), ids.end());
  const store::Engine engine = tx.engine();
  if (engine == store::Engine::postgres) {
    std::vector<std::string> topics, keys, payloads, traces;
    for (auto& e : events) {
      topics.push_back(std::move(e.topic));
      keys.push_back(std::move(e.key));
      payloads.push_back(std::move(e.payload));
      traces.push_back(std::move(e.trace_id));
    }
    store::Params bound = params(store::p(store::text_list(engine, ids)), store::p(store::text_list(engine, topics)),
                                 store::p(store::text_list(engine, keys)), store::p(store::text_list(engine, payloads)),
                                 store::p(store::text_list(engine, traces)), store::p(now));
    auto r = co_await tx.exec(kInsertEventsPg, std::move(bound));
    (void)r;
  } else {
    // [[id, topic, key, payload, trace_id], ...]; json_each's key is the element's index.
    std::vector<std::vector<std::optional<std::string>>> rows;
    rows.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto& e = events[i];
      rows.push_back({ids[i], std::move(e.topic), std::move(e.key), std::move(e.payload), std::move(e.trace_id)});
    }
    store::Params bound = params(store::p(store::json_rows(rows)), store::p(now));
    auto r = co_await tx.exec(kInsertEventsSqlite, std::move(bound));
    (void)r;
  }
  co_return ids;
}

Task<std::string> Outbox::add(store::Tx& tx, const Clock& clock, std::string topic, std::string key,
                              std::string payload, std::string trace_id) {
  const Millis now = clock.now_ms();
  std::string id = ids::uuid_v7(now);
  co_await tx.exec(kInsertEvent,
                   params(store::p(id), store::p(std::move(topic)), store::p(std::move(key)),
                          store::p(std::move(payload)), store::p(std::move(trace_id)), store::p(now)));
  co_return id;
}

// ---------------------------------------------------------------------------------------------
// Relay

struct OutboxRelay::Impl {
  store::DatabasePtr db;
  CoordinatorPtr coord;
  ClockPtr clock;
  LogContext log;
  std::string owner = "relay-" + ids::random_hex(8);
  std::string lease_name;
  std::optional<Lease> lease;
  std::atomic<bool> stopped{false};
  Waker waker;
  std::chrono::milliseconds min_interval{5};
};

OutboxRelay::OutboxRelay(store::DatabasePtr db, CoordinatorPtr coord, ClockPtr clock, LogContext log)
    : impl_(std::make_shared<Impl>()) {
  impl_->lease_name = "outbox:" + db->schema();
  impl_->db = std::move(db);
  impl_->coord = std::move(coord);
  impl_->clock = clock ? std::move(clock) : std::make_shared<SystemClock>();
  impl_->log = std::move(log);
}

OutboxRelay::~OutboxRelay() { stop(); }

Task<int> OutboxRelay::publish_pending(int batch) {
  auto self = impl_;
  // One relay per database at a time keeps the stream in created_at order. acquire_lease also
  // renews the lease we already hold.
  self->lease = co_await self->coord->acquire_lease(self->lease_name, self->owner, kRelayLeaseTtl);
  if (!self->lease) {
    co_return 0;
  }
  auto rows = co_await self->db->exec(kSelectUnpublished, params(store::p(batch)));
  if (rows.rows.empty()) {
    co_return 0;
  }
  // Every row of the batch goes to its stream in one script call, in created_at order.
  std::vector<std::string> streams;
  std::vector<std::string> args;
  std::vector<std::string> ids;
  streams.reserve(rows.rows.size());
  ids.reserve(rows.rows.size());
  args.reserve(1 + rows.rows.size() * 12);
  args.emplace_back();  // values per entry, set below
  for (const auto& row : rows.rows) {
    auto fields = entry_fields(row);
    args[0] = std::to_string(fields.size() * 2);
    streams.push_back(stream_for_topic(row.str("topic")));
    ids.push_back(row.str("id"));
    for (auto& [k, v] : fields) {
      args.push_back(std::move(k));
      args.push_back(std::move(v));
    }
  }
  auto added = co_await self->coord->eval(xadd_many(), std::move(streams), std::move(args));
  (void)added;
  // Marked only after the whole batch reached the streams; a crash or failure before this point
  // only means those rows are published again (consumers dedupe by id).
  const bool pg = self->db->engine() == store::Engine::postgres;
  const char* mark_sql = pg ? kMarkPublishedPg : kMarkPublishedSqlite;
  store::Params mark = params(store::p(self->clock->now_ms()), store::p(store::text_list(self->db->engine(), ids)));
  auto marked = co_await self->db->exec(mark_sql, std::move(mark));
  (void)marked;
  co_return static_cast<int>(rows.rows.size());
}

void OutboxRelay::set_min_interval(std::chrono::milliseconds interval) { impl_->min_interval = interval; }

Task<void> OutboxRelay::run(int poll_ms) {
  auto self = impl_;
  self->waker.attach(co_await asio::this_coro::executor);
  constexpr int kBatch = 256;
  auto last_pass = std::chrono::steady_clock::time_point{};
  while (!self->stopped) {
    // Back-to-back wake-ups (a busy writer notifies after every commit): let the next pass start
    // no sooner than min_interval after the previous one, so the rows of that interval go together.
    const auto next_allowed = last_pass + self->min_interval;
    if (const auto now = std::chrono::steady_clock::now(); now < next_allowed) {
      asio::steady_timer gap(co_await asio::this_coro::executor, next_allowed - now);
      co_await gap.async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->stopped) {
        break;
      }
    }
    last_pass = std::chrono::steady_clock::now();
    int published = 0;
    try {
      published = co_await publish_pending(kBatch);
    } catch (const std::exception& e) {
      log::warn(self->log, "outbox relay pass failed",
                {lf("error", e.what()), lf("lease", self->lease_name)});
    }
    if (self->stopped) {
      break;
    }
    if (published < kBatch) {
      co_await self->waker.wait(Ttl{poll_ms});
    }
  }
  if (self->lease) {
    try {
      co_await self->coord->release_lease(*self->lease);  // let another replica take over at once
    } catch (const std::exception& e) {
      log::warn(self->log, "outbox relay lease release failed", {lf("error", e.what())});
    }
    self->lease.reset();
  }
}

void OutboxRelay::notify() { impl_->waker.wake(); }

void OutboxRelay::stop() {
  impl_->stopped = true;
  impl_->waker.wake();
}

// ---------------------------------------------------------------------------------------------
// Consumer

struct Consumer::Impl {
  store::DatabasePtr db;
  CoordinatorPtr coord;
  std::string group;
  std::string name;
  LogContext log;
  ConsumerOptions options;
  std::map<std::string, EventHandler> handlers;  // topic -> handler
  std::map<std::string, BatchHandler> batch_handlers;  // topic -> handler of whole batches (optional)
  std::atomic<bool> stopped{false};
  bool groups_ready = false;

  Task<void> ensure_groups() {
    if (groups_ready) {
      co_return;
    }
    for (const auto& [topic, handler] : handlers) {
      co_await coord->create_group(stream_for_topic(topic), group);
    }
    groups_ready = true;
  }

  // Handles and acks one entry; returns false (leaving it unacked for a later claim) on failure.
  Task<bool> handle(const std::string& topic, const StreamEntry& entry) {
    const std::string stream = stream_for_topic(topic);
    Event ev = event_from(entry, topic);
    if (ev.id.empty()) {
      log::error(log, "dropping malformed stream entry", {lf("stream", stream), lf("entry", entry.id)});
      co_await coord->ack(stream, group, entry.id);
      co_return false;
    }
    const EventHandler& handler = handlers.at(topic);
    try {
      std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
        // The dedupe row commits with the handler's writes, so "handled" and "recorded" are one fact.
        auto r =
            co_await tx.exec(kRecordProcessed, params(store::p(ev.id), store::p(group), store::p(wall_ms())));
        if (r.affected == 0) {
          co_return;  // seen before: a redelivery
        }
        co_await handler(tx, ev);
      };
      // A named function object: g++ 12 mishandles lambda temporaries inside a co_await expression.
      co_await db->transaction(std::move(work));
    } catch (const std::exception& e) {
      log::error(log, "event handler failed; will retry",
                 {lf("event_id", ev.id), lf("topic", topic), lf("group", group), lf("error", e.what())});
      co_return false;
    }
    co_await coord->ack(stream, group, entry.id);
    co_return true;
  }

  // Acks entries of one stream in one call.
  Task<void> ack_all(const std::string& stream, std::vector<std::string> entry_ids) {
    if (entry_ids.empty()) {
      co_return;
    }
    if (entry_ids.size() == 1) {
      co_await coord->ack(stream, group, std::move(entry_ids.front()));
      co_return;
    }
    std::vector<std::string> keys;
    keys.push_back(stream);
    std::vector<std::string> args;
    args.reserve(entry_ids.size() + 1);
    args.push_back(group);
    for (auto& id : entry_ids) {
      args.push_back(std::move(id));
    }
    auto acked = co_await coord->eval(ack_many(), std::move(keys), std::move(args));
    (void)acked;
  }

  // Handles several entries in ONE transaction (see EventHandler in the header): one dedupe
  // statement, the handlers in order, one commit, one ack call. On any failure the transaction
  // rolls back and each entry is handled on its own, so a poison event does not hold back the rest.
  Task<int> handle_together(const std::string& topic, const std::vector<const StreamEntry*>& entries,
                            const std::vector<Event>& events) {
    const std::string stream = stream_for_topic(topic);
    const EventHandler& handler = handlers.at(topic);
    const auto batch_it = batch_handlers.find(topic);
    const BatchHandler* batch_handler = batch_it == batch_handlers.end() ? nullptr : &batch_it->second;
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (const auto& ev : events) {
      ids.push_back(ev.id);
    }
    // Sorted for the dedupe statement only (handlers still run in stream order): two consumers
    // whose batches share ids then take the unique-index locks in the same order (no deadlock).
    std::sort(ids.begin(), ids.end());
    const bool pg = db->engine() == store::Engine::postgres;
    const std::string list = store::text_list(db->engine(), ids);
    bool committed = false;
    std::string why;
    try {
      std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
        // Built afresh on every attempt: Database::transaction reruns this on a retryable error.
        const char* sql = pg ? kRecordProcessedManyPg : kRecordProcessedManySqlite;
        store::Params bound = params(store::p(list), store::p(group), store::p(wall_ms()));
        auto r = co_await tx.exec(sql, std::move(bound));
        std::set<std::string> fresh;
        for (const auto& row : r.rows) {
          fresh.insert(row.str(0));
        }
        std::vector<Event> todo;
        for (const auto& ev : events) {
          if (fresh.erase(ev.id) == 0) {
            continue;  // seen before (a redelivery), or a repeat of an entry earlier in this batch
          }
          todo.push_back(ev);
        }
        if (batch_handler != nullptr && todo.size() > 1) {
          co_await (*batch_handler)(tx, todo);
        } else {
          for (const auto& ev : todo) {
            co_await handler(tx, ev);
          }
        }
      };
      co_await db->transaction(std::move(work));
      committed = true;
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (!committed) {
      log::warn(log, "batch of events failed; handling them one by one",
                {lf("topic", topic), lf("group", group), lf("entries", static_cast<std::int64_t>(entries.size())),
                 lf("error", why)});
      int n = 0;
      for (const auto* e : entries) {
        if (co_await handle(topic, *e)) {
          ++n;
        }
      }
      co_return n;
    }
    std::vector<std::string> entry_ids;
    entry_ids.reserve(entries.size());
    for (const auto* e : entries) {
      entry_ids.push_back(e->id);
    }
    co_await ack_all(stream, std::move(entry_ids));
    co_return static_cast<int>(entries.size());
  }

  Task<int> handle_all(const std::string& topic, const std::vector<StreamEntry>& entries) {
    const std::string stream = stream_for_topic(topic);
    const std::size_t per_tx = static_cast<std::size_t>(std::max<std::int64_t>(options.max_per_transaction, 1));
    int n = 0;
    std::vector<const StreamEntry*> chunk;
    std::vector<Event> events;
    std::size_t i = 0;
    while (i < entries.size()) {
      chunk.clear();
      events.clear();
      for (; i < entries.size() && chunk.size() < per_tx; ++i) {
        Event ev = event_from(entries[i], topic);
        if (ev.id.empty()) {
          log::error(log, "dropping malformed stream entry", {lf("stream", stream), lf("entry", entries[i].id)});
          co_await coord->ack(stream, group, entries[i].id);
          continue;
        }
        chunk.push_back(&entries[i]);
        events.push_back(std::move(ev));
      }
      if (chunk.size() == 1) {
        if (co_await handle(topic, *chunk.front())) {
          ++n;
        }
      } else if (!chunk.empty()) {
        n += co_await handle_together(topic, chunk, events);
      }
    }
    co_return n;
  }

  Task<void> topic_loop(std::string topic) {
    const std::string stream = stream_for_topic(topic);
    auto last_claim = std::chrono::steady_clock::time_point{};
    const auto claim_every =
        std::min<std::chrono::steady_clock::duration>(options.claim_min_idle, std::chrono::seconds(1));
    while (!stopped) {
      bool failed = false;
      try {
        if (std::chrono::steady_clock::now() - last_claim >= claim_every) {
          last_claim = std::chrono::steady_clock::now();
          co_await handle_all(
              topic, co_await coord->claim_stale(stream, group, name, options.claim_min_idle, options.batch));
        }
        co_await handle_all(topic,
                            co_await coord->read_group(stream, group, name, options.batch, options.block));
      } catch (const std::exception& e) {
        log::warn(log, "consumer read failed", {lf("stream", stream), lf("error", e.what())});
        failed = true;
      }
      if (failed && !stopped) {
        // The coordinator is down: back off instead of spinning.
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }
};

Consumer::Consumer(store::DatabasePtr db, CoordinatorPtr coord, std::string group, std::string consumer_name,
                   LogContext log)
    : impl_(std::make_shared<Impl>()) {
  impl_->db = std::move(db);
  impl_->coord = std::move(coord);
  impl_->group = std::move(group);
  impl_->name = std::move(consumer_name);
  impl_->log = std::move(log);
}

Consumer::~Consumer() { stop(); }

void Consumer::on(std::string topic, EventHandler handler) {
  impl_->batch_handlers.erase(topic);
  impl_->handlers[std::move(topic)] = std::move(handler);
  impl_->groups_ready = false;
}

void Consumer::on(std::string topic, EventHandler handler, BatchHandler batch) {
  impl_->batch_handlers[topic] = std::move(batch);
  impl_->handlers[std::move(topic)] = std::move(handler);
  impl_->groups_ready = false;
}

void Consumer::set_options(ConsumerOptions options) { impl_->options = options; }

Task<int> Consumer::poll_once(int max) {
  auto self = impl_;
  co_await self->ensure_groups();
  int n = 0;
  for (const auto& [topic, handler] : self->handlers) {
    const std::string stream = stream_for_topic(topic);
    n += co_await self->handle_all(topic,
                                   co_await self->coord->claim_stale(stream, self->group, self->name,
                                                                     self->options.claim_min_idle, max));
    n += co_await self->handle_all(
        topic, co_await self->coord->read_group(stream, self->group, self->name, max, Ttl{0}));
  }
  co_return n;
}

Task<void> Consumer::run() {
  auto self = impl_;
  co_await self->ensure_groups();
  if (self->handlers.empty()) {
    co_return;
  }
  // One reader per topic so that a blocking read on a quiet topic never delays a busy one.
  auto ex = co_await asio::this_coro::executor;
  auto remaining = std::make_shared<std::atomic<int>>(static_cast<int>(self->handlers.size()));
  auto done = std::make_shared<WakeChannel>(ex, 1);
  for (const auto& [topic, handler] : self->handlers) {
    asio::co_spawn(ex, self->topic_loop(topic), [self, remaining, done, topic](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error(self->log, "consumer loop ended with an error",
                     {lf("topic", topic), lf("error", ex.what())});
        }
      }
      if (--*remaining == 0) {
        done->try_send(boost::system::error_code{});
      }
    });
  }
  co_await done->async_receive(asio::as_tuple(asio::use_awaitable));
}

void Consumer::stop() { impl_->stopped = true; }

}  // namespace tiketi::coord
