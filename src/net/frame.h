// Frames: the unit of the peer protocol on a byte stream (TCP or TLS). Layout
// (little endian; docs/formats/peer.md):
//
//   u32 length   bytes after this 8-byte header (type + payload)
//   u32 crc32c   of those bytes
//   u8  type     FrameType
//   ... payload
//
// A frame longer than the receiver's limit, with a bad checksum or an unknown
// type is a protocol error: the receiver logs it and closes the connection (it
// cannot resynchronise a byte stream), never crashes and never delivers a byte of
// the bad frame.
//
// Threads: value types and a decoder owned by one connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace meridian::net {

enum class FrameType : uint8_t {
  kHello = 1,          // dialer -> listener: who I am (wire.h Hello)
  kHelloAck = 2,       // listener -> dialer: accepted, or why not
  kMessages = 3,       // a batch of Raft messages for any groups (wire.h)
  kSnapshotChunk = 4,  // a piece of one Raft snapshot message (wire.h)
};
inline constexpr uint8_t kMaxFrameType = 4;

inline constexpr size_t kFrameHeaderBytes = 8;

struct Frame {
  FrameType type = FrameType::kMessages;
  std::string payload;
};

// Appends one encoded frame to `out`.
void append_frame(std::string* out, FrameType type, std::string_view payload);
std::string encode_frame(FrameType type, std::string_view payload);

// Incremental decoder: feed() bytes as they arrive, then take frames with next()
// until it returns nullopt (needs more bytes). After an error every call returns
// that error. Memory: at most one frame (bounded by max_frame_bytes) is buffered
// beyond what was fed and not yet taken.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes);
  void feed(const char* data, size_t n);
  // A frame, nullopt when more bytes are needed, or kCorruption (bad checksum,
  // unknown type, zero length) / kInvalidArgument (longer than the limit) with a
  // message that says which.
  base::Result<std::optional<Frame>> next();
  size_t buffered() const { return buf_.size() - pos_; }
  // Memory held by the buffer (tests, metrics). When next() is called until it
  // returns nullopt after each feed(), this stays within a small multiple of
  // max_frame_bytes plus the largest feed: consumed bytes are compacted away.
  size_t buffer_capacity() const { return buf_.capacity(); }

 private:
  // Records the error, drops everything buffered, and returns the error.
  base::Status fail(base::Code code, std::string message);

  uint32_t max_frame_bytes_;
  std::string buf_;
  size_t pos_ = 0;
  std::optional<base::Status> error_;
};

}  // namespace meridian::net
