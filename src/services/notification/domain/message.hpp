#pragma once
// From a domain event to the template name and the variables its templates use.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace tiketi::notification {

// The topics this service mails about, each with its template name (topic with '.' -> '_').
const std::vector<std::string>& mailed_topics();
std::string template_for_topic(const std::string& topic);

struct Recipient {
  std::string user_id;
  std::string email;
  std::string name;
  std::string language;  // "ko" / "en"
};

struct EventInfo {
  std::string event_id;
  std::string title;
  Millis performance_start = 0;
};

// The user a payload is addressed to (`user_id`); nullopt when absent (nothing to send).
std::optional<std::string> recipient_of(const nlohmann::json& payload);
// The catalogue event a payload refers to (`event_id`), if any.
std::optional<std::string> event_of(const nlohmann::json& payload);

// Variables for the template of `topic`. `event` is required for reservation.* topics that carry an
// event_id (throws std::invalid_argument when it is missing). `public_url` has no trailing slash.
nlohmann::json build_vars(const std::string& topic, const nlohmann::json& payload, const Recipient& to,
                          const std::optional<EventInfo>& event, const std::string& public_url);

}  // namespace tiketi::notification
