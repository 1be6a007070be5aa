#pragma once
// The sender loop: claims due deliveries (several replicas share the table safely), renders them,
// hands them to the mailer on the worker pool and records the outcome with retry/backoff.
#include <atomic>
#include <memory>

#include "services/notification/state.hpp"

namespace tiketi::notification {

struct PassResult {
  int claimed = 0;
  int sent = 0;
  int retried = 0;
  int failed = 0;
};

class Sender {
 public:
  explicit Sender(NotificationState& s) : s_(s) {}
  // Until stop(): one pass, then wait poll_ms (or wake()).
  Task<void> run();
  // One pass over what is due now (tests drive this by hand).
  Task<PassResult> run_once();
  void wake();
  void stop();
  bool running() const { return running_; }

 private:
  Task<void> lane(std::shared_ptr<std::vector<Delivery>> batch, std::size_t first, std::size_t step,
                  std::shared_ptr<PassResult> result);
  Task<void> deliver(const Delivery& d, PassResult& result);

  NotificationState& s_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> running_{false};
  struct Wake;
  std::shared_ptr<Wake> wake_ = nullptr;
};

}  // namespace tiketi::notification
