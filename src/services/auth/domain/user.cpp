#include "services/auth/domain/user.hpp"

namespace tiketi::auth {

nlohmann::json user_json(const User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"role", u.role},
          {"provider", u.provider},
          {"profileImageUrl",
           u.profile_image_url ? nlohmann::json(*u.profile_image_url) : nlohmann::json(nullptr)},
          {"language", u.language},
          {"emailVerified", u.email_verified},
          {"createdAt", u.created_at},
          {"updatedAt", u.updated_at}};
}

}  // namespace tiketi::auth
