#include "base/loopback_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <random>
#include <string>

namespace meridian::base {

namespace {

constexpr uint16_t kLowest = 20000;
constexpr uint16_t kHighest = 32767;
constexpr int kTries = 1000;

bool bindable(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string lock_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/meridian-test-ports";
}

// An open descriptor holding the port's lock, or -1 if another process holds it.
// The descriptor is never closed: the lock lasts until the process exits.
int lock_port(const std::string& dir, uint16_t port) {
  const std::string path = dir + "/" + std::to_string(port);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

uint16_t free_loopback_port() {
  // A port this process already holds fails lock_port too: flock locks belong
  // to open file descriptions, and each pick opens its own.
  static std::mutex mu;
  const std::lock_guard lock(mu);
  static std::mt19937 rng(std::random_device{}());
  const std::string dir = lock_dir();
  ::mkdir(dir.c_str(), 0777);  // EEXIST is the usual case
  std::uniform_int_distribution<uint16_t> pick(kLowest, kHighest);
  for (int i = 0; i < kTries; ++i) {
    const uint16_t port = pick(rng);
    const int fd = lock_port(dir, port);
    if (fd < 0) continue;
    if (!bindable(port)) {
      ::close(fd);
      continue;
    }
    return port;
  }
  return 0;
}

}  // namespace meridian::base
