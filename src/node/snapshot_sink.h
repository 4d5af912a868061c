// StoreSnapshotSink: where the peer transport writes a snapshot a leader sends
// this node, chunk by chunk as it arrives, so that an image of any size costs
// disk, not memory. The data goes into a snapshot store file at the snapshot's
// index, sealed (complete and synced) but not published; the group publishes
// it (ReceivedSnapshot::keep) when Raft takes the snapshot, and a snapshot Raft
// ignores (stale, or replaced by a newer one) is removed when dropped.
//
// Threads: the transport's (begin, append, finish) and the raft thread (keep);
// each object is used by one thread at a time. The store is thread-safe.
#pragma once

#include "net/wire.h"
#include "storage/snapshot_store.h"

namespace meridian::node {

class StoreSnapshotSink final : public net::SnapshotSink {
 public:
  explicit StoreSnapshotSink(storage::SnapshotStore* store) : store_(store) {}
  base::Result<std::unique_ptr<net::SnapshotSpool>> begin(GroupId group,
                                                          const raft::SnapshotMeta& meta) override;

 private:
  storage::SnapshotStore* store_;
};

}  // namespace meridian::node
