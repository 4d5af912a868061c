#include "net/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "net/codec_util.h"

namespace meridian::net {
namespace {

using base::Code;

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

FrameType random_type(std::mt19937_64& rng) {
  return static_cast<FrameType>(1 + rng() % kMaxFrameType);
}

// Takes every complete frame; fails the test on an error.
std::vector<Frame> drain(FrameDecoder& d) {
  std::vector<Frame> frames;
  for (;;) {
    auto r = d.next();
    EXPECT_TRUE(r.is_ok()) << r.status();
    if (!r.is_ok() || !r.value()) return frames;
    frames.push_back(std::move(*r.value()));
  }
}

// A frame with a valid checksum over whatever type byte is given.
std::string raw_frame(uint8_t type, std::string_view payload) {
  std::string body(1, static_cast<char>(type));
  body.append(payload);
  std::string out;
  put_u32(&out, static_cast<uint32_t>(body.size()));
  put_u32(&out, crc32c(body));
  out.append(body);
  return out;
}

TEST(Frame, LayoutIsLengthChecksumTypePayload) {
  std::string f = encode_frame(FrameType::kMessages, "abc");
  ASSERT_EQ(f.size(), kFrameHeaderBytes + 4);
  EXPECT_EQ(load_u32(f.data()), 4u);
  EXPECT_EQ(load_u32(f.data() + 4), crc32c(std::string_view(f).substr(8)));
  EXPECT_EQ(f[8], 3);
  EXPECT_EQ(f.substr(9), "abc");
  EXPECT_EQ(f, raw_frame(3, "abc"));

  std::string appended = "xy";
  append_frame(&appended, FrameType::kMessages, "abc");
  EXPECT_EQ(appended, "xy" + f);
}

TEST(Frame, RoundTripsEveryTypeAndSize) {
  std::mt19937_64 rng(1);
  std::string stream;
  std::vector<Frame> sent;
  for (size_t size : {0, 1, 7, 8, 9, 100, 4096, 65537}) {
    for (uint8_t t = 1; t <= kMaxFrameType; t++) {
      Frame f{static_cast<FrameType>(t), random_bytes(rng, size)};
      append_frame(&stream, f.type, f.payload);
      sent.push_back(std::move(f));
    }
  }
  FrameDecoder d(1 << 20);
  d.feed(stream.data(), stream.size());
  std::vector<Frame> got = drain(d);
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); i++) {
    EXPECT_EQ(got[i].type, sent[i].type) << i;
    EXPECT_EQ(got[i].payload, sent[i].payload) << i;
  }
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Frame, FedByteByByte) {
  std::mt19937_64 rng(2);
  std::string stream;
  std::vector<Frame> sent;
  for (int i = 0; i < 200; i++) {
    Frame f{random_type(rng), random_bytes(rng, rng() % 300)};
    append_frame(&stream, f.type, f.payload);
    sent.push_back(std::move(f));
  }
  FrameDecoder d(1000);
  std::vector<Frame> got;
  for (char c : stream) {
    d.feed(&c, 1);
    for (Frame& f : drain(d)) got.push_back(std::move(f));
    // Never more than one partial frame waits.
    EXPECT_LT(d.buffered(), kFrameHeaderBytes + 301);
  }
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); i++) {
    EXPECT_EQ(got[i].type, sent[i].type);
    EXPECT_EQ(got[i].payload, sent[i].payload);
  }
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Frame, FedInRandomPieces) {
  std::mt19937_64 rng(3);
  std::string stream;
  std::vector<std::string> sent;
  for (int i = 0; i < 500; i++) {
    sent.push_back(random_bytes(rng, rng() % 2000));
    append_frame(&stream, FrameType::kMessages, sent.back());
  }
  FrameDecoder d(4096);
  std::vector<std::string> got;
  for (size_t pos = 0; pos < stream.size();) {
    size_t n = std::min<size_t>(stream.size() - pos, rng() % 5000);
    d.feed(stream.data() + pos, n);
    pos += n;
    for (Frame& f : drain(d)) got.push_back(std::move(f.payload));
  }
  EXPECT_EQ(got, sent);
}

TEST(Frame, BufferIsCompactedAndDoesNotGrowWithTraffic) {
  // Always leave part of a frame behind, so the buffer is never simply emptied.
  std::mt19937_64 rng(4);
  const std::string payload = random_bytes(rng, 1000);
  const std::string f = encode_frame(FrameType::kMessages, payload);
  FrameDecoder d(2048);
  size_t frames = 0;
  size_t offset = 0;  // where in `f` the stream is
  for (int i = 0; i < 20000; i++) {
    const size_t n = 700 + rng() % 700;
    std::string piece;
    while (piece.size() < n) {
      piece.push_back(f[offset]);
      offset = (offset + 1) % f.size();
    }
    d.feed(piece.data(), piece.size());
    for (Frame& got : drain(d)) {
      ASSERT_EQ(got.payload, payload);
      frames++;
    }
    ASSERT_LT(d.buffer_capacity(), 16u * 1024) << "after " << i << " feeds";
  }
  EXPECT_GT(frames, 10000u);
}

TEST(Frame, LargeBufferIsReleasedWhenIdle) {
  const std::string big = encode_frame(FrameType::kSnapshotChunk, std::string(8 << 20, 'x'));
  FrameDecoder d(16 << 20);
  d.feed(big.data(), big.size());
  ASSERT_EQ(drain(d).size(), 1u);
  EXPECT_LE(d.buffer_capacity(), size_t{1} << 20);
}

TEST(Frame, ExactlyTheLimitIsAccepted) {
  FrameDecoder d(100);
  const std::string f = encode_frame(FrameType::kMessages, std::string(99, 'a'));
  d.feed(f.data(), f.size());
  ASSERT_EQ(drain(d).size(), 1u);
}

TEST(Frame, OversizedLengthFailsOnTheHeaderWithoutBufferingTheBody) {
  FrameDecoder d(1000);
  const std::string f = encode_frame(FrameType::kMessages, std::string(1000, 'a'));  // 1001
  d.feed(f.data(), kFrameHeaderBytes);
  auto r = d.next();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "frame of 1001 bytes exceeds the limit of 1000");
  EXPECT_EQ(d.buffered(), 0u);
  // The rest of the stream is dropped as it arrives.
  d.feed(f.data() + kFrameHeaderBytes, f.size() - kFrameHeaderBytes);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.next().status().code(), Code::kInvalidArgument);  // sticky
}

TEST(Frame, HugeLengthFailsEarly) {
  FrameDecoder d(64u << 20);
  std::string header;
  put_u32(&header, 0xffffffff);
  put_u32(&header, 0);
  d.feed(header.data(), header.size());
  auto r = d.next();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "frame of 4294967295 bytes exceeds the limit of 67108864");
}

TEST(Frame, ZeroLengthIsCorruption) {
  FrameDecoder d(1000);
  std::string header;
  put_u32(&header, 0);
  put_u32(&header, crc32c(""));
  d.feed(header.data(), header.size());
  auto r = d.next();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

TEST(Frame, UnknownTypeIsCorruption) {
  for (uint8_t t : {0, 5, 200, 255}) {
    FrameDecoder d(1000);
    const std::string f = raw_frame(t, "payload");
    d.feed(f.data(), f.size());
    auto r = d.next();
    ASSERT_FALSE(r.is_ok()) << int{t};
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_EQ(r.status().message(), "unknown frame type " + std::to_string(t));
  }
}

TEST(Frame, ChecksumMismatchIsCorruption) {
  std::string f = encode_frame(FrameType::kHello, "hello there");
  f.back() ^= 1;
  FrameDecoder d(1000);
  d.feed(f.data(), f.size());
  auto r = d.next();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_EQ(r.status().message(), "frame checksum mismatch");
  EXPECT_EQ(d.buffered(), 0u);
}

// Damage anywhere in a frame (header included) is detected before any of its bytes
// are delivered, however the damage changes the length.
TEST(Frame, CorruptedByteAnywhereIsAnError) {
  std::mt19937_64 rng(5);
  const std::string first = encode_frame(FrameType::kMessages, random_bytes(rng, 40));
  std::string rest;  // enough valid frames after it that a longer length is complete too
  while (rest.size() < 600) append_frame(&rest, FrameType::kMessages, random_bytes(rng, 50));
  for (size_t i = 0; i < first.size(); i++) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string stream = first + rest;
      stream[i] = static_cast<char>(stream[i] ^ flip);
      FrameDecoder d(512);
      d.feed(stream.data(), stream.size());
      auto r = d.next();
      ASSERT_FALSE(r.is_ok()) << "byte " << i << " flip " << int{flip};
      EXPECT_EQ(d.buffered(), 0u);
    }
  }
}

TEST(Frame, GoodFramesBeforeABadOneAreDelivered) {
  std::string stream = encode_frame(FrameType::kHello, "one");
  append_frame(&stream, FrameType::kHelloAck, "two");
  std::string bad = encode_frame(FrameType::kMessages, "three");
  bad[5] ^= 0x10;
  stream += bad;
  FrameDecoder d(100);
  d.feed(stream.data(), stream.size());
  auto a = d.next();
  ASSERT_TRUE(a.is_ok() && a.value());
  EXPECT_EQ(a.value()->payload, "one");
  auto b = d.next();
  ASSERT_TRUE(b.is_ok() && b.value());
  EXPECT_EQ(b.value()->payload, "two");
  EXPECT_FALSE(d.next().is_ok());
  EXPECT_FALSE(d.next().is_ok());
}

TEST(Frame, IncompleteFrameWaits) {
  const std::string f = encode_frame(FrameType::kMessages, "abcdef");
  for (size_t n = 0; n < f.size(); n++) {
    FrameDecoder partial(100);
    partial.feed(f.data(), n);
    auto r = partial.next();
    ASSERT_TRUE(r.is_ok());
    EXPECT_FALSE(r.value().has_value());
    EXPECT_EQ(partial.buffered(), n);
  }
}

}  // namespace
}  // namespace meridian::net
