#pragma once
// One hiredis async connection driven by the Asio loop (internal to the Redis adapter; no hiredis
// or socket types here). All hiredis calls happen on the connection's strand; submit() may be
// called from any thread. Replies come back in order, so many commands are in flight at once
// (pipelining) on one socket.
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "coord/coordinator.hpp"
#include "core/task.hpp"

namespace tiketi::coord::redis {

struct Url {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
  std::string client_name;  // sent with CLIENT SETNAME after each connect when set
};
// redis://[:password@]host[:port][/db]; throws std::invalid_argument.
Url parse_url(const std::string& url);

// An error reply from the server ("NOSCRIPT ...", "WRONGTYPE ...").
struct RedisError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The connection dropped (or never came up) before the reply arrived.
struct ConnectionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Connection {
 public:
  using Callback = std::function<void(std::exception_ptr, Reply)>;

  struct Options {
    Url url;
    std::chrono::milliseconds connect_timeout{2'000};
    std::chrono::milliseconds reconnect_wait{2'000};  // how long queued commands wait for a reconnect
    // Subscribe mode: every pub/sub reply (subscribe confirmations and messages) goes here.
    std::function<void(const Reply&)> on_push;
    // Called on the strand after every successful (re)connect, before queued commands are sent.
    std::function<void()> on_connected;
  };

  // Connects (throws ConnectionError on failure or timeout).
  static Task<std::shared_ptr<Connection>> open(Executor ex, Options opts);
  ~Connection();

  // Thread-safe. cb runs on the connection's strand: keep it short (hand the result off).
  void submit(std::vector<std::string> args, Callback cb);
  // Subscribe mode: SUBSCRIBE/UNSUBSCRIBE whose replies go to Options::on_push.
  void submit_push(std::vector<std::string> args);
  // Awaits the reply; throws RedisError for an error reply and ConnectionError when disconnected.
  Task<Reply> command(std::vector<std::string> args);
  bool connected() const;
  void close();

  struct Impl;

 private:
  explicit Connection(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
  std::atomic<bool> closed_{false};  // close() dispatches once (the destructor closes too)
};
using ConnectionPtr = std::shared_ptr<Connection>;

// Suspends until `start` calls the callback it was given, from any thread; resumes on the caller's
// executor and throws when the callback carries an exception.
Task<Reply> await_callback(std::function<void(Connection::Callback)> start);

}  // namespace tiketi::coord::redis
