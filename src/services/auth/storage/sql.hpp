#pragma once
// Every statement the auth service runs, by name. One text for SQLite and PostgreSQL ($n
// placeholders, epoch-millisecond BIGINTs, ON CONFLICT, RETURNING).
namespace tiketi::auth::sql {

inline constexpr const char* kUserColumns =
    "id, email, password_hash, name, role, provider, profile_image_url, language, email_verified, "
    "created_at, "
    "updated_at";

inline constexpr const char* kInsertUser =
    "INSERT INTO users (id, email, password_hash, name, role, provider, profile_image_url, language, "
    "email_verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (email) DO NOTHING RETURNING id";

inline constexpr const char* kFindUserByEmail =
    "SELECT id, email, password_hash, name, role, provider, profile_image_url, language, email_verified, "
    "created_at, updated_at FROM users WHERE email = $1";

inline constexpr const char* kFindUserById =
    "SELECT id, email, password_hash, name, role, provider, profile_image_url, language, email_verified, "
    "created_at, updated_at FROM users WHERE id = $1";

inline constexpr const char* kUpdateProfile =
    "UPDATE users SET name = $2, profile_image_url = $3, language = $4, updated_at = $5 WHERE id = $1";

inline constexpr const char* kUpdatePasswordHash =
    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";

// Only replaces the hash it was computed from: a concurrent password change is never overwritten
// by a login's opportunistic rehash.
inline constexpr const char* kRehashPassword =
    "UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2";

inline constexpr const char* kPromoteToAdmin =
    "UPDATE users SET role = 'admin', updated_at = $2 WHERE id = $1";

inline constexpr const char* kInsertRefreshToken =
    "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)";

inline constexpr const char* kFindRefreshTokenByHash =
    "SELECT t.id, t.family_id, t.user_id, t.expires_at, t.rotated_at, t.revoked_at, u.role "
    "FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";

// The race-free step of rotation: exactly one concurrent caller can flip rotated_at; every other
// one sees affected = 0 and is treated as reuse.
inline constexpr const char* kMarkRefreshTokenRotated =
    "UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL";

inline constexpr const char* kRevokeFamily =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL";

inline constexpr const char* kRevokeFamilyOfToken =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND family_id = "
    "(SELECT family_id FROM refresh_tokens WHERE token_hash = $1)";

inline constexpr const char* kRevokeAllForUser =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";

inline constexpr const char* kActiveTokensForUser =
    "SELECT COUNT(*) AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND rotated_at IS "
    "NULL "
    "AND expires_at > $2";

// Housekeeping: rows past expiry (plus a margin so late reuse is still detected) are dropped.
inline constexpr const char* kDeleteExpiredTokens = "DELETE FROM refresh_tokens WHERE expires_at < $1";
// Same in bounded batches (both engines: no DELETE … LIMIT in PostgreSQL), so one pass never holds
// a huge transaction.
inline constexpr const char* kDeleteExpiredTokensBatch =
    "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)";

// ---- external identities (Google sign-in) ---------------------------------------------------------

inline constexpr const char* kFindIdentity =
    "SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2";

inline constexpr const char* kInsertIdentity =
    "INSERT INTO user_identities (provider, subject, user_id, email, created_at, last_login_at) "
    "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (provider, subject) DO NOTHING";

inline constexpr const char* kTouchIdentity =
    "UPDATE user_identities SET last_login_at = $3 WHERE provider = $1 AND subject = $2";

inline constexpr const char* kCountIdentities = "SELECT COUNT(*) AS n FROM user_identities WHERE user_id = $1";

// Linking a Google identity to an account whose email nobody had proven: the address is now
// verified and (policy drop_password) a password set by whoever registered it stops working.
inline constexpr const char* kMarkVerifiedDropPassword =
    "UPDATE users SET email_verified = 1, password_hash = NULL, updated_at = $2 WHERE id = $1";
inline constexpr const char* kMarkVerified = "UPDATE users SET email_verified = 1, updated_at = $2 WHERE id = $1";

inline constexpr const char* kSetImageIfNone =
    "UPDATE users SET profile_image_url = $2, updated_at = $3 WHERE id = $1 AND profile_image_url IS NULL";

}  // namespace tiketi::auth::sql
