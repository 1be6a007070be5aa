#pragma once
// HTTP/1.1 + WebSocket server on Boost.Beast with one io_context per thread (pimpl: no Beast here).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/middleware.hpp"
#include "net/router.hpp"

namespace tiketi::metrics {
class Registry;
}

namespace tiketi::net {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  int threads = 0;                        // 0 -> std::thread::hardware_concurrency()
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  int read_timeout_ms = 15'000;  // whole request must arrive within this
  int idle_timeout_ms = 60'000;  // keep-alive idle
  double rate_limit_rps = 0;     // 0 = off
  double rate_limit_burst = 0;
  std::vector<std::string> cors_origins;
  // Connection budget (HTTP + WebSocket). Every connection costs a file descriptor, and a process
  // that runs out of them fails in the worst places (accept stalls, the database cannot reconnect).
  // The server therefore never holds more than min(max_connections, RLIMIT_NOFILE - fd_reserve)
  // connections: beyond that a new connection is accepted and answered at once with 503 +
  // Connection: close (counted in connections_refused_total{reason="fd_budget"}). fd_reserve keeps
  // descriptors for database and Redis connections, outgoing HTTP, files and logs. If descriptors
  // run out anyway (EMFILE), one spare descriptor per thread is released to take the waiting
  // connection off the backlog and refuse it ({reason="fd_exhausted"}): accept never stalls.
  std::size_t max_connections = 0;  // 0 = only the descriptor budget applies
  std::size_t fd_reserve = 128;
  std::size_t ws_max_message = 16 * 1024;
  std::size_t ws_send_queue_limit = 64;  // messages queued per socket before dropping/closing
  std::string web_root;                  // static files served for non-/api GETs (SPA fallback)
  std::string service_label = "tiketi";  // default "service" label when a route has none
  bool access_log = true;
  // WebSocket: a ping goes out after half of this without traffic; no frame at all from the
  // peer for this long closes the socket (dead peer detection).
  int ws_idle_timeout_ms = 60'000;
  // Behind a trusted reverse proxy (nginx WEB tier) the client address is the last entry of
  // X-Forwarded-For; off by default because a direct client could forge it.
  bool trust_forwarded_for = false;
};

// Static file for a GET/HEAD below `web_root` (ETag, Cache-Control, SPA fallback to index.html);
// nullopt when there is nothing to serve. Never leaves web_root.
std::optional<Response> serve_static(const std::string& web_root, const Request& req);

class Server {
 public:
  Server(ServerOptions opts, Router router, metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Extra middleware run after the built-in chain, before the handler (e.g. authentication).
  void use(Middleware mw);
  // Synchronous check run before the user middleware and the handler of every matched route
  // (WebSocket upgrades included); it may annotate the request or throw ApiError to refuse it.
  // Cheaper than a Middleware (no coroutine frame per request): use it when nothing is awaited.
  void before(Check check);

  // Binds and starts the worker threads; returns once accepting. Throws on bind failure.
  void start();
  std::uint16_t port() const;

  // Executor of the i-th io_context (background jobs pick one); i is taken modulo the count.
  Executor executor(std::size_t i = 0) const;
  std::size_t thread_count() const;

  // Graceful: stop accepting, let in-flight requests finish within grace_ms, close WebSockets
  // with 1001, then stop the io_contexts. Safe to call from any thread, more than once.
  void shutdown(int grace_ms);
  // Blocks until the worker threads have exited.
  void join();

  std::size_t active_connections() const;
  std::size_t websocket_connections() const;
  // The effective connection budget (see ServerOptions::max_connections); valid after start().
  std::size_t connection_limit() const;

  // Dispatch a request through the same router and middleware without a socket (in-process
  // service-to-service calls and tests).
  Task<Response> dispatch(Request req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiketi::net
