// gRPC's message framing and header values, as pure functions and two small
// value types (no I/O): the pieces of the gRPC-over-HTTP/2 protocol that do not
// depend on HTTP/2 itself, kept apart so that they can be unit-tested and fuzzed.
//
// The wire format (gRPC's doc/PROTOCOL-HTTP2.md): the DATA of a stream is a
// sequence of Length-Prefixed-Messages,
//
//   message = compressed-flag (1 byte, 0 or 1)
//             length          (4 bytes, unsigned big-endian)
//             bytes           (length bytes)
//
// and DATA frame boundaries mean nothing: one frame may carry several messages,
// and a message may span many frames.
//
// Threads: no shared state; each object belongs to whoever holds it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rpc/server.h"

namespace meridian::rpc {

inline constexpr size_t kMessagePrefixBytes = 5;

// The prefix of an uncompressed message of `length` bytes.
std::array<uint8_t, kMessagePrefixBytes> encode_message_prefix(uint32_t length);

// Cuts a stream's DATA bytes into whole messages. The length in a prefix is
// checked against the limit before any of the body is buffered, so a peer
// announcing a huge message costs nothing; the buffer reserved up front is at
// most kEagerReserveBytesMax, the rest grows with the bytes that do arrive.
//
//   MessageDeframer d(limit);
//   while (size > 0) {
//     const size_t used = d.feed(data, size);
//     data += used, size -= used;
//     if (d.state() == State::kMessage) deliver(d.take());
//     else if (d.state() != State::kNeedMore) fail(d.state());  // and stop feeding
//   }
class MessageDeframer {
 public:
  enum class State : uint8_t {
    kNeedMore,    // in the middle of a prefix or a body (or between messages)
    kMessage,     // a whole message is ready: take() it
    kTooLarge,    // a prefix announced more than the limit
    kCompressed,  // a prefix had the compressed flag (this server offers no compression)
    kBadFlag,     // a prefix's flag byte was neither 0 nor 1
  };

  // Bodies reserved in one piece up to this size; larger ones grow as they arrive.
  static constexpr size_t kEagerReserveBytesMax = 1 << 20;

  explicit MessageDeframer(uint32_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Takes bytes up to the end of the next message, or all of `size` if that
  // message is not complete; returns how many it took. Takes nothing unless the
  // state is kNeedMore.
  size_t feed(const uint8_t* data, size_t size);
  State state() const { return state_; }
  // The message that completed (state kMessage); the deframer then waits for the next.
  std::string take();
  // True if part of a message has been received: a stream ending now is truncated.
  bool mid_message() const { return prefix_have_ > 0 && state_ == State::kNeedMore; }
  // The length the last prefix announced (for kTooLarge's error message).
  uint32_t announced_bytes() const { return length_; }

 private:
  const uint32_t max_message_bytes_;
  State state_ = State::kNeedMore;
  std::array<uint8_t, kMessagePrefixBytes> prefix_{};
  size_t prefix_have_ = 0;
  uint32_t length_ = 0;
  std::string body_;
};

// One message on its way out: its prefix, then its bytes, handed to HTTP/2 in
// pieces as large as the peer's flow-control window allows.
class OutgoingMessage {
 public:
  // Starts sending `message`; the previous one must have been taken whole.
  void set(std::string message);
  // Starts sending `wire`: whole messages already framed (append_framed).
  void set_framed(std::string wire);
  bool empty() const { return offset_ == total_; }
  // Copies up to `size` of the next bytes to `out`; returns how many.
  size_t take(uint8_t* out, size_t size);
  // Drops what is left (a cancelled stream).
  void clear();

 private:
  std::array<uint8_t, kMessagePrefixBytes> prefix_{};
  std::string body_;
  size_t offset_ = 0;  // into prefix_ then body_
  size_t total_ = 0;
};

// Appends `message` with its 5-byte prefix (uncompressed) to `out`.
void append_framed(std::string* out, std::string_view message);

// Parses a grpc-timeout value: 1 to 8 ASCII digits and a unit, H M S m u n
// (hours to nanoseconds). nullopt for anything else; the server then treats the
// call as having no deadline, which is what a client sending a malformed
// value is least surprised by (it keeps its own deadline) and cannot be used to
// make the server fail calls. Values past the range of nanoseconds (about 292
// years; 99999999H is some 11,400) saturate at nanoseconds::max().
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value);

// now + timeout, or Clock::time_point::max() where that would overflow.
Clock::time_point deadline_after(Clock::time_point now, std::chrono::nanoseconds timeout);

// grpc-message's encoding: bytes outside 0x20-0x7E, and '%', become %XX
// (upper-case hex); the rest stays as it is (PROTOCOL-HTTP2.md, "Responses").
std::string percent_encode_grpc_message(std::string_view message);

// grpc-status's value: the code in decimal ("14"); "2" (UNKNOWN) if out of range.
std::string_view code_number(StatusCode code);

}  // namespace meridian::rpc
