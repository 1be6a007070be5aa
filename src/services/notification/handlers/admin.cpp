#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "services/notification/handlers/handlers.hpp"

namespace tiketi::notification::handlers {
namespace {

using nlohmann::json;

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json to_json(const DeliveryView& v) {
  return json{{"id", v.id},
              {"event_id", v.event_id},
              {"recipient", v.recipient},
              {"topic", v.topic},
              {"template", v.template_name},
              {"status", v.status},
              {"attempts", v.attempts},
              {"next_attempt_at", v.next_attempt_at},
              {"last_error", opt(v.last_error)},
              {"last_code", opt(v.last_code)},
              {"email", opt(v.email)},
              {"subject", opt(v.subject)},
              {"created_at", v.created_at},
              {"updated_at", v.updated_at},
              {"sent_at", opt(v.sent_at)}};
}

// Outside coroutines: g++ 12 mishandles braced lists of non-trivial values inside them.
ApiError bad(std::string field, std::string message) {
  std::vector<FieldError> fields;
  fields.push_back(FieldError{std::move(field), std::move(message)});
  return errors::validation(std::move(fields));
}

}  // namespace

Task<net::Response> admin_list(NotificationState& s, net::Request& req) {
  const std::string status = req.query_param("status").value_or("");
  if (!status.empty() && status != "PENDING" && status != "SENT" && status != "FAILED") {
    throw bad("status", "must be PENDING, SENT or FAILED");
  }
  int limit = 50;
  if (auto l = req.query_param("limit")) {
    try {
      limit = std::stoi(*l);
    } catch (const std::exception&) {
      limit = 0;
    }
    if (limit < 1 || limit > 200) {
      throw bad("limit", "must be between 1 and 200");
    }
  }
  const std::string cursor = req.query_param("cursor").value_or("");
  const std::string recipient = req.query_param("recipient").value_or("");
  if (cursor.size() > 64 || recipient.size() > 64) {
    throw bad("cursor", "is too long");
  }
  auto rows = co_await s.store->list(status, recipient, cursor, limit + 1);
  json items = json::array();
  const bool more = static_cast<int>(rows.size()) > limit;
  for (int i = 0; i < static_cast<int>(rows.size()) && i < limit; ++i) {
    items.push_back(to_json(rows[static_cast<std::size_t>(i)]));
  }
  json body{{"items", std::move(items)},
            {"next_cursor", more ? json(rows[static_cast<std::size_t>(limit) - 1].id) : json(nullptr)}};
  co_return net::Response::json(200, body.dump());
}

Task<net::Response> admin_get(NotificationState& s, net::Request& req) {
  auto v = co_await s.store->get(req.param("id"));
  if (!v) {
    throw errors::not_found("notification");
  }
  co_return net::Response::json(200, to_json(*v).dump());
}

Task<net::Response> admin_resend(NotificationState& s, net::Request& req) {
  const std::string id = req.param("id");
  auto before = co_await s.store->get(id);
  if (!before) {
    throw errors::not_found("notification");
  }
  const bool moved = co_await s.store->resend(id);
  if (!moved) {
    throw errors::conflict("already_pending", "The notification is already waiting to be sent.");
  }
  auto after = co_await s.store->get(id);
  co_return net::Response::json(202, to_json(*after).dump());
}

}  // namespace tiketi::notification::handlers
