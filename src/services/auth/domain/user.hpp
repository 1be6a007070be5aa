#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"

namespace tiketi::auth {

inline constexpr const char* kRoleUser = "user";
inline constexpr const char* kRoleAdmin = "admin";
inline constexpr const char* kProviderLocal = "LOCAL";
inline constexpr const char* kProviderGoogle = "GOOGLE";

struct User {
  std::string id;
  std::string email;                         // normalised
  std::optional<std::string> password_hash;  // empty for accounts that only sign in with Google
  std::string name;
  std::string role = kRoleUser;
  std::string provider = kProviderLocal;
  std::optional<std::string> profile_image_url;
  std::string language = "ko";
  bool email_verified = false;
  Millis created_at = 0;
  Millis updated_at = 0;
};

// The public shape of a user (never the password hash).
nlohmann::json user_json(const User& u);

}  // namespace tiketi::auth
