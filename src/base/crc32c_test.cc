#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace meridian {
namespace {

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

uint32_t software(std::string_view s) {
  return detail::crc32c_extend_software(0, s.data(), s.size());
}

// Check values of CRC-32C: "123456789" is the standard check input; the 32-byte
// vectors are those of RFC 3720 appendix B.4 (iSCSI).
struct Vector {
  std::string data;
  uint32_t crc;
};

std::vector<Vector> known_vectors() {
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  return {
      {"", 0u},
      {"123456789", 0xE3069283u},
      {std::string(32, '\0'), 0x8A9136AAu},
      {std::string(32, '\xff'), 0x62A8AB43u},
      {ascending, 0x46DD794Eu},
  };
}

TEST(Crc32c, KnownVectors) {
  for (const Vector& v : known_vectors()) {
    EXPECT_EQ(crc32c(v.data), v.crc) << "length " << v.data.size();
  }
}

TEST(Crc32c, SoftwarePathGivesTheKnownVectorsToo) {
  for (const Vector& v : known_vectors()) {
    EXPECT_EQ(software(v.data), v.crc) << "length " << v.data.size();
  }
}

TEST(Crc32c, ExtendingOverPiecesEqualsTheWhole) {
  std::mt19937_64 rng(42);
  std::string data = random_bytes(rng, 4096);
  uint32_t whole = crc32c(data);
  for (int trial = 0; trial < 500; ++trial) {
    size_t a = rng() % (data.size() + 1);
    size_t b = rng() % (data.size() + 1);
    if (a > b) std::swap(a, b);
    uint32_t crc = crc32c_extend(0, data.data(), a);
    crc = crc32c_extend(crc, data.data() + a, b - a);
    crc = crc32c_extend(crc, data.data() + b, data.size() - b);
    ASSERT_EQ(crc, whole) << "split at " << a << " and " << b;
    uint32_t sw = detail::crc32c_extend_software(0, data.data(), a);
    sw = detail::crc32c_extend_software(sw, data.data() + a, data.size() - a);
    ASSERT_EQ(sw, whole) << "software split at " << a;
  }
}

TEST(Crc32c, HardwareAndSoftwareAgreeOnEveryLengthAndAlignment) {
  if (!crc32c_hardware()) GTEST_SKIP() << "no SSE4.2 here: only the software path runs";
  std::mt19937_64 rng(7);
  std::string buffer = random_bytes(rng, 70000);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
  for (size_t n : {1000u, 4095u, 4096u, 4097u, 65536u, 69984u}) lengths.push_back(n);
  for (size_t n : lengths) {
    for (size_t offset = 0; offset < 16; ++offset) {
      uint32_t seed = static_cast<uint32_t>(rng());
      const char* p = buffer.data() + offset;
      ASSERT_EQ(crc32c_extend(seed, p, n), detail::crc32c_extend_software(seed, p, n))
          << "length " << n << " offset " << offset;
    }
  }
}

TEST(Crc32c, SmallChangesChangeTheCrc) {
  std::string data = "the quick brown fox";
  uint32_t base = crc32c(data);
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = data;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      EXPECT_NE(crc32c(flipped), base) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Crc32c, MaskRoundTripsAndDiffers) {
  std::mt19937_64 rng(3);
  for (uint32_t crc : {0u, 1u, 0xFFFFFFFFu, 0xE3069283u}) {
    EXPECT_EQ(crc32c_unmask(crc32c_mask(crc)), crc);
    EXPECT_NE(crc32c_mask(crc), crc);
  }
  for (int i = 0; i < 10000; ++i) {
    uint32_t crc = static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c_unmask(crc32c_mask(crc)), crc);
  }
}

// Not a benchmark (no assertion on time): prints the speed of both paths so that
// a slow build or a missing hardware path shows in the test log.
TEST(Crc32c, PrintsThroughput) {
  std::mt19937_64 rng(1);
  std::string data = random_bytes(rng, 8u << 20);
  auto measure = [&](auto&& fn) {
    constexpr int kRounds = 8;
    uint32_t sink = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i)
      sink ^= fn(static_cast<uint32_t>(i), data.data(), data.size());
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    EXPECT_NE(sink, 0x12345678u);  // keeps the work from being optimized away
    return static_cast<double>(data.size()) * kRounds / took.count() / 1e9;
  };
  double sw = measure(detail::crc32c_extend_software);
  double current = measure(crc32c_extend);
  std::printf("crc32c throughput: %s path %.2f GB/s, software path %.2f GB/s\n",
              crc32c_hardware() ? "hardware" : "software", current, sw);
}

}  // namespace
}  // namespace meridian
