#pragma once
// Admin views of the delivery log (role admin).
#include "net/http.hpp"
#include "services/notification/state.hpp"

namespace tiketi::notification::handlers {

using Fn = Task<net::Response> (*)(NotificationState&, net::Request&);

// GET /api/v1/admin/notifications?status=FAILED&recipient=<user id>&limit=50&cursor=<id>
Task<net::Response> admin_list(NotificationState& s, net::Request& req);
// GET /api/v1/admin/notifications/{id}
Task<net::Response> admin_get(NotificationState& s, net::Request& req);
// POST /api/v1/admin/notifications/{id}/resend -> 202; the delivery is PENDING again with 0 attempts
Task<net::Response> admin_resend(NotificationState& s, net::Request& req);

}  // namespace tiketi::notification::handlers
