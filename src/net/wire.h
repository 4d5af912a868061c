// The payloads of the peer protocol's frames (frame.h): the handshake, batches
// of Raft messages addressed to groups, and snapshot chunks. Hand-written binary
// encoding (little-endian fixed ints and LEB128 varints, docs/formats/peer.md);
// every decoder checks every length against the bytes present and the limits
// below, so any input either decodes or fails with kCorruption, never crashes or
// allocates more than the input justifies (fuzzed: wire_fuzz.cc).
//
// Coalescing: a batch to one peer carries messages of many groups. Heartbeats
// and heartbeat responses without a ReadIndex context (the common case: every
// leader group sends one per follower per heartbeat interval) are encoded in a
// compact section of their own, (group, term, commit) per heartbeat, so that a
// node hosting thousands of groups sends one small frame per peer per tick
// rather than thousands of messages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "raft/types.h"

namespace meridian::net {

inline constexpr uint32_t kHelloMagic = 0x4e44524d;  // "MRDN" little endian
inline constexpr uint16_t kProtocolVersion = 1;

struct Hello {
  uint16_t version = kProtocolVersion;
  uint64_t cluster_id = 0;
  raft::NodeId from;  // the dialing node
  raft::NodeId to;    // the node it means to reach
  bool operator==(const Hello&) const = default;
};

struct HelloAck {
  bool accepted = false;
  std::string reason;  // why not, for the dialer's log ("cluster id mismatch: ...")
  bool operator==(const HelloAck&) const = default;
};

std::string encode_hello(const Hello& h);
base::Result<Hello> decode_hello(std::string_view payload);
std::string encode_hello_ack(const HelloAck& a);
base::Result<HelloAck> decode_hello_ack(std::string_view payload);

// One Raft message for one group. kSnapshot messages never travel in a batch
// (they go as snapshot chunks); encode_batch asserts that.
struct Envelope {
  GroupId group;
  raft::Message message;
};

struct DecodeLimits {
  uint64_t max_messages = 1 << 20;  // per batch
  uint64_t max_entries = 1 << 22;   // per batch, over all messages
};

std::string encode_batch(const std::vector<Envelope>& batch);
// The receiving node's id is not on the wire (the connection is to it); each
// decoded message gets `to` = receiver. `from` is the connection's peer.
base::Result<std::vector<Envelope>> decode_batch(std::string_view payload, raft::NodeId from,
                                                 raft::NodeId to, const DecodeLimits& limits = {});

// A kSnapshot message split for the wire: the first chunk (offset 0) carries the
// message with its snapshot's metadata but no data, plus the total data size;
// every chunk carries a slice of the data at `offset`. `id` tells apart
// successive snapshots to the same group, so a receiver drops a partial one that
// a newer one replaces.
struct SnapshotChunk {
  GroupId group;
  uint64_t id = 0;
  uint64_t total_bytes = 0;
  uint64_t offset = 0;
  std::string data;
  // Only in the chunk at offset 0: the message (its snapshot->data empty).
  std::shared_ptr<const raft::Message> header;
};

// Splits `m` (a kSnapshot message with a snapshot) into chunks of at most
// chunk_bytes of data each (at least one chunk, even for empty data).
std::vector<SnapshotChunk> split_snapshot(GroupId group, uint64_t id, const raft::Message& m,
                                          uint64_t chunk_bytes);
std::string encode_snapshot_chunk(const SnapshotChunk& c);
base::Result<SnapshotChunk> decode_snapshot_chunk(std::string_view payload, raft::NodeId from,
                                                  raft::NodeId to);

// Reassembles chunks per group into whole kSnapshot messages. Bounds: a snapshot
// larger than max_snapshot_bytes, a chunk that does not continue the one in
// progress (wrong id or offset), or more than max_groups partial snapshots at once
// are kCorruption (the connection is then closed and the sender retries).
class SnapshotAssembler {
 public:
  SnapshotAssembler(uint64_t max_snapshot_bytes, size_t max_groups);
  // The complete message once the last chunk arrived, else nullptr.
  base::Result<std::shared_ptr<raft::Message>> add(SnapshotChunk chunk);
  size_t partial() const;
  ~SnapshotAssembler();

 private:
  struct Partial;
  uint64_t max_snapshot_bytes_;
  size_t max_groups_;
  std::vector<std::unique_ptr<Partial>> partial_;
};

}  // namespace meridian::net
