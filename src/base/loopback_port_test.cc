#include "base/loopback_port.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace meridian::base {
namespace {

TEST(LoopbackPortTest, NoTwoCallsInAProcessGetTheSamePort) {
  std::set<uint16_t> seen;
  for (int i = 0; i < 200; ++i) {
    const uint16_t port = free_loopback_port();
    ASSERT_NE(port, 0);
    EXPECT_LT(port, 32768) << "ports come from below the ephemeral range";
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " given twice";
  }
}

// A port whose lock file someone else holds (another test process, C++ or the
// Python harness) is never handed out, though it is free to bind. flock locks
// belong to open file descriptions, so this test's own second open of a lock
// file stands in for another process.
TEST(LoopbackPortTest, APortLockedElsewhereIsNeverHandedOut) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/meridian-test-ports";
  ::mkdir(dir.c_str(), 0777);
  // 400 of the 12,768 ports: 400 unlocked picks would hit one of them about 12
  // times, so the test fails for certain if the lock is not checked.
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<uint16_t> pick(20000, 32767);
  std::set<uint16_t> theirs;
  std::vector<int> fds;
  while (theirs.size() < 400) {
    const uint16_t port = pick(rng);
    if (theirs.contains(port)) continue;
    const std::string path = dir + "/" + std::to_string(port);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    ASSERT_GE(fd, 0) << path;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a concurrent test holds it: fine too
      ::close(fd);
      continue;
    }
    theirs.insert(port);
    fds.push_back(fd);
  }
  for (int i = 0; i < 400; ++i) {
    const uint16_t port = free_loopback_port();
    ASSERT_NE(port, 0);
    EXPECT_FALSE(theirs.contains(port)) << "port " << port << " is locked elsewhere";
  }
  for (const int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace meridian::base
