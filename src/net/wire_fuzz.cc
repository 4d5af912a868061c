// libFuzzer target for the peer protocol's payload decoders. Arbitrary bytes are
// decoded as each payload kind; whatever decodes must survive a round trip:
//   - a batch re-encodes to bytes that decode to the same messages (coalesced
//     heartbeats first, as the encoder orders them), and that encoding is a fixed
//     point (encode(decode(e)) == e);
//   - a snapshot chunk, a hello ack and a version-1 hello re-encode to exactly the
//     input (those encodings are canonical); a chunk is then given to an assembler.
// Never a crash, an assertion or a read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "net/wire.h"

namespace {

using meridian::net::Envelope;
using meridian::raft::Index;
using meridian::raft::Message;
using meridian::raft::MessageType;
using meridian::raft::NodeId;
using meridian::raft::Term;

constexpr NodeId kFrom{3};
constexpr NodeId kTo{4};

bool same_message(const Message& a, const Message& b) {
  bool snapshots_equal = a.snapshot == nullptr
                             ? b.snapshot == nullptr
                             : b.snapshot != nullptr && *a.snapshot == *b.snapshot;
  return a.type == b.type && a.from == b.from && a.to == b.to && a.term == b.term &&
         a.log_term == b.log_term && a.index == b.index && a.entries == b.entries &&
         a.commit == b.commit && a.commit_term == b.commit_term && a.reject == b.reject &&
         a.reject_hint == b.reject_hint && a.force == b.force && a.target == b.target &&
         a.context == b.context && snapshots_equal;
}

// Which section of a batch the encoder puts a message in: 0 coalesced heartbeats,
// 1 coalesced heartbeat responses, 2 full messages (the fuzzer's own statement of
// the rule in wire.cc).
int section(const Message& m) {
  bool plain = m.log_term == Term{0} && m.index == Index{0} && m.entries.empty() &&
               m.commit_term == Term{0} && !m.reject && m.reject_hint == Index{0} && !m.force &&
               m.target == meridian::raft::kNoNode && !m.snapshot && m.context.empty();
  if (plain && m.type == MessageType::kHeartbeat) return 0;
  if (plain && m.type == MessageType::kHeartbeatResponse && m.commit == Index{0}) return 1;
  return 2;
}

void check_batch(std::string_view input) {
  auto decoded = meridian::net::decode_batch(input, kFrom, kTo);
  if (!decoded.is_ok()) return;
  const std::vector<Envelope>& first = decoded.value();
  std::vector<const Envelope*> expected;
  for (int s = 0; s < 3; s++) {
    for (const Envelope& env : first) {
      if (section(env.message) == s) expected.push_back(&env);
    }
  }
  const std::string again = meridian::net::encode_batch(first);
  auto second = meridian::net::decode_batch(again, kFrom, kTo);
  MERIDIAN_ASSERT(second.is_ok(), "a re-encoded batch does not decode: ", second.status());
  MERIDIAN_ASSERT(second.value().size() == expected.size(), "message count changed");
  for (size_t i = 0; i < expected.size(); i++) {
    MERIDIAN_ASSERT(second.value()[i].group == expected[i]->group, "group of message ", i);
    MERIDIAN_ASSERT(same_message(second.value()[i].message, expected[i]->message), "message ", i,
                    " changed: ", expected[i]->message, " became ", second.value()[i].message);
  }
  MERIDIAN_ASSERT(meridian::net::encode_batch(second.value()) == again,
                  "a batch encoding is not a fixed point");
}

void check_snapshot_chunk(std::string_view input) {
  auto chunk = meridian::net::decode_snapshot_chunk(input, kFrom, kTo);
  if (!chunk.is_ok()) return;
  MERIDIAN_ASSERT(meridian::net::encode_snapshot_chunk(chunk.value()) == input,
                  "a snapshot chunk re-encodes differently");
  if (chunk.value().header) {
    MERIDIAN_ASSERT(chunk.value().header->from == kFrom && chunk.value().header->to == kTo,
                    "a chunk's message is not from the peer to the receiver");
  }
  meridian::net::SnapshotAssembler assembler(1 << 20, 2);
  auto whole = assembler.add(std::move(chunk).value());
  if (whole.is_ok() && whole.value()) {
    const auto& m = whole.value()->message;
    MERIDIAN_ASSERT(m.type == MessageType::kSnapshot && m.snapshot,
                    "an assembled message without its snapshot");
  }
}

void check_handshake(std::string_view input) {
  auto hello = meridian::net::decode_hello(input);
  if (hello.is_ok() && hello.value().version == meridian::net::kProtocolVersion) {
    MERIDIAN_ASSERT(meridian::net::encode_hello(hello.value()) == input,
                    "a hello re-encodes differently");
  }
  auto ack = meridian::net::decode_hello_ack(input);
  if (ack.is_ok()) {
    MERIDIAN_ASSERT(meridian::net::encode_hello_ack(ack.value()) == input,
                    "a hello ack re-encodes differently");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_batch(input);
  check_snapshot_chunk(input);
  check_handshake(input);
  return 0;
}
