#include "base/loopback_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

namespace meridian::base {

namespace {

constexpr uint16_t kLowest = 20000;
constexpr uint16_t kHighest = 32000;
constexpr int kTries = 200;

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

}  // namespace

uint16_t free_loopback_port() {
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<uint16_t> pick(kLowest, kHighest);
  for (int i = 0; i < kTries; ++i) {
    const uint16_t port = pick(rng);
    if (bindable(port)) return port;
  }
  return 0;
}

}  // namespace meridian::base
