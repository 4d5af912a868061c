// NodeOptions: everything a node needs to run, filled by `meridian start` from its
// TOML file, environment and flags (cmd/options.h documents each setting).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/ids.h"
#include "base/status.h"
#include "net/transport.h"
#include "node/state_machine.h"
#include "raft/types.h"

namespace meridian::node {

struct NodeOptions {
  raft::NodeId id;
  // Members a new cluster starts with: id -> "host:port" of the peer port.
  std::map<raft::NodeId, std::string> initial_cluster;
  // Join a running cluster (etcd's --initial-cluster-state existing) instead of
  // starting a new one: the groups start empty, and this node waits for the
  // leader to send it the state (it must have been added, MemberAdd, first).
  // initial_cluster then names the running members, to reach them.
  bool join_existing = false;
  // Names the cluster; nodes whose tokens differ refuse each other.
  std::string cluster_token = "meridian";
  std::string data_dir;

  std::string listen_peer_host = "127.0.0.1";
  uint16_t listen_peer_port = 2380;  // 0: any free port (tests)
  std::optional<net::TlsOptions> peer_tls;

  // Raft groups hosted by every member (group ids 1..groups).
  uint32_t groups = 1;
  uint32_t tick_ms = 100;
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  // A group snapshots its state machine and compacts its log every this many
  // applied entries, keeping snapshot_catchup_entries below the snapshot so that
  // a follower a little behind catches up from the log, not by snapshot.
  uint64_t snapshot_entries = 10000;
  uint64_t snapshot_catchup_entries = 5000;
  // The same bounds in bytes of entry data, whichever comes first: with large
  // values (a 1 MiB etcd transaction) the entry counts alone let the log hold
  // gigabytes beside the state machine.
  uint64_t snapshot_bytes = 256ull << 20;
  uint64_t snapshot_catchup_bytes = 64ull << 20;
  uint32_t proposal_timeout_ms = 5000;
  // On graceful stop, how long to wait for leadership to move away.
  uint32_t shutdown_transfer_timeout_ms = 5000;

  uint32_t max_frame_bytes = 64u << 20;
  uint64_t peer_queue_bytes_max = 64ull << 20;
  uint64_t journal_segment_bytes = 64ull << 20;

  // Makes the state machine of a group (default: MapStateMachine).
  std::function<std::unique_ptr<StateMachine>(GroupId)> state_machine_factory;
};

// A stable 64-bit id for a cluster token (the handshake compares these).
uint64_t cluster_id_for_token(std::string_view token);

// Parses "1=127.0.0.1:2380,2=127.0.0.1:22380" (kInvalidArgument naming the bad part).
base::Result<std::map<raft::NodeId, std::string>> parse_initial_cluster(std::string_view s);
// Splits "host:port" (kInvalidArgument if malformed).
base::Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s);

base::Status validate(const NodeOptions& options);

}  // namespace meridian::node
