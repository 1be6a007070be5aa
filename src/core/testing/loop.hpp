#pragma once
// Test support shared by the port and service test suites: an io_context run by two threads (so
// coroutines really race, as the concurrency tests need) and unique names for schemas and temp
// directories. Header-only; included by tests only.
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/task.hpp"

namespace tiketi::test_support {

// Unique per process and call: "<pid>_<random>_<counter>".
inline std::string random_suffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}() % 100000) + "_" +
         std::to_string(counter++);
}

class Loop {
 public:
  Loop() : work_(ioc_.get_executor()) {
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }
  ~Loop() {
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  boost::asio::io_context& ioc() { return ioc_; }
  Executor ex() { return ioc_.get_executor(); }

  // Runs one task to completion and returns its result (rethrows its exception).
  template <class T>
  T run(Task<T> task) {
    return boost::asio::co_spawn(ioc_, std::move(task), boost::asio::use_future).get();
  }
  // Starts a task now (co_spawn with use_future starts at once) without waiting for it.
  template <class T>
  std::future<T> spawn(Task<T> task) {
    return boost::asio::co_spawn(ioc_, std::move(task), boost::asio::use_future);
  }
  // Starts every task at once; the caller joins the futures.
  template <class T>
  std::vector<std::future<T>> spawn_all(std::vector<Task<T>> tasks) {
    std::vector<std::future<T>> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) {
      out.push_back(spawn(std::move(t)));
    }
    return out;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

}  // namespace tiketi::test_support
