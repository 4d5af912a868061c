// Frame layout (docs/formats/peer.md), little endian:
//
//   frame  := length:u32 crc:u32 type:u8 payload{length - 1}
//   length := bytes after the 8-byte header (type + payload), 1 .. max_frame_bytes
//   crc    := crc32c(type payload)            (not masked)
//   type   := 1 hello | 2 hello_ack | 3 messages | 4 snapshot_chunk
#include "net/frame.h"

#include <limits>
#include <utility>

#include "base/assert.h"
#include "base/crc32c.h"
#include "net/codec_util.h"

namespace meridian::net {
namespace {

// After a frame much larger than usual, an idle connection gives its buffer back
// instead of keeping max_frame_bytes of capacity forever. 1 MiB is well above a
// typical batch (heartbeats and small appends), so the common case never reallocates.
constexpr size_t kIdleBufferCapacityMax = 1 << 20;

bool known_type(uint8_t t) { return t >= 1 && t <= kMaxFrameType; }

}  // namespace

void append_frame(std::string* out, FrameType type, std::string_view payload) {
  const auto t = static_cast<uint8_t>(type);
  MERIDIAN_ASSERT(known_type(t), "unknown frame type ", int{t});
  MERIDIAN_ASSERT(payload.size() < std::numeric_limits<uint32_t>::max(), "frame payload of ",
                  payload.size(), " bytes does not fit a u32 length");
  const auto length = static_cast<uint32_t>(payload.size() + 1);
  uint32_t crc = crc32c_extend(0, &t, 1);
  crc = crc32c_extend(crc, payload.data(), payload.size());
  out->reserve(out->size() + kFrameHeaderBytes + length);
  put_u32(out, length);
  put_u32(out, crc);
  put_u8(out, t);
  out->append(payload);
}

std::string encode_frame(FrameType type, std::string_view payload) {
  std::string out;
  append_frame(&out, type, payload);
  return out;
}

FrameDecoder::FrameDecoder(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  MERIDIAN_ASSERT(max_frame_bytes >= 1, "a frame holds at least its type byte");
}

void FrameDecoder::feed(const char* data, size_t n) {
  if (error_) return;  // the connection is being closed; keep nothing
  // Compact once the consumed prefix is at least as large as what is left: each
  // byte is then moved at most a constant number of times on average, and the
  // buffer never holds more than twice the unconsumed bytes (plus this feed).
  if (pos_ > 0 && pos_ >= buf_.size() - pos_) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, n);
}

base::Result<std::optional<Frame>> FrameDecoder::next() {
  if (error_) return *error_;
  const size_t avail = buf_.size() - pos_;
  if (avail < kFrameHeaderBytes) return std::optional<Frame>();
  const char* header = buf_.data() + pos_;
  const uint32_t length = load_u32(header);
  const uint32_t crc = load_u32(header + 4);
  // The length is checked before the body arrives, so an oversized frame is refused
  // without buffering it.
  if (length == 0) {
    return fail(base::Code::kCorruption, "frame of 0 bytes (a frame holds at least its type)");
  }
  if (length > max_frame_bytes_) {
    return fail(base::Code::kInvalidArgument, "frame of " + std::to_string(length) +
                                                  " bytes exceeds the limit of " +
                                                  std::to_string(max_frame_bytes_));
  }
  if (avail - kFrameHeaderBytes < length) return std::optional<Frame>();
  const std::string_view body(header + kFrameHeaderBytes, length);
  if (crc32c(body) != crc) return fail(base::Code::kCorruption, "frame checksum mismatch");
  const auto type = static_cast<uint8_t>(body[0]);
  if (!known_type(type)) {
    return fail(base::Code::kCorruption, "unknown frame type " + std::to_string(type));
  }
  Frame frame{static_cast<FrameType>(type), std::string(body.substr(1))};
  pos_ += kFrameHeaderBytes + length;
  if (pos_ == buf_.size()) {
    pos_ = 0;
    if (buf_.capacity() > kIdleBufferCapacityMax) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
  }
  return std::optional<Frame>(std::move(frame));
}

base::Status FrameDecoder::fail(base::Code code, std::string message) {
  error_ = base::Status(code, std::move(message));
  std::string().swap(buf_);  // never deliver (or hold) a byte of the bad frame or after it
  pos_ = 0;
  return *error_;
}

}  // namespace meridian::net
