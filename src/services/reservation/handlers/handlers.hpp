#pragma once
// One function per resource and verb; each stays thin and delegates to storage/ and domain/.
#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "services/reservation/state.hpp"

namespace tiketi::reservation::handlers {

using Fn = Task<net::Response> (*)(State&, net::Request&);

Task<net::Response> seats_get(State& s, net::Request& req);
Task<net::Response> reservations_post(State& s, net::Request& req);
Task<net::Response> reservations_list(State& s, net::Request& req);
Task<net::Response> reservation_get(State& s, net::Request& req);
Task<net::Response> reservation_cancel(State& s, net::Request& req);
Task<net::Response> tickets_list(State& s, net::Request& req);
Task<net::Response> ticket_qr(State& s, net::Request& req);
Task<net::Response> admin_checkin(State& s, net::Request& req);
Task<net::Response> admin_reservations(State& s, net::Request& req);
Task<net::Response> admin_sales(State& s, net::Request& req);
Task<net::Response> internal_reservation_get(State& s, net::Request& req);

// Shared helpers.
net::Response json_response(int status, const nlohmann::json& body);
// The API view (camelCase). A PENDING hold past its expiry is shown as EXPIRED.
nlohmann::json reservation_json(const Reservation& r, Millis now);
nlohmann::json ticket_json(const Ticket& t);
// ?limit= with a default and a ceiling; 400 when not a number in range.
std::int64_t limit_param(const net::Request& req, std::int64_t def, std::int64_t max);
// An id from the path, bounded so that garbage never reaches the database.
const std::string& id_param(const net::Request& req, std::string_view name);

}  // namespace tiketi::reservation::handlers
