#include "services/auth/storage/auth_store.hpp"

#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/auth/storage/sql.hpp"

namespace tiketi::auth {

using store::p;

User user_from_row(const store::Row& row) {
  User u;
  u.id = row.str("id");
  u.email = row.str("email");
  u.password_hash = row.opt_str("password_hash");
  u.name = row.str("name");
  u.role = row.str("role");
  u.provider = row.str("provider");
  u.profile_image_url = row.opt_str("profile_image_url");
  u.language = row.str("language");
  u.email_verified = row.i64("email_verified") != 0;
  u.created_at = row.i64("created_at");
  u.updated_at = row.i64("updated_at");
  return u;
}

AuthStore::AuthStore(store::DatabasePtr db, ClockPtr clock) : db_(std::move(db)), clock_(std::move(clock)) {}

Task<bool> AuthStore::insert_user(const User& u) {
  store::Params params{p(u.id),
                       p(u.email),
                       p(u.password_hash),
                       p(u.name),
                       p(u.role),
                       p(u.provider),
                       p(u.profile_image_url),
                       p(u.language),
                       p(u.email_verified),
                       p(u.created_at),
                       p(u.updated_at)};
  auto r = co_await db_->exec(sql::kInsertUser, std::move(params));
  co_return !r.rows.empty();
}

Task<std::optional<User>> AuthStore::find_by_email(const std::string& email) {
  store::Params params{p(email)};
  auto r = co_await db_->exec(sql::kFindUserByEmail, std::move(params));
  if (r.rows.empty()) {
    co_return std::nullopt;
  }
  co_return user_from_row(r.rows.front());
}

Task<std::optional<User>> AuthStore::find_by_id(const std::string& id) {
  store::Params params{p(id)};
  auto r = co_await db_->exec(sql::kFindUserById, std::move(params));
  if (r.rows.empty()) {
    co_return std::nullopt;
  }
  co_return user_from_row(r.rows.front());
}

Task<void> AuthStore::update_profile(const User& u) {
  store::Params params{p(u.id), p(u.name), p(u.profile_image_url), p(u.language), p(clock_->now_ms())};
  co_await db_->exec(sql::kUpdateProfile, std::move(params));
}

Task<void> AuthStore::update_password(const std::string& user_id, const std::string& hash) {
  store::Params params{p(user_id), p(hash), p(clock_->now_ms())};
  co_await db_->exec(sql::kUpdatePasswordHash, std::move(params));
}

Task<void> AuthStore::rehash_password(const std::string& user_id, const std::string& old_hash,
                                      const std::string& new_hash) {
  store::Params params{p(user_id), p(old_hash), p(new_hash), p(clock_->now_ms())};
  co_await db_->exec(sql::kRehashPassword, std::move(params));
}

Task<void> AuthStore::promote_to_admin(const std::string& user_id) {
  store::Params params{p(user_id), p(clock_->now_ms())};
  co_await db_->exec(sql::kPromoteToAdmin, std::move(params));
}

Task<std::string> AuthStore::issue_refresh_token(const std::string& user_id) {
  const Millis now = clock_->now_ms();
  auto t = generate_refresh_token();
  store::Params params{p(ids::uuid_v7(now)),
                       p(ids::uuid_v7(now)),
                       p(user_id),
                       p(t.hash),
                       p(now + kRefreshTokenLifetimeMs),
                       p(now)};
  co_await db_->exec(sql::kInsertRefreshToken, std::move(params));
  co_return t.token;
}

Task<RotateResult> AuthStore::rotate(const std::string& token_hash) {
  RotateResult result;
  const ClockPtr clock = clock_;
  co_await db_->transaction([&result, &token_hash, clock](store::Tx& tx) -> Task<void> {
    result = RotateResult{};  // the transaction may be retried from the start
    const Millis now = clock->now_ms();
    store::Params find_params{p(token_hash)};
    auto found = co_await tx.exec(sql::kFindRefreshTokenByHash, std::move(find_params));
    if (found.rows.empty()) {
      result.outcome = RefreshOutcome::unknown;
      co_return;
    }
    const auto& row = found.rows.front();
    StoredRefreshToken stored{row.str("id"),         row.str("family_id"),      row.str("user_id"),
                              row.i64("expires_at"), row.opt_i64("rotated_at"), row.opt_i64("revoked_at")};
    result.user_id = stored.user_id;
    result.family_id = stored.family_id;
    result.role = row.str("role");
    auto decision = decide_refresh(stored, now);
    if (decision == RefreshDecision::rotate) {
      store::Params mark_params{p(stored.id), p(now)};
      auto marked = co_await tx.exec(sql::kMarkRefreshTokenRotated, std::move(mark_params));
      if (marked.affected == 0) {
        decision = RefreshDecision::reuse;  // lost the race against another use of the same token
      }
    }
    switch (decision) {
      case RefreshDecision::rotate: {
        auto next = generate_refresh_token();
        store::Params params{p(ids::uuid_v7(now)),
                             p(stored.family_id),
                             p(stored.user_id),
                             p(next.hash),
                             p(now + kRefreshTokenLifetimeMs),
                             p(now)};
        co_await tx.exec(sql::kInsertRefreshToken, std::move(params));
        result.outcome = RefreshOutcome::rotated;
        result.next_token = std::move(next.token);
        break;
      }
      case RefreshDecision::reuse: {
        store::Params params{p(stored.family_id), p(now)};
        co_await tx.exec(sql::kRevokeFamily, std::move(params));
        result.outcome = RefreshOutcome::reused;
        break;
      }
      case RefreshDecision::revoked:
        result.outcome = RefreshOutcome::revoked;
        break;
      case RefreshDecision::expired:
        result.outcome = RefreshOutcome::expired;
        break;
    }
  });
  co_return result;
}

Task<void> AuthStore::revoke_family_of(const std::string& token_hash) {
  store::Params params{p(token_hash), p(clock_->now_ms())};
  co_await db_->exec(sql::kRevokeFamilyOfToken, std::move(params));
}

Task<std::int64_t> AuthStore::revoke_all(const std::string& user_id) {
  store::Params params{p(user_id), p(clock_->now_ms())};
  auto r = co_await db_->exec(sql::kRevokeAllForUser, std::move(params));
  co_return r.affected;
}

Task<std::int64_t> AuthStore::active_token_count(const std::string& user_id) {
  store::Params params{p(user_id), p(clock_->now_ms())};
  auto r = co_await db_->exec(sql::kActiveTokensForUser, std::move(params));
  co_return r.one().i64("n");
}

Task<std::int64_t> AuthStore::delete_expired(Millis older_than) {
  store::Params params{p(older_than)};
  auto r = co_await db_->exec(sql::kDeleteExpiredTokens, std::move(params));
  co_return r.affected;
}

Task<std::int64_t> AuthStore::delete_expired_batch(Millis older_than, std::int64_t limit) {
  store::Params params{p(older_than), p(limit)};
  auto r = co_await db_->exec(sql::kDeleteExpiredTokensBatch, std::move(params));
  co_return r.affected;
}

namespace {
// Thrown inside the sign-in transaction to roll it back when a concurrent first sign-in won a race;
// the caller then runs the lookup again and finds what the winner committed.
struct LostRace {};
}  // namespace

Task<IdentityResult> AuthStore::sign_in_with_identity(const ExternalIdentity& identity) {
  IdentityResult result;
  const ClockPtr clock = clock_;
  auto attempt = [&result, &identity, clock](store::Tx& tx) -> Task<void> {
    result = IdentityResult{};
    const Millis now = clock->now_ms();
    store::Params find_identity{p(identity.provider), p(identity.subject)};
    auto linked = co_await tx.exec(sql::kFindIdentity, std::move(find_identity));
    if (!linked.rows.empty()) {
      const std::string user_id = linked.rows.front().str("user_id");
      store::Params touch{p(identity.provider), p(identity.subject), p(now)};
      co_await tx.exec(sql::kTouchIdentity, std::move(touch));
      store::Params by_id{p(user_id)};
      auto u = co_await tx.exec(sql::kFindUserById, std::move(by_id));
      if (u.rows.empty()) {
        throw LostRace{};
      }
      result.outcome = IdentityOutcome::existing;
      result.user = user_from_row(u.rows.front());
      co_return;
    }

    store::Params by_email{p(identity.email)};
    auto existing = co_await tx.exec(sql::kFindUserByEmail, std::move(by_email));
    if (!existing.rows.empty()) {
      User u = user_from_row(existing.rows.front());
      if (!u.email_verified && identity.refuse_unverified) {
        result.outcome = IdentityOutcome::refused_unverified;
        co_return;
      }
      store::Params ins{p(identity.provider), p(identity.subject), p(u.id), p(identity.email), p(now)};
      auto inserted = co_await tx.exec(sql::kInsertIdentity, std::move(ins));
      if (inserted.affected == 0) {
        throw LostRace{};
      }
      if (!u.email_verified) {
        if (identity.drop_unverified_password && u.password_hash) {
          store::Params drop{p(u.id), p(now)};
          co_await tx.exec(sql::kMarkVerifiedDropPassword, std::move(drop));
          store::Params revoke{p(u.id), p(now)};
          co_await tx.exec(sql::kRevokeAllForUser, std::move(revoke));
          result.dropped_password = true;
        } else {
          store::Params mark{p(u.id), p(now)};
          co_await tx.exec(sql::kMarkVerified, std::move(mark));
        }
      }
      if (identity.picture) {
        store::Params img{p(u.id), p(*identity.picture), p(now)};
        co_await tx.exec(sql::kSetImageIfNone, std::move(img));
      }
      store::Params reread{p(u.id)};
      auto fresh = co_await tx.exec(sql::kFindUserById, std::move(reread));
      result.outcome = IdentityOutcome::linked;
      result.user = user_from_row(fresh.one());
      co_return;
    }

    User u;
    u.id = ids::uuid_v7(now);
    u.email = identity.email;
    u.name = identity.name;
    u.provider = identity.provider;
    u.profile_image_url = identity.picture;
    u.email_verified = true;
    u.created_at = now;
    u.updated_at = now;
    store::Params user_params{p(u.id),       p(u.email),    p(u.password_hash),    p(u.name),
                              p(u.role),     p(u.provider), p(u.profile_image_url), p(u.language),
                              p(u.email_verified), p(u.created_at), p(u.updated_at)};
    auto created = co_await tx.exec(sql::kInsertUser, std::move(user_params));
    if (created.rows.empty()) {
      throw LostRace{};  // the email was registered meanwhile: link instead
    }
    store::Params ins{p(identity.provider), p(identity.subject), p(u.id), p(identity.email), p(now)};
    auto inserted = co_await tx.exec(sql::kInsertIdentity, std::move(ins));
    if (inserted.affected == 0) {
      throw LostRace{};
    }
    result.outcome = IdentityOutcome::created;
    result.user = std::move(u);
  };
  std::function<Task<void>(store::Tx&)> fn = attempt;
  for (int round = 0;; ++round) {
    bool lost = false;
    try {
      co_await db_->transaction(fn);
    } catch (const LostRace&) {
      lost = true;
    }
    if (!lost) {
      break;
    }
    if (round >= 3) {
      throw errors::unavailable("Sign-in is busy; please try again.", 1);
    }
  }
  co_return result;
}

Task<std::int64_t> AuthStore::identity_count(const std::string& user_id) {
  store::Params params{p(user_id)};
  auto r = co_await db_->exec(sql::kCountIdentities, std::move(params));
  co_return r.one().i64("n");
}

}  // namespace tiketi::auth
