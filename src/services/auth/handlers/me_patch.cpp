#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {
namespace {

bool valid_image_url(const std::string& url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return false;
  }
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\') {
      return false;
    }
  }
  return url.size() > 8;
}

}  // namespace

// PATCH /api/v1/auth/me {name?, profileImageUrl? (null clears), language?} -> 200 user
Task<net::Response> me_patch(AuthState& s, net::Request& req) {
  const auto& who = common::require_user(req);
  auto body = parse_body(req.body);
  auto name = body.optional_string("name", {.max_chars = 100, .trim = true});
  auto image = body.optional_string("profileImageUrl", {.max_bytes = 2048});
  if (image && !valid_image_url(*image)) {
    body.fail("profileImageUrl", "must be an http(s) URL");
  }
  auto language = body.optional_string("language", {.max_bytes = 16});
  if (language && *language != "ko" && *language != "en") {
    body.fail("language", "must be one of: ko, en");
  }
  if (body.was_null("name")) {
    body.fail("name", "must not be null");
  }
  body.finish();

  auto user = co_await s.store->find_by_id(who.user_id);
  if (!user) {
    throw errors::unauthorized("unauthorized", "The account no longer exists.");
  }
  if (name) {
    user->name = *name;
  }
  if (image) {
    user->profile_image_url = *image;
  } else if (body.was_null("profileImageUrl")) {
    user->profile_image_url.reset();
  }
  if (language) {
    user->language = *language;
  }
  co_await s.store->update_profile(*user);
  user = co_await s.store->find_by_id(who.user_id);
  if (!user) {
    throw errors::unauthorized("unauthorized", "The account no longer exists.");
  }
  co_return json_response(200, user_json(*user));
}

}  // namespace tiketi::auth::handlers
