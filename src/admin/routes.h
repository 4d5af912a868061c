// The admin endpoint's routes over a running node:
//   GET  /metrics          Prometheus text (every family in the registry)
//   GET  /health           200 "ok" while the process serves (and its storage
//                          has not failed), else 503 with the reason
//   GET  /ready            200 when the node is a member of every group with a
//                          known leader and caught up (Node::ready), else 503
//   GET  /v1/status        JSON: node id, cluster id, and per group: members,
//                          leader, term, role, commit, applied, first/last index,
//                          snapshot index, match indexes (leader)
//   PUT  /v1/kv/<key>      body = value: replicated put through group 1 (or
//                          ?group=N); 200 {"index":N} once applied here, 503
//                          with the error (not leader: names the leader; timeout)
//   DELETE /v1/kv/<key>    likewise
//   GET  /v1/kv/<key>      linearizable read (ReadIndex); ?serializable=1 reads
//                          the local state; 200 with the value, 404 if absent
//   POST /v1/transfer-leader?to=N[&group=G]  asks the leader to hand over
//                          (202 {"group":G,"to":N}: asked, not done; watch
//                          /v1/status)
// The /v1/kv routes work on the group's etcd store (a put or delete of one key;
// the answer adds the store's "revision") or on a plain replicated map
// (admin/kv_commands.h): a quick way to exercise any group with curl; the etcd
// API (port 2379) is the real interface. A store's error (etcd's message) is 400.
// Errors are JSON {"error": message, "code": code name}: 503 for not leader,
// proposal dropped, unavailable (timeout, stopping) and no space; 400 for a bad
// request (empty or badly encoded key, bad group); 404 for an unknown group.
//
// Metrics: install_routes also registers a collector publishing, from
// Node::status() at each scrape, per group (label group="N"): meridian_raft_term,
// _is_leader, _role (0 follower, 1 pre-candidate, 2 candidate, 3 leader),
// _leader_id, _commit_index, _applied_index, _apply_lag, _last_index,
// _snapshot_index, _pending_proposals, _pending_reads (gauges) and
// _leader_changes_total, _proposals_committed_total, _proposals_failed_total,
// _snapshots_sent_total, _snapshots_received_total, _snapshots_taken_total
// (counters); per node: meridian_node_journal_bytes, _journal_syncs_total,
// _raft_queue_depth, _commit_queue_depth, _storage_failed, _no_space and
// meridian_process_resident_memory_bytes. The collector is removed when the
// server's routes are destroyed (with the server): `node` and `registry` must
// outlive the server.
#pragma once

#include "admin/http_server.h"
#include "node/node.h"
#include "observe/metrics.h"

namespace meridian::admin {

void install_routes(HttpServer* server, node::Node* node, observe::Registry* registry);

}  // namespace meridian::admin
