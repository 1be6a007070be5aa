#pragma once
// One function per route; thin: parse, call the line, shape the answer.
#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "services/queue/state.hpp"

namespace tiketi::queue::handlers {

using Fn = Task<net::Response> (*)(State&, net::Request&);

Task<net::Response> queue_join(State& s, net::Request& req);    // POST   /api/v1/events/{id}/queue
Task<net::Response> queue_status(State& s, net::Request& req);  // GET    /api/v1/events/{id}/queue
Task<net::Response> queue_leave(State& s, net::Request& req);   // DELETE /api/v1/events/{id}/queue
Task<net::Response> queue_stream(State& s, net::Request& req);  // GET    /api/v1/events/{id}/queue/stream
Task<net::Response> queue_renew(State& s, net::Request& req);   // POST   /api/v1/events/{id}/queue/renew

Task<net::Response> admin_get(State& s, net::Request& req);          // GET   /api/v1/admin/queues/{eventId}
Task<net::Response> admin_patch(State& s, net::Request& req);        // PATCH /api/v1/admin/queues/{eventId}
Task<net::Response> admin_pause(State& s, net::Request& req);        // POST  …/pause
Task<net::Response> admin_resume(State& s, net::Request& req);       // POST  …/resume
Task<net::Response> admin_remove_user(State& s, net::Request& req);  // DELETE …/users/{userId}

// Shared by the routes and the live channel.
// The settings of an event, or ApiError 404 when the queue service has never heard of it.
Task<QueueSettings> settings_or_404(State& s, std::string event);
// {"eventId","state","position","peopleAhead","etaSeconds","seq","admissionToken","sessionExpiresAt",…}
nlohmann::json standing_json(const State& s, const QueueSettings& qs, const std::string& user,
                             const Standing& st, Millis now);
// The answer for a closed sale.
nlohmann::json closed_json(const std::string& event);

}  // namespace tiketi::queue::handlers
