// check_snapshot_file: the trailer a snapshot stream ends with (zeros, the
// image's length, a SHA-256 over everything before it) is checked whole.
#include "api/snapshot_stream.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "base/strings.h"

namespace meridian::api {
namespace {

// A stream as the server writes it, around `image`; `pad_byte` fills the padding.
std::string stream_of(const std::string& image, char pad_byte = '\0') {
  std::string out = image;
  out.append((512 - (image.size() + 8) % 512) % 512, pad_byte);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(uint64_t{image.size()} >> (8 * i)));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(out.data()), out.size(), digest);
  out.append(reinterpret_cast<const char*>(digest), sizeof digest);
  return out;
}

class SnapshotFileTest : public ::testing::Test {
 protected:
  ~SnapshotFileTest() override { std::remove(path_.c_str()); }
  base::Result<uint64_t> check(const std::string& bytes) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
    return check_snapshot_file(path_);
  }
  const std::string path_ = base::cat(::testing::TempDir(), "/snapshot-file-", getpid());
};

TEST_F(SnapshotFileTest, AcceptsWhatTheServerWritesAndRefusesAnyDamage) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{471}, size_t{472}, size_t{473}, size_t{5000}}) {
    const std::string image(n, 'i');
    auto r = check(stream_of(image));
    ASSERT_TRUE(r.is_ok()) << n << ": " << r.status();
    EXPECT_EQ(r.value(), n);
  }
  std::string good = stream_of(std::string(1000, 'i'));
  std::string flipped = good;
  flipped[10] ^= 1;
  EXPECT_EQ(check(flipped).status().code(), base::Code::kCorruption);
  EXPECT_EQ(check(good.substr(0, good.size() - 1)).status().code(), base::Code::kCorruption);
  EXPECT_EQ(check(stream_of(std::string(1000, 'i'), 'x')).status().code(), base::Code::kCorruption);
  EXPECT_EQ(check_snapshot_file(path_ + ".missing").status().code(), base::Code::kIoError);
}

}  // namespace
}  // namespace meridian::api
