#include "api/read_pool.h"

#include <atomic>
#include <future>

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

TEST(ReadPoolTest, RunsEveryTask) {
  std::atomic<int> ran{0};
  {
    ReadPool pool(2, 100);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.submit([&ran] { ran.fetch_add(1); }));
    pool.stop();
    EXPECT_EQ(ran.load(), 50);
  }
}

TEST(ReadPoolTest, RefusesBeyondTheQueueBoundAndAfterStop) {
  ReadPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(pool.submit([&started, released] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the only thread is busy: what follows queues
  std::atomic<int> ran{0};
  EXPECT_TRUE(pool.submit([&ran] { ran.fetch_add(1); }));
  EXPECT_TRUE(pool.submit([&ran] { ran.fetch_add(1); }));
  EXPECT_FALSE(pool.submit([&ran] { ran.fetch_add(100); }));  // queue full
  release.set_value();
  pool.stop();  // runs what was queued
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(pool.submit([&ran] { ran.fetch_add(100); }));
  pool.stop();  // idempotent
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace meridian::api
