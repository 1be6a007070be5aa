#pragma once
// Middleware wraps the matched handler: fn(request, next). The server's built-in chain, outermost
// first, is: request id + traceparent -> access log -> metrics -> error mapping (ApiError and
// exceptions -> JSON body) -> CORS -> per-IP rate limit -> body-size limit -> user checks ->
// user middleware -> handler. User checks (Server::before: synchronous, e.g. the readiness gate and
// the bearer-token check) cost no coroutine frame per request; middleware (Server::use) can await.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/http.hpp"

namespace tiketi::metrics {
class Registry;
}

namespace tiketi::net {

using Next = std::function<Task<Response>(Request&)>;
using Middleware = std::function<Task<Response>(Request&, const Next&)>;
// A synchronous pre-handler check: may annotate the request, throws ApiError to refuse it.
using Check = std::function<void(Request&)>;

// Compose middleware around a handler, first element outermost.
Handler chain(const std::vector<Middleware>& mws, Handler inner);

// W3C traceparent: "00-<32 hex trace>-<16 hex parent>-<2 hex flags>". Returns false when malformed.
bool parse_traceparent(std::string_view header, std::string& trace_id, std::string& parent_id);
std::string make_traceparent(const std::string& trace_id, const std::string& span_id);

// Token bucket per key (client IP). Thread-safe; refills continuously.
class RateLimiter {
 public:
  RateLimiter(double rate_per_sec, double burst);
  ~RateLimiter();
  // Returns 0 when allowed, else the seconds to wait before retrying (>= 1).
  int acquire(const std::string& key, double now_seconds);
  std::size_t tracked_keys() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Converts an ApiError / std::exception into the JSON error response.
Response error_response(const std::exception& e, const LogContext& log);

}  // namespace tiketi::net
