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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_source.h"
#include "base/ids.h"
#include "base/status.h"
#include "raft/types.h"

namespace meridian::net {

inline constexpr uint32_t kHelloMagic = 0x4e44524d;  // "MRDN" little endian
inline constexpr uint16_t kProtocolVersion = 2;

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

// A refusal whose reason starts with this tells the dialer that the listener
// removed it from the cluster (it may not have applied its own removal).
inline constexpr std::string_view kRemovedReasonPrefix = "removed: ";

std::string encode_hello(const Hello& h);
base::Result<Hello> decode_hello(std::string_view payload);
std::string encode_hello_ack(const HelloAck& a);
base::Result<HelloAck> decode_hello_ack(std::string_view payload);

// Where a received snapshot's data went, when the receiver stores it as it
// arrives (SnapshotSink) instead of gathering it in memory. Dropping it
// discards the data.
class ReceivedSnapshot {
 public:
  virtual ~ReceivedSnapshot() = default;
  // Makes the data the group's durable snapshot at its index (the node's
  // snapshot store), for when Raft takes the snapshot. Called at most once.
  virtual base::Status keep() = 0;
};

// Writes one snapshot's data as its chunks arrive.
class SnapshotSpool {
 public:
  virtual ~SnapshotSpool() = default;  // without finish(): discards what was written
  virtual base::Status append(std::string_view data) = 0;
  // All the data arrived: completes it (durable, not yet kept).
  virtual base::Result<std::shared_ptr<ReceivedSnapshot>> finish() = 0;
};

class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual base::Result<std::unique_ptr<SnapshotSpool>> begin(GroupId group,
                                                             const raft::SnapshotMeta& meta) = 0;
};

// One Raft message for one group. kSnapshot messages never travel in a batch
// (they go as snapshot chunks); encode_batch asserts that. A kSnapshot's data is
// in message.snapshot->data unless one of the two fields below says otherwise.
struct Envelope {
  Envelope() = default;
  Envelope(GroupId g, raft::Message m, std::shared_ptr<base::ByteSource> i = nullptr)
      : group(g), message(std::move(m)), image(std::move(i)) {}

  GroupId group;
  raft::Message message;
  // Sending: the data, read a chunk at a time as the chunks go out (a state
  // too large to hold in memory).
  std::shared_ptr<base::ByteSource> image;
  // Received through a SnapshotSink: the stored data (message.snapshot->data empty).
  std::shared_ptr<ReceivedSnapshot> received;
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
// message with its snapshot's metadata but no data; every chunk carries the
// slice of the data at `offset`, and the last one says so. `id` tells apart
// successive snapshots to the same group, so a receiver drops a partial one that
// a newer one replaces.
struct SnapshotChunk {
  GroupId group;
  uint64_t id = 0;
  uint64_t offset = 0;
  bool last = false;
  std::string data;
  // Only in the chunk at offset 0: the message (its snapshot->data empty).
  std::shared_ptr<const raft::Message> header;
};

// Cuts a kSnapshot envelope into chunks as they are sent: the data is read from
// the envelope's image (or the message's own data) one chunk ahead, so about two
// chunks are in memory whatever the snapshot's size.
class SnapshotSplitter {
 public:
  SnapshotSplitter(GroupId group, uint64_t id, const Envelope& e, uint64_t chunk_bytes);
  // The next chunk (at least one, even for empty data); an error from the
  // image ends the snapshot. Not to be called after the last chunk.
  base::Result<SnapshotChunk> next();
  bool done() const { return done_; }

 private:
  GroupId group_;
  uint64_t id_;
  uint64_t chunk_bytes_;
  std::shared_ptr<const raft::Message> header_;
  std::shared_ptr<base::ByteSource> source_;
  std::string ahead_;  // the data after the chunk handed out last
  bool started_ = false;
  bool done_ = false;
  uint64_t offset_ = 0;
};

std::string encode_snapshot_chunk(const SnapshotChunk& c);
base::Result<SnapshotChunk> decode_snapshot_chunk(std::string_view payload, raft::NodeId from,
                                                  raft::NodeId to);

// Reassembles chunks per group into whole kSnapshot messages: through `sink`
// (the data written as it arrives, the envelope's `received` set) or, without
// one, in memory (the data in the message). Bounds: a snapshot larger than
// max_snapshot_bytes, a chunk that does not continue the one in progress (wrong
// id or offset), or more than max_groups partial snapshots at once are
// kCorruption (the connection is then closed and the sender retries); so is a
// sink's failure to store a chunk.
class SnapshotAssembler {
 public:
  SnapshotAssembler(uint64_t max_snapshot_bytes, size_t max_groups, SnapshotSink* sink = nullptr);
  // The complete snapshot once its last chunk arrived, else nullopt.
  base::Result<std::optional<Envelope>> add(SnapshotChunk chunk);
  size_t partial() const;
  ~SnapshotAssembler();

 private:
  struct Partial;
  uint64_t max_snapshot_bytes_;
  size_t max_groups_;
  SnapshotSink* sink_;
  std::vector<std::unique_ptr<Partial>> partial_;
};

}  // namespace meridian::net
