// libFuzzer target for gRPC's message framing and header values. The first
// input byte seeds the sizes of the pieces the rest is fed in (1 to 64 bytes,
// as DATA frames might cut it). Checks:
//   1. the deframer yields the same messages and the same final state however
//      the bytes are cut, holds no message above its limit, and takes nothing
//      after an error;
//   2. every message it yields, sent again through OutgoingMessage in pieces
//      and deframed, comes back the same;
//   3. the grpc-timeout parser accepts only digits-then-unit values and never
//      returns a negative duration; the grpc-message encoder emits only
//      printable ASCII other than a bare '%'.
// Never a crash, an assertion or a read out of bounds.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "rpc/grpc_framing.h"

namespace {

using meridian::rpc::MessageDeframer;
using State = MessageDeframer::State;

// Small, so that inputs of a few KiB reach the limit.
constexpr uint32_t kMaxMessageBytes = 4096;

struct Outcome {
  std::vector<std::string> messages;
  State end = State::kNeedMore;
};

// Knuth's LCG, for piece sizes of 1 to 64 bytes.
size_t next_piece(uint64_t* state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return 1 + (*state >> 58);
}

Outcome deframe(const uint8_t* data, size_t size, uint64_t seed, bool in_pieces) {
  Outcome out;
  MessageDeframer d(kMaxMessageBytes);
  uint64_t state = seed;
  for (size_t pos = 0; pos < size && out.end == State::kNeedMore;) {
    size_t piece = in_pieces ? std::min(size - pos, next_piece(&state)) : size - pos;
    pos += piece;
    const uint8_t* p = data + pos - piece;
    while (piece > 0) {
      const size_t used = d.feed(p, piece);
      MERIDIAN_ASSERT(used <= piece, "took ", used, " of ", piece);
      p += used;
      piece -= used;
      if (d.state() == State::kMessage) {
        std::string m = d.take();
        MERIDIAN_ASSERT(m.size() <= kMaxMessageBytes, "a message of ", m.size(), " bytes");
        out.messages.push_back(std::move(m));
      } else if (d.state() != State::kNeedMore) {
        MERIDIAN_ASSERT(d.feed(p, piece) == 0, "a failed deframer took more bytes");
        out.end = d.state();
        break;
      } else {
        MERIDIAN_ASSERT(piece == 0, "stopped short of the end without a message");
      }
    }
  }
  return out;
}

void check_round_trip(const std::string& message, uint64_t seed) {
  meridian::rpc::OutgoingMessage out;
  out.set(message);
  std::string wire;
  uint64_t state = seed;
  uint8_t buf[64];
  while (!out.empty()) {
    const size_t n = out.take(buf, next_piece(&state));
    MERIDIAN_ASSERT(n > 0, "a message that is not empty gave no bytes");
    wire.append(reinterpret_cast<const char*>(buf), n);
  }
  const Outcome back =
      deframe(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), seed, true);
  MERIDIAN_ASSERT(
      back.end == State::kNeedMore && back.messages.size() == 1 && back.messages[0] == message,
      "a message did not survive OutgoingMessage and the deframer");
}

void check_header_values(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 12));
  if (const auto t = meridian::rpc::parse_grpc_timeout(text)) {
    MERIDIAN_ASSERT(t->count() >= 0, "a negative timeout");
    MERIDIAN_ASSERT(text.size() >= 2 && text.size() <= 9, "accepted '", text, "'");
  }
  const std::string encoded = meridian::rpc::percent_encode_grpc_message(
      std::string_view(reinterpret_cast<const char*>(data), size));
  for (size_t i = 0; i < encoded.size(); ++i) {
    const auto c = static_cast<uint8_t>(encoded[i]);
    MERIDIAN_ASSERT(c >= 0x20 && c <= 0x7E, "unencoded byte ", int{c});
    if (c == '%') {
      MERIDIAN_ASSERT(i + 2 < encoded.size() && std::isxdigit(encoded[i + 1]) != 0 &&
                          std::isxdigit(encoded[i + 2]) != 0,
                      "a '%' without two hex digits");
      i += 2;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint64_t seed = data[0] | 1u;
  const uint8_t* stream = data + 1;
  const size_t n = size - 1;

  const Outcome whole = deframe(stream, n, seed, false);
  const Outcome pieces = deframe(stream, n, seed, true);
  MERIDIAN_ASSERT(whole.messages == pieces.messages, "messages differ by how the bytes were cut");
  MERIDIAN_ASSERT(whole.end == pieces.end, "the final state differs by how the bytes were cut");
  for (const std::string& m : whole.messages) check_round_trip(m, seed);

  check_header_values(stream, n);
  return 0;
}
