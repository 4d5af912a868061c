// libFuzzer target for the peer protocol's frame decoder. The first input byte
// seeds the sizes of the pieces the rest is fed in (1 to 64 bytes, as a socket
// might deliver it); the rest is the byte stream. Checks:
//   1. feeding in pieces gives the same frames and the same final error as
//      feeding everything at once;
//   2. the decoder never holds more than one partial frame after it was drained,
//      and nothing after an error;
//   3. every frame's payload goes to the decoder of its type (snapshot chunks on
//      to an assembler), which either decodes it or fails with a Status.
// Never a crash, an assertion or a read out of bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/assert.h"
#include "net/frame.h"
#include "net/wire.h"

namespace {

using meridian::net::Frame;
using meridian::net::FrameDecoder;
using meridian::net::FrameType;

// Small, so that inputs of a few KiB reach the limit.
constexpr uint32_t kMaxFrameBytes = 4096;

struct Outcome {
  std::vector<Frame> frames;
  std::optional<meridian::base::Status> error;
};

// Takes every complete frame; returns false once the decoder has failed.
bool drain(FrameDecoder& d, Outcome* out) {
  for (;;) {
    auto r = d.next();
    if (!r.is_ok()) {
      MERIDIAN_ASSERT(d.buffered() == 0, "a failed decoder keeps ", d.buffered(), " bytes");
      out->error = r.status();
      return false;
    }
    if (!r.value()) break;
    out->frames.push_back(std::move(*r.value()));
  }
  MERIDIAN_ASSERT(d.buffered() < meridian::net::kFrameHeaderBytes + kMaxFrameBytes,
                  "a drained decoder holds ", d.buffered(), " bytes");
  return true;
}

void decode_payload(const Frame& f, meridian::net::SnapshotAssembler* assembler) {
  const meridian::raft::NodeId from{1};
  const meridian::raft::NodeId to{2};
  switch (f.type) {
    case FrameType::kHello:
      (void)meridian::net::decode_hello(f.payload);
      break;
    case FrameType::kHelloAck:
      (void)meridian::net::decode_hello_ack(f.payload);
      break;
    case FrameType::kMessages:
      (void)meridian::net::decode_batch(f.payload, from, to);
      break;
    case FrameType::kSnapshotChunk: {
      auto chunk = meridian::net::decode_snapshot_chunk(f.payload, from, to);
      if (chunk.is_ok()) (void)assembler->add(std::move(chunk).value());
      break;
    }
  }
}

bool same_frames(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i].type != b[i].type || a[i].payload != b[i].payload) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint64_t state = data[0] | 1u;
  const char* stream = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  Outcome whole;
  FrameDecoder at_once(kMaxFrameBytes);
  at_once.feed(stream, n);
  drain(at_once, &whole);

  Outcome pieces;
  FrameDecoder piecewise(kMaxFrameBytes);
  for (size_t pos = 0; pos < n;) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;  // Knuth's LCG
    const size_t piece = std::min<size_t>(n - pos, 1 + (state >> 58));
    piecewise.feed(stream + pos, piece);
    pos += piece;
    if (!drain(piecewise, &pieces)) {
      piecewise.feed(stream + pos, n - pos);  // dropped
      MERIDIAN_ASSERT(piecewise.buffered() == 0, "a failed decoder buffers");
      break;
    }
  }

  MERIDIAN_ASSERT(same_frames(whole.frames, pieces.frames),
                  "frames differ by how the stream was cut");
  MERIDIAN_ASSERT(whole.error.has_value() == pieces.error.has_value(),
                  "errors differ by how the stream was cut");
  if (whole.error) {
    MERIDIAN_ASSERT(whole.error->code() == pieces.error->code() &&
                        whole.error->message() == pieces.error->message(),
                    *whole.error, " vs ", *pieces.error);
  }

  meridian::net::SnapshotAssembler assembler(1 << 16, 4);
  for (const Frame& f : whole.frames) decode_payload(f, &assembler);
  return 0;
}
