// The hashing pool's niceness (auth.hash_nice): every pool thread runs at the requested priority,
// the caller's thread keeps its own.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include "core/testing/loop.hpp"
#include "services/common/worker_pool.hpp"

namespace tiketi::auth {
namespace {

int thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

TEST(HashPoolTest, NiceAppliesToEveryPoolThreadOnly) {
  test_support::Loop loop;
  const int before = thread_nice();
  common::WorkerPool pool(2, 64, 10);
  ASSERT_EQ(pool.nice(), 10);
  std::mutex mu;
  std::set<int> seen;
  auto job = [&] {
    const int n = thread_nice();
    std::lock_guard lock(mu);
    seen.insert(n);
  };
  std::vector<Task<void>> tasks;
  for (int i = 0; i < 32; ++i) {
    tasks.push_back(pool.run(job));
  }
  for (auto& f : loop.spawn_all(std::move(tasks))) {
    f.get();
  }
  EXPECT_EQ(seen, (std::set<int>{10}));
  EXPECT_EQ(thread_nice(), before);  // the test's own thread is untouched

  common::WorkerPool plain(1, 8);
  EXPECT_EQ(plain.nice(), 0);
  int plain_nice = -100;
  loop.run(plain.run([&] { plain_nice = thread_nice(); }));
  EXPECT_EQ(plain_nice, before);
}

}  // namespace
}  // namespace tiketi::auth
