#pragma once
// The auth service: accounts, argon2id passwords, JWT access tokens and rotating refresh tokens.
//
// Public routes (/api/v1/auth/…): signup, login, refresh, logout, logout-all, me (GET/PATCH),
// password. Internal route for other services: GET /internal/v1/users/{id}. The WEB tier (nginx /
// Ingress) only routes /api/v1, and the handler additionally refuses proxied requests or, when
// auth.internal_token is set, requests without the matching X-Internal-Token header.
#include <cstdint>
#include <optional>
#include <string>

#include "app/service.hpp"
#include "core/clock.hpp"
#include "services/auth/domain/password.hpp"
#include "store/database.hpp"

namespace tiketi::app {
ServicePtr make_auth_service();
}  // namespace tiketi::app

namespace tiketi::auth {

// One refresh-token cleanup pass if this instance holds the cleanup lease (tests); nullopt when
// another instance holds it. Returns the number of rows deleted.
Task<std::optional<std::int64_t>> cleanup_tokens_once(app::Service& service);

enum class AdminCreateResult { created, promoted };

// `tiketi admin create --email …`: creates an admin account, or promotes an existing account
// with that email to admin (its password is then left unchanged). The database must be migrated.
// Throws std::invalid_argument with a field-level message for a bad email, password or name.
// Hashes on the calling thread (the CLI has nothing else to do).
Task<AdminCreateResult> create_admin(store::Database& db, const Clock& clock, std::string email,
                                     std::string password, std::string name, Argon2Params params = {});

}  // namespace tiketi::auth
