#pragma once
// One function per resource and verb; each stays thin and delegates to flow, storage and domain.
#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "services/payment/state.hpp"

namespace tiketi::payment::handlers {

using Fn = Task<net::Response> (*)(State&, net::Request&);

Task<net::Response> payments_post(State& s, net::Request& req);
Task<net::Response> payment_confirm(State& s, net::Request& req);
Task<net::Response> payment_get(State& s, net::Request& req);
Task<net::Response> points_get(State& s, net::Request& req);
Task<net::Response> points_charge(State& s, net::Request& req);
Task<net::Response> points_history(State& s, net::Request& req);
Task<net::Response> admin_payments(State& s, net::Request& req);
Task<net::Response> admin_refund(State& s, net::Request& req);
Task<net::Response> admin_revenue(State& s, net::Request& req);

// Shared helpers.
net::Response json_response(int status, const nlohmann::json& body);
std::int64_t int_query(const net::Request& req, std::string_view name, std::int64_t def, std::int64_t min,
                       std::int64_t max);
// The Idempotency-Key header, 400 when missing or malformed.
std::string idempotency_key(const net::Request& req);
// The API view plus what the checkout needs while the card part is open.
nlohmann::json payment_view(const State& s, const Payment& p);
// Stores a new payment (points reserved in the same transaction) or replays the one made with
// the same Idempotency-Key; 201 for new, 200 for a replay.
Task<net::Response> create_or_replay(State& s, Payment draft, const std::string& order_name);

}  // namespace tiketi::payment::handlers
