#include "net/hub.hpp"

#include <mutex>
#include <unordered_map>
#include <vector>

namespace tiketi::net {

struct Hub::Impl {
  mutable std::mutex mu;
  // Keyed by the socket's address so that unsubscribe on disconnect is O(1) even with
  // tens of thousands of subscribers on one topic.
  std::unordered_map<std::string, std::unordered_map<const WebSocket*, std::weak_ptr<WebSocket>>> topics;
};

Hub::Hub() : impl_(std::make_unique<Impl>()) {}
Hub::~Hub() = default;

void Hub::subscribe(const std::string& topic, const WebSocketPtr& ws) {
  if (!ws || !ws->is_open()) {
    return;
  }
  std::lock_guard lock(impl_->mu);
  impl_->topics[topic][ws.get()] = ws;
}

void Hub::unsubscribe(const std::string& topic, const WebSocket& ws) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->topics.find(topic);
  if (it == impl_->topics.end()) {
    return;
  }
  it->second.erase(&ws);
  if (it->second.empty()) {
    impl_->topics.erase(it);
  }
}

std::size_t Hub::publish(const std::string& topic, WebSocket::Message msg) {
  std::vector<WebSocketPtr> targets;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->topics.find(topic);
    if (it == impl_->topics.end()) {
      return 0;
    }
    auto& subs = it->second;
    targets.reserve(subs.size());
    for (auto s = subs.begin(); s != subs.end();) {
      auto ws = s->second.lock();
      if (!ws || !ws->is_open()) {
        s = subs.erase(s);
        continue;
      }
      targets.push_back(std::move(ws));
      ++s;
    }
    if (subs.empty()) {
      impl_->topics.erase(it);
    }
  }
  // Sending outside the lock: send() only posts to each socket's executor, but there is no
  // reason to hold subscribers of other topics back meanwhile.
  for (const auto& ws : targets) {
    ws->send(msg);
  }
  return targets.size();
}

std::size_t Hub::subscribers(const std::string& topic) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->topics.find(topic);
  return it == impl_->topics.end() ? 0 : it->second.size();
}

}  // namespace tiketi::net
