#include "services/auth/schema/migrations.hpp"

namespace tiketi::auth {

std::vector<store::Migration> migrations() {
  return {
      {1, "create users",
       "CREATE TABLE users ("
       " id TEXT PRIMARY KEY,"
       " email TEXT NOT NULL UNIQUE,"  // stored normalised (lowercase), so UNIQUE is case-insensitive
       " password_hash TEXT,"          // NULL for Google-only accounts
       " name TEXT NOT NULL,"
       " role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),"
       " provider TEXT NOT NULL DEFAULT 'LOCAL',"
       " profile_image_url TEXT,"
       " language TEXT NOT NULL DEFAULT 'ko',"
       " email_verified INTEGER NOT NULL DEFAULT 0,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL)",
       "", ""},
      {2, "create refresh_tokens",
       "CREATE TABLE refresh_tokens ("
       " id TEXT PRIMARY KEY,"
       " family_id TEXT NOT NULL,"
       " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       " token_hash TEXT NOT NULL UNIQUE,"  // SHA-256 hex; the token itself is never stored
       " expires_at BIGINT NOT NULL,"
       " rotated_at BIGINT,"
       " revoked_at BIGINT,"
       " created_at BIGINT NOT NULL)",
       "", ""},
      {3, "index refresh_tokens by family",
       "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)", "", ""},
      {4, "index refresh_tokens by user", "CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id)", "",
       ""},
      {5, "index refresh_tokens by expiry",
       "CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at)", "", ""},
      {6, "create user_identities",
       "CREATE TABLE user_identities ("
       " provider TEXT NOT NULL,"  // 'GOOGLE'
       " subject TEXT NOT NULL,"   // the provider's stable user id (OIDC sub)
       " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       " email TEXT NOT NULL,"  // as the provider reported it at link time
       " created_at BIGINT NOT NULL,"
       " last_login_at BIGINT NOT NULL,"
       " PRIMARY KEY (provider, subject))",
       "", ""},
      {7, "index user_identities by user", "CREATE INDEX user_identities_user ON user_identities (user_id)", "",
       ""},
  };
}

}  // namespace tiketi::auth
