#pragma once
// Users and refresh tokens in the auth database. Pure data access; decisions live in domain/.
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/task.hpp"
#include "services/auth/domain/refresh_token.hpp"
#include "services/auth/domain/user.hpp"
#include "store/database.hpp"

namespace tiketi::auth {

enum class RefreshOutcome { rotated, unknown, reused, revoked, expired };

struct RotateResult {
  RefreshOutcome outcome = RefreshOutcome::unknown;
  std::string user_id;
  std::string role;
  std::string family_id;
  std::string next_token;  // set when rotated
};

class AuthStore {
 public:
  AuthStore(store::DatabasePtr db, ClockPtr clock);

  // False when the email is taken (nothing written).
  Task<bool> insert_user(const User& u);
  Task<std::optional<User>> find_by_email(const std::string& email);
  Task<std::optional<User>> find_by_id(const std::string& id);
  Task<void> update_profile(const User& u);
  Task<void> update_password(const std::string& user_id, const std::string& hash);
  Task<void> rehash_password(const std::string& user_id, const std::string& old_hash,
                             const std::string& new_hash);
  Task<void> promote_to_admin(const std::string& user_id);

  // Starts a new family (a login) and returns the token to hand out.
  Task<std::string> issue_refresh_token(const std::string& user_id);
  // One use of a refresh token: rotate, or detect reuse and revoke its family. The revocation is
  // committed even though the caller then answers 401.
  Task<RotateResult> rotate(const std::string& token_hash);
  // Logout: revokes the family the token belongs to. Unknown tokens are a no-op.
  Task<void> revoke_family_of(const std::string& token_hash);
  // Logout everywhere / password change. Returns how many tokens were revoked.
  Task<std::int64_t> revoke_all(const std::string& user_id);
  Task<std::int64_t> active_token_count(const std::string& user_id);
  Task<std::int64_t> delete_expired(Millis older_than);

  store::Database& db() { return *db_; }

 private:
  store::DatabasePtr db_;
  ClockPtr clock_;
};

User user_from_row(const store::Row& row);

}  // namespace tiketi::auth
