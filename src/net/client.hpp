#pragma once
// Service-to-service HTTP client: timeout on every call, retries only for idempotent methods,
// a circuit breaker per peer, traceparent propagated. When the target service runs in this
// process the call goes through Server::dispatch with no socket.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "net/http.hpp"

namespace tiketi::net {

class CircuitBreaker {
 public:
  enum class State { closed, open, half_open };
  struct Options {
    int failure_threshold = 5;      // consecutive failures that open the circuit
    std::int64_t open_ms = 5'000;   // how long it stays open before one trial call
  };
  CircuitBreaker(Options o, ClockPtr clock);
  bool allow();  // false while open; in half-open lets exactly one trial through
  void on_success();
  void on_failure();
  State state() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct ClientRequest {
  std::string method = "GET";
  std::string path;  // "/api/v1/…" or "/internal/…"
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{2'000};
  bool idempotent = false;  // GET/HEAD/PUT/DELETE are idempotent by default
  int max_retries = 2;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class Server;

class HttpClient {
 public:
  HttpClient(ClockPtr clock, Executor ex);
  ~HttpClient();
  // A peer served by this process: calls are dispatched in-process.
  void add_local_peer(const std::string& service, Server* server);
  // A remote peer: base URL "http://host:port".
  void add_remote_peer(const std::string& service, const std::string& base_url);

  // Throws ApiError("upstream_unavailable", 503) when the breaker is open or all tries fail;
  // a 4xx answer is returned, not thrown. `parent` supplies request id and trace for propagation.
  Task<ClientResponse> call(const std::string& service, ClientRequest req, const LogContext& parent);

  CircuitBreaker::State breaker_state(const std::string& service) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiketi::net
