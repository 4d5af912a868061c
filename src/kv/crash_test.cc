// After a crash (no clean close: the WAL buffer and the memtables are simply
// lost with the process), the store reopens at a consistent prefix of what was
// applied: its applied index N, revision N + 1 and exactly the first N puts.
// The writer runs in a child process (this test binary re-executed with a
// filter), which exits without any cleanup.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "kv/store_testing.h"

extern char** environ;

namespace meridian::kv {
namespace {

constexpr int kPuts = 30000;
constexpr char kDirVariable[] = "MERIDIAN_KV_CRASH_DIR";

std::string key_of(int i) { return "key" + std::to_string(i); }

// The child: applies kPuts puts (put i at Raft index i) and dies.
TEST(CrashTest, ChildWriter) {
  const char* dir = std::getenv(kDirVariable);
  if (dir == nullptr) GTEST_SKIP() << "runs only as CrashTest.RecoversAConsistentPrefix's child";
  auto store = testing::open_store(dir);
  for (int i = 1; i <= kPuts; ++i) {
    etcdpb::PutResponse resp;
    if (store->put(raft::Index{static_cast<uint64_t>(i)},
                   testing::put_request(key_of(i), std::string(100, 'v')), &resp) != Errc::kOk) {
      ::_exit(2);
    }
  }
  ::_exit(0);  // no destructor runs: nothing is flushed or closed
}

TEST(CrashTest, RecoversAConsistentPrefix) {
  testing::TempDir dir;
  const std::string env_entry = std::string(kDirVariable) + "=" + dir.path();
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(env_entry.c_str()));
  env.push_back(nullptr);
  std::string filter = "--gtest_filter=CrashTest.ChildWriter";
  char* argv[] = {const_cast<char*>("/proc/self/exe"), filter.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, env.data()), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto store = testing::open_store(dir.path());
  const uint64_t applied = store->applied_index().value();
  EXPECT_LE(applied, static_cast<uint64_t>(kPuts));
  EXPECT_EQ(store->revision(), static_cast<int64_t>(applied) + 1);
  etcdpb::RangeRequest all = testing::range_request(std::string(1, '\0'), std::string(1, '\0'));
  all.set_count_only(true);
  etcdpb::RangeResponse r;
  ASSERT_EQ(store->range(all, &r), Errc::kOk);
  EXPECT_EQ(r.count(), static_cast<int64_t>(applied));
  // Exactly the first `applied` puts, each at its revision.
  for (uint64_t i = 1; i <= applied + 1 && i <= static_cast<uint64_t>(kPuts); ++i) {
    etcdpb::RangeResponse one;
    ASSERT_EQ(store->range(testing::range_request(key_of(static_cast<int>(i))), &one), Errc::kOk);
    if (i <= applied) {
      ASSERT_EQ(one.kvs_size(), 1) << i;
      EXPECT_EQ(one.kvs(0).mod_revision(), static_cast<int64_t>(i) + 1);
    } else {
      EXPECT_EQ(one.kvs_size(), 0) << i;
    }
  }
  // The node would replay from applied + 1: the store takes it from there.
  etcdpb::PutResponse resp;
  ASSERT_EQ(store->put(raft::Index{applied + 1}, testing::put_request("after", "1"), &resp),
            Errc::kOk);
  EXPECT_EQ(resp.header().revision(), static_cast<int64_t>(applied) + 2);
  std::cout << "recovered " << applied << " of " << kPuts << " puts\n";
}

}  // namespace
}  // namespace meridian::kv
