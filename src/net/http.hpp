#pragma once
// Beast-free request/response types: handlers and services only ever see these.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "core/task.hpp"

namespace tiketi::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup helpers.
std::optional<std::string_view> find_header(const Headers& h, std::string_view name);
void set_header(Headers& h, std::string name, std::string value);

// Percent-decoding ("%2F" -> "/"); '+' becomes a space when plus_as_space (query strings).
// Malformed escapes are kept as they are.
std::string percent_decode(std::string_view in, bool plus_as_space);
// Splits a request target into the decoded path and the decoded query pairs.
void parse_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query);

// The authenticated caller, filled by auth middleware (issue 3) — empty when anonymous.
struct Principal {
  std::string user_id;
  std::string role;  // "user", "admin", "staff"
  std::string token_id;
};

struct Request {
  std::string method;                                      // "GET", "POST", ...
  std::string target;                                      // raw target: path + query
  std::string path;                                        // decoded path, no query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string body;
  std::string remote_ip;
  std::vector<std::pair<std::string, std::string>> params;  // from the route template
  std::string route;  // matched template, e.g. "/api/v1/events/{id}" (metrics label)
  LogContext log;     // service, request_id, trace_id, span_id
  std::optional<Principal> principal;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

  std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
  // Path parameter; throws ApiError(400) when missing (a routing bug otherwise).
  const std::string& param(std::string_view name) const;
  std::optional<std::string> query_param(std::string_view name) const;
};

class ResponseStream;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set for streaming responses (SSE): the server sends the headers, then runs this until it
  // returns or the client goes away. `body` is ignored when set.
  std::function<Task<void>(ResponseStream&)> stream;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response no_content();
  static Response redirect(std::string location, int status = 302);
  Response& header(std::string name, std::string value) {
    set_header(headers, std::move(name), std::move(value));
    return *this;
  }
};

// Chunked streaming body (used for Server-Sent Events).
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Returns false once the client is gone or the server is draining.
  virtual Task<bool> write(std::string chunk) = 0;
  virtual bool open() const = 0;
  virtual Executor executor() const = 0;
};

// The server side of an upgraded WebSocket connection.
class WebSocket {
 public:
  using Message = std::shared_ptr<const std::string>;  // shared: a broadcast is never copied per socket
  virtual ~WebSocket() = default;
  // Next text/binary message; nullopt when closed (by peer, timeout, server drain, or a bad frame).
  virtual Task<std::optional<std::string>> read() = 0;
  // Queues a message; never blocks. A client that does not read loses its oldest queued messages
  // beyond the per-socket queue limit, and is closed when it stays behind (bounded memory).
  virtual void send(Message msg) = 0;
  void send_text(std::string text) { send(std::make_shared<const std::string>(std::move(text))); }
  virtual void close(std::uint16_t code = 1000, std::string reason = {}) = 0;
  virtual bool is_open() const = 0;
  virtual Executor executor() const = 0;
  virtual std::uint64_t id() const = 0;
};
using WebSocketPtr = std::shared_ptr<WebSocket>;

using Handler = std::function<Task<Response>(Request&)>;
// Runs for the lifetime of an upgraded socket; the request is the upgrade request (after middleware).
using WsHandler = std::function<Task<void>(Request&, WebSocketPtr)>;

}  // namespace tiketi::net
