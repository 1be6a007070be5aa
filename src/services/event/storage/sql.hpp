#pragma once
// Every statement the event service runs, as named constants. One text for SQLite and PostgreSQL:
// $n placeholders, BIGINT epoch milliseconds, integer KRW.
namespace tiketi::event::sql {

// Venues
inline constexpr const char* kInsertVenue =
    "INSERT INTO venues (id, name, address, city, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
inline constexpr const char* kUpdateVenue =
    "UPDATE venues SET name = $2, address = $3, city = $4, updated_at = $5 WHERE id = $1";
inline constexpr const char* kFindVenue =
    "SELECT id, name, address, city, created_at, updated_at FROM venues WHERE id = $1";
inline constexpr const char* kListVenues =
    "SELECT id, name, address, city, created_at, updated_at FROM venues ORDER BY name, id LIMIT 1000";
inline constexpr const char* kVenueInUse = "SELECT 1 FROM events WHERE venue_id = $1 LIMIT 1";
inline constexpr const char* kDeleteVenue = "DELETE FROM venues WHERE id = $1";

// Events
#define TIKETI_EVENT_COLUMNS                                                                                 \
  "e.id, e.title, e.description, e.category, e.artist, e.venue_id, e.performance_start, e.performance_end, " \
  "e.sale_start, e.sale_end, e.status, e.per_user_limit, e.hold_minutes, e.waiting_room_enabled, "           \
  "e.admission_per_minute, e.max_active, e.image_ids, e.sold_out, e.published_at, e.next_transition_at, "    \
  "e.created_at, e.updated_at"
inline constexpr const char* kEventColumns = TIKETI_EVENT_COLUMNS;
inline constexpr const char* kInsertEvent =
    "INSERT INTO events (id, title, description, category, artist, search_text, venue_id, performance_start, "
    "performance_end, sale_start, sale_end, status, per_user_limit, hold_minutes, waiting_room_enabled, "
    "admission_per_minute, max_active, image_ids, sold_out, published_at, next_transition_at, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19, "
    "$20, $21, $22, $23)";
inline constexpr const char* kUpdateEvent =
    "UPDATE events SET title = $2, description = $3, category = $4, artist = $5, search_text = $6, venue_id "
    "= $7, "
    "performance_start = $8, performance_end = $9, sale_start = $10, sale_end = $11, status = $12, "
    "per_user_limit = $13, hold_minutes = $14, waiting_room_enabled = $15, admission_per_minute = $16, "
    "max_active = $17, image_ids = $18, sold_out = $19, published_at = $20, next_transition_at = $21, "
    "updated_at = $22 WHERE id = $1";
inline constexpr const char* kFindEvent =
    "SELECT " TIKETI_EVENT_COLUMNS
    ", v.name AS venue_name FROM events e LEFT JOIN venues v ON v.id = e.venue_id "
    "WHERE e.id = $1";
// The list's WHERE clause is assembled from these fragments (placeholders numbered by the builder).
inline constexpr const char* kListEventsHead =
    "SELECT " TIKETI_EVENT_COLUMNS
    ", v.name AS venue_name FROM events e LEFT JOIN venues v ON v.id = e.venue_id";
inline constexpr const char* kPriceRanges =
    "SELECT event_id, MIN(price) AS min_price, MAX(price) AS max_price FROM ticket_types WHERE event_id IN ";
inline constexpr const char* kDeleteEvent = "DELETE FROM events WHERE id = $1";
// Publish and automation change status only from the state they read, so a concurrent change
// (another replica, a double click) makes the write a no-op instead of a second transition.
inline constexpr const char* kTransitionStatus =
    "UPDATE events SET status = $2, next_transition_at = $3, published_at = COALESCE(published_at, $4), "
    "updated_at = $5 WHERE id = $1 AND status = $6";
inline constexpr const char* kDueEvents = "SELECT " TIKETI_EVENT_COLUMNS
                                          ", NULL AS venue_name FROM events e "
                                          "WHERE e.next_transition_at IS NOT NULL AND e.next_transition_at "
                                          "<= $1 ORDER BY e.next_transition_at LIMIT $2";
// inventory.sold_out: the flag that due_status() reads (so a scheduler pass never reopens the sale).
inline constexpr const char* kMarkSoldOut = "UPDATE events SET sold_out = 1, updated_at = $2 WHERE id = $1";
#undef TIKETI_EVENT_COLUMNS

// Seating plans
inline constexpr const char* kDeleteSeats = "DELETE FROM seats WHERE event_id = $1";
inline constexpr const char* kDeleteSections = "DELETE FROM sections WHERE event_id = $1";
inline constexpr const char* kDeleteCategories = "DELETE FROM price_categories WHERE event_id = $1";
inline constexpr const char* kInsertCategory =
    "INSERT INTO price_categories (event_id, code, name, color, sort_order) VALUES ($1, $2, $3, $4, $5)";
inline constexpr const char* kInsertSection =
    "INSERT INTO sections (event_id, code, name, x, y, sort_order) VALUES ($1, $2, $3, $4, $5, $6)";
// Seats go in batches of kSeatBatch rows per statement (9 parameters each).
inline constexpr const char* kInsertSeatsHead =
    "INSERT INTO seats (event_id, id, section, row_label, number, x, y, category, ord) VALUES ";
inline constexpr const char* kListCategories =
    "SELECT code, name, color FROM price_categories WHERE event_id = $1 ORDER BY sort_order";
inline constexpr const char* kListSections =
    "SELECT code, name, x, y FROM sections WHERE event_id = $1 ORDER BY sort_order";
inline constexpr const char* kListSeats =
    "SELECT id, section, row_label, number, x, y, category FROM seats WHERE event_id = $1 ORDER BY ord";

// Ticket types
inline constexpr const char* kTicketTypeColumns =
    "id, event_id, name, kind, category, quota, price, sort_order";
inline constexpr const char* kInsertTicketType =
    "INSERT INTO ticket_types (id, event_id, name, kind, category, quota, price, sort_order) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
inline constexpr const char* kUpdateTicketType =
    "UPDATE ticket_types SET name = $3, kind = $4, category = $5, quota = $6, price = $7, sort_order = $8 "
    "WHERE id = $1 AND event_id = $2";
inline constexpr const char* kListTicketTypes =
    "SELECT id, event_id, name, kind, category, quota, price, sort_order FROM ticket_types WHERE event_id = "
    "$1 "
    "ORDER BY sort_order, id";
inline constexpr const char* kDeleteTicketType = "DELETE FROM ticket_types WHERE id = $1 AND event_id = $2";
inline constexpr const char* kDeleteTicketTypes = "DELETE FROM ticket_types WHERE event_id = $1";

// News: newest first, pinned items are flagged (the UI floats them) but do not break the keyset.
inline constexpr const char* kInsertNews =
    "INSERT INTO news (id, title, body, pinned, author_id, published_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)";
inline constexpr const char* kUpdateNews =
    "UPDATE news SET title = $2, body = $3, pinned = $4, updated_at = $5 WHERE id = $1";
inline constexpr const char* kFindNews =
    "SELECT id, title, body, pinned, author_id, published_at, updated_at FROM news WHERE id = $1";
inline constexpr const char* kListNewsFirst =
    "SELECT id, title, body, pinned, author_id, published_at, updated_at FROM news "
    "ORDER BY published_at DESC, id DESC LIMIT $1";
inline constexpr const char* kListNewsAfter =
    "SELECT id, title, body, pinned, author_id, published_at, updated_at FROM news "
    "WHERE published_at < $2 OR (published_at = $2 AND id < $3) ORDER BY published_at DESC, id DESC LIMIT $1";
inline constexpr const char* kDeleteNews = "DELETE FROM news WHERE id = $1";

}  // namespace tiketi::event::sql
