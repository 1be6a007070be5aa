#include "services/notification/schema/migrations.hpp"

#include "coord/outbox.hpp"

namespace tiketi::notification {

std::vector<store::Migration> migrations() {
  return {
      // processed_events is the consumer's dedupe log (the outbox table comes with it, unused).
      coord::outbox_migration(1),
      // One row per (event, recipient): the UNIQUE constraint is what makes a redelivered event
      // harmless even if processed_events were lost. `recipient` is the user id; the address is
      // resolved from the auth service when sending and recorded in `email`.
      {2, "create deliveries",
       "CREATE TABLE deliveries ("
       " id TEXT PRIMARY KEY,"
       " event_id TEXT NOT NULL,"
       " recipient TEXT NOT NULL,"
       " topic TEXT NOT NULL,"
       " template TEXT NOT NULL,"
       " payload TEXT NOT NULL,"
       " event_created_at BIGINT NOT NULL,"
       " status TEXT NOT NULL,"
       " attempts INTEGER NOT NULL DEFAULT 0,"
       " next_attempt_at BIGINT NOT NULL,"
       " last_error TEXT NULL,"
       " last_code INTEGER NULL,"
       " email TEXT NULL,"
       " subject TEXT NULL,"
       " claimed_by TEXT NULL,"
       " claimed_until BIGINT NULL,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL,"
       " sent_at BIGINT NULL,"
       " UNIQUE (event_id, recipient));"
       "CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);"
       "CREATE INDEX deliveries_recipient ON deliveries (recipient, id);",
       "", ""},
      // Titles and dates of catalogue events, from event.published (never the event service's tables).
      {3, "create event_info",
       "CREATE TABLE event_info ("
       " event_id TEXT PRIMARY KEY,"
       " title TEXT NOT NULL,"
       " performance_start BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL)",
       "", ""},
  };
}

}  // namespace tiketi::notification
