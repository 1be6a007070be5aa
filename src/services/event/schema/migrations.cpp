#include "services/event/schema/migrations.hpp"

#include "coord/outbox.hpp"

namespace tiketi::event {

// Children are deleted explicitly by the store (SQLite does not enforce foreign keys unless asked),
// so REFERENCES here documents the shape rather than doing work.
std::vector<store::Migration> migrations() {
  return {
      coord::outbox_migration(1),
      {2, "create venues",
       "CREATE TABLE venues ("
       " id TEXT PRIMARY KEY,"
       " name TEXT NOT NULL,"
       " address TEXT NOT NULL DEFAULT '',"
       " city TEXT NOT NULL DEFAULT '',"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL)",
       "", ""},
      {3, "create events",
       "CREATE TABLE events ("
       " id TEXT PRIMARY KEY,"
       " title TEXT NOT NULL,"
       " description TEXT NOT NULL DEFAULT '',"
       " category TEXT NOT NULL,"
       " artist TEXT NOT NULL DEFAULT '',"
       " search_text TEXT NOT NULL DEFAULT '',"  // ASCII-lowercased title + artist for keyword search
       " venue_id TEXT REFERENCES venues(id),"
       " performance_start BIGINT NOT NULL,"
       " performance_end BIGINT NOT NULL,"
       " sale_start BIGINT NOT NULL,"
       " sale_end BIGINT NOT NULL,"
       " status TEXT NOT NULL,"
       " per_user_limit INTEGER NOT NULL,"
       " hold_minutes INTEGER NOT NULL,"
       " waiting_room_enabled INTEGER NOT NULL DEFAULT 0,"
       " admission_per_minute BIGINT NOT NULL,"
       " max_active BIGINT NOT NULL,"
       " image_ids TEXT NOT NULL DEFAULT '[]',"
       " sold_out INTEGER NOT NULL DEFAULT 0,"
       " published_at BIGINT,"
       " next_transition_at BIGINT,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL);"
       "CREATE INDEX events_by_date ON events (performance_start, id);"
       "CREATE INDEX events_by_created ON events (created_at, id);"
       "CREATE INDEX events_due ON events (next_transition_at) WHERE next_transition_at IS NOT NULL;",
       "", ""},
      {4, "create seating plans",
       "CREATE TABLE price_categories ("
       " event_id TEXT NOT NULL REFERENCES events(id),"
       " code TEXT NOT NULL,"
       " name TEXT NOT NULL,"
       " color TEXT NOT NULL DEFAULT '',"
       " sort_order INTEGER NOT NULL,"
       " PRIMARY KEY (event_id, code));"
       "CREATE TABLE sections ("
       " event_id TEXT NOT NULL REFERENCES events(id),"
       " code TEXT NOT NULL,"
       " name TEXT NOT NULL,"
       " x BIGINT NOT NULL,"
       " y BIGINT NOT NULL,"
       " sort_order INTEGER NOT NULL,"
       " PRIMARY KEY (event_id, code));"
       "CREATE TABLE seats ("
       " event_id TEXT NOT NULL REFERENCES events(id),"
       " id TEXT NOT NULL,"
       " section TEXT NOT NULL,"
       " row_label TEXT NOT NULL,"
       " number INTEGER NOT NULL,"
       " x BIGINT NOT NULL,"
       " y BIGINT NOT NULL,"
       " category TEXT NOT NULL,"
       " ord INTEGER NOT NULL,"
       " PRIMARY KEY (event_id, id));"
       "CREATE INDEX seats_by_order ON seats (event_id, ord);",
       "", ""},
      {5, "create ticket_types",
       "CREATE TABLE ticket_types ("
       " id TEXT PRIMARY KEY,"
       " event_id TEXT NOT NULL REFERENCES events(id),"
       " name TEXT NOT NULL,"
       " kind TEXT NOT NULL CHECK (kind IN ('seated', 'general_admission')),"
       " category TEXT NOT NULL DEFAULT '',"
       " quota BIGINT,"
       " price BIGINT NOT NULL CHECK (price >= 0),"
       " sort_order INTEGER NOT NULL);"
       "CREATE INDEX ticket_types_by_event ON ticket_types (event_id, sort_order);",
       "", ""},
      {6, "create news",
       "CREATE TABLE news ("
       " id TEXT PRIMARY KEY,"
       " title TEXT NOT NULL,"
       " body TEXT NOT NULL,"
       " pinned INTEGER NOT NULL DEFAULT 0,"
       " author_id TEXT NOT NULL,"
       " published_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL);"
       "CREATE INDEX news_by_date ON news (published_at, id);",
       "", ""},
      {7, "create images",
       "CREATE TABLE images ("
       " id TEXT PRIMARY KEY,"
       " content_type TEXT NOT NULL,"
       " size BIGINT NOT NULL,"
       " storage_key TEXT NOT NULL,"
       " created_at BIGINT NOT NULL)",
       "", ""},
  };
}

}  // namespace tiketi::event
