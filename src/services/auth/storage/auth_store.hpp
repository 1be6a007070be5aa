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

// Google sign-in: who the identity turned out to be.
enum class IdentityOutcome {
  existing,            // this Google account signed in before
  linked,              // first Google sign-in; attached to the account with the same email
  created,             // first Google sign-in; a new account was created
  refused_unverified,  // an unverified account has this email and policy is `refuse`
};

struct ExternalIdentity {
  std::string provider;  // kProviderGoogle
  std::string subject;   // OIDC sub
  std::string email;     // normalised, verified by the provider
  std::string name;      // for a new account
  std::optional<std::string> picture;
  bool drop_unverified_password = true;  // LinkUnverifiedPolicy::drop_password
  bool refuse_unverified = false;        // LinkUnverifiedPolicy::refuse
};

struct IdentityResult {
  IdentityOutcome outcome = IdentityOutcome::existing;
  std::optional<User> user;      // unset only when refused
  bool dropped_password = false;  // an unverified password was removed and sessions revoked
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
  Task<std::int64_t> delete_expired_batch(Millis older_than, std::int64_t limit);

  // Finds or creates the account for an external identity, in one transaction: by (provider,
  // subject), else by email (linking), else a new account. Safe against concurrent first sign-ins.
  Task<IdentityResult> sign_in_with_identity(const ExternalIdentity& identity);
  Task<std::int64_t> identity_count(const std::string& user_id);

  store::Database& db() { return *db_; }

 private:
  store::DatabasePtr db_;
  ClockPtr clock_;
};

User user_from_row(const store::Row& row);

}  // namespace tiketi::auth
