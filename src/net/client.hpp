#pragma once
// Service-to-service HTTP client: timeout on every call, retries only for idempotent methods,
// a circuit breaker per peer, traceparent propagated. When the target service runs in this
// process the call goes through Server::dispatch with no socket.
#include <chrono>
#include <cstddef>
#include <cstdint>
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
    int failure_threshold = 5;     // consecutive failures that open the circuit
    std::int64_t open_ms = 5'000;  // how long it stays open before one trial call
  };
  CircuitBreaker(Options o, ClockPtr clock);
  bool allow();       // false while open; in half-open lets exactly one trial through
  void on_success();  // any answer that is not a 5xx (4xx included): closes a half-open circuit
  void on_failure();  // connection error, timeout or 5xx
  // `open` stays reported until the first allow() after the open interval takes the trial.
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
  std::chrono::milliseconds timeout{2'000};  // per attempt (connect + write + read)
  // Budget for all attempts and backoff together; no retry starts past it.
  // 0 -> timeout * (max_retries + 1).
  std::chrono::milliseconds total_timeout{0};
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
  // `clock` drives the breakers; `ex` owns the sockets of pooled connections (its io_context must
  // keep running while calls are made). Calls may come from coroutines on any executor.
  HttpClient(ClockPtr clock, Executor ex);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Tuning; applies to peers added afterwards. Peers are added at start-up, before any call.
  void set_breaker_options(CircuitBreaker::Options o);
  void set_max_idle_per_peer(std::size_t n);  // idle keep-alive connections kept per remote peer

  // A peer served by this process: calls are dispatched in-process.
  void add_local_peer(const std::string& service, Server* server);
  // A remote peer: base URL "http://host:port".
  void add_remote_peer(const std::string& service, const std::string& base_url);

  // Throws ApiError("upstream_unavailable", 503) when the breaker is open, the peer is unknown, or
  // every try failed (timeout, connection error or 5xx); any other answer (4xx included) is
  // returned, not thrown. `parent` supplies request id and trace id; each call is a new span.
  // Local peers get no socket-level timeout: the deadline is passed on as Request::deadline.
  Task<ClientResponse> call(const std::string& service, ClientRequest req, const LogContext& parent);

  // Throws std::out_of_range for an unknown service.
  CircuitBreaker::State breaker_state(const std::string& service) const;
  std::size_t idle_connections(const std::string& service) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiketi::net
