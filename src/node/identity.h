// The identity file in a node's data directory ("meridian.id"): which cluster
// and which node the data belongs to. Written once, durably, after the node
// bootstrapped its groups; checked at every start so that a data directory is
// never served under another cluster token or node id (which would let a node
// vote twice or mix two clusters' logs).
//
// Format: text lines "format 1", "cluster <id>", "node <id>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "raft/types.h"
#include "storage/file_system.h"

namespace meridian::node {

struct Identity {
  uint64_t cluster_id = 0;
  raft::NodeId node;
  bool operator==(const Identity&) const = default;
};

// nullopt if the directory has no identity file yet; kCorruption if it is unreadable.
base::Result<std::optional<Identity>> read_identity(storage::FileSystem* fs,
                                                    const std::string& dir);
// Writes it durably (temporary file, sync, rename, directory sync).
base::Status write_identity(storage::FileSystem* fs, const std::string& dir, const Identity& id);

}  // namespace meridian::node
