#pragma once
// Named SQL for the notification service; one text for SQLite and PostgreSQL.
namespace tiketi::notification::sql {

constexpr const char* kInsertDelivery =
    "INSERT INTO deliveries (id, event_id, recipient, topic, template, payload, event_created_at, status,"
    " attempts, next_attempt_at, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', 0, $8, $8, $8)"
    " ON CONFLICT (event_id, recipient) DO NOTHING";

// Several deliveries in one statement (the same columns and conflict rule as kInsertDelivery):
// parallel text arrays on PostgreSQL, a JSON array of
// [id, event_id, recipient, topic, template, payload, event_created_at] rows on SQLite. $2 / $8: now.
constexpr const char* kInsertDeliveriesPg =
    "INSERT INTO deliveries (id, event_id, recipient, topic, template, payload, event_created_at, status,"
    " attempts, next_attempt_at, created_at, updated_at)"
    " SELECT u.id, u.event_id, u.recipient, u.topic, u.template, u.payload, u.created::bigint, 'PENDING', 0,"
    " $8::bigint, $8::bigint, $8::bigint"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
    " AS u(id, event_id, recipient, topic, template, payload, created)"
    " ON CONFLICT (event_id, recipient) DO NOTHING";
constexpr const char* kInsertDeliveriesSqlite =
    "INSERT INTO deliveries (id, event_id, recipient, topic, template, payload, event_created_at, status,"
    " attempts, next_attempt_at, created_at, updated_at)"
    " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
    " json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),"
    " CAST(json_extract(value, '$[6]') AS INTEGER), 'PENDING', 0, $2, $2, $2"
    " FROM json_each($1) WHERE true ON CONFLICT (event_id, recipient) DO NOTHING";

constexpr const char* kUpsertEventInfo =
    "INSERT INTO event_info (event_id, title, performance_start, updated_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (event_id) DO UPDATE SET title = excluded.title,"
    " performance_start = excluded.performance_start, updated_at = excluded.updated_at";

constexpr const char* kFindEventInfo =
    "SELECT event_id, title, performance_start FROM event_info WHERE event_id = $1";

// Claim: a conditional UPDATE, so two replicas never both take a row; an expired claim (a replica
// that died mid-send) becomes claimable again.
constexpr const char* kClaimDue =
    "UPDATE deliveries SET claimed_by = $1, claimed_until = $2, updated_at = $3"
    " WHERE id IN (SELECT id FROM deliveries WHERE status = 'PENDING' AND next_attempt_at <= $3"
    "   AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY next_attempt_at, id LIMIT $4)"
    " AND status = 'PENDING' AND (claimed_until IS NULL OR claimed_until < $3)"
    " RETURNING id, event_id, recipient, topic, template, payload, event_created_at, attempts, created_at";

constexpr const char* kMarkSent =
    "UPDATE deliveries SET status = 'SENT', attempts = attempts + 1, sent_at = $2, updated_at = $2,"
    " email = $3, subject = $4, last_code = $5, last_error = NULL, claimed_by = NULL, claimed_until = NULL"
    " WHERE id = $1 AND claimed_by = $6";

constexpr const char* kMarkRetry =
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $2, updated_at = $3, last_error = $4,"
    " last_code = $5, email = $6, claimed_by = NULL, claimed_until = NULL"
    " WHERE id = $1 AND claimed_by = $7";

constexpr const char* kMarkFailed =
    "UPDATE deliveries SET status = 'FAILED', attempts = attempts + 1, updated_at = $2, last_error = $3,"
    " last_code = $4, email = $5, claimed_by = NULL, claimed_until = NULL"
    " WHERE id = $1 AND claimed_by = $6";

constexpr const char* kResend =
    "UPDATE deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = $2, updated_at = $2,"
    " claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND status <> 'PENDING'";

constexpr const char* kColumns =
    "id, event_id, recipient, topic, template, status, attempts, next_attempt_at, last_error, last_code,"
    " email, subject, created_at, updated_at, sent_at";

// Newest first; `$1` status filter ('' = any), `$2` cursor id ('' = from the top).
constexpr const char* kList =
    "SELECT id, event_id, recipient, topic, template, status, attempts, next_attempt_at, last_error,"
    " last_code, email, subject, created_at, updated_at, sent_at FROM deliveries"
    " WHERE ($1 = '' OR status = $1) AND ($2 = '' OR id < $2) AND ($3 = '' OR recipient = $3)"
    " ORDER BY id DESC LIMIT $4";

constexpr const char* kGet =
    "SELECT id, event_id, recipient, topic, template, status, attempts, next_attempt_at, last_error,"
    " last_code, email, subject, created_at, updated_at, sent_at FROM deliveries WHERE id = $1";

constexpr const char* kQueueStats =
    "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM deliveries WHERE status = 'PENDING'";

}  // namespace tiketi::notification::sql
