#pragma once
// Fan-out of one message to many WebSockets by topic ("queue:<event>", "seats:<event>").
// The message is one shared buffer; each socket's queue holds a pointer to it.
#include <cstddef>
#include <memory>
#include <string>

#include "net/http.hpp"

namespace tiketi::net {

class Hub {
 public:
  Hub();
  ~Hub();
  void subscribe(const std::string& topic, const WebSocketPtr& ws);
  void unsubscribe(const std::string& topic, const WebSocket& ws);
  // Sends to every open subscriber; closed sockets are pruned. Returns how many were sent to.
  std::size_t publish(const std::string& topic, WebSocket::Message msg);
  std::size_t subscribers(const std::string& topic) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiketi::net
