#include "api/maintenance_service.h"

#include <algorithm>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "api/alarm.h"
#include "api/grpc_errors.h"
#include "api/response_header.h"
#include "api/snapshot_stream.h"

namespace meridian::api {

etcdserverpb::StatusResponse make_status(const EtcdBackend& backend,
                                         const node::NodeStatus& node_status,
                                         const std::string& server_version, int64_t revision,
                                         uint64_t db_bytes) {
  etcdserverpb::StatusResponse resp;
  auto* header = resp.mutable_header();
  header->set_cluster_id(backend.cluster_id);
  header->set_member_id(backend.member_id);
  header->set_revision(revision);
  std::string version = kEtcdApiVersion;
  if (!server_version.empty()) version += "+meridian." + server_version;
  resp.set_version(version);
  resp.set_dbsize(static_cast<int64_t>(db_bytes));
  resp.set_dbsizeinuse(static_cast<int64_t>(db_bytes));
  for (const node::GroupStatus& g : node_status.groups) {
    if (g.group != backend.group) continue;
    header->set_raft_term(g.term.value());
    resp.set_leader(g.leader.value());
    resp.set_raftterm(g.term.value());
    resp.set_raftindex(g.commit.value());
    resp.set_raftappliedindex(g.applied.value());
    const auto& learners = g.conf_state.learners;
    resp.set_islearner(std::find(learners.begin(), learners.end(), node_status.id) !=
                       learners.end());
  }
  return resp;
}

namespace {

// Parses the request into *req, or answers INTERNAL as gRPC does for a message
// that does not decode; false then.
template <class Req>
bool parse(rpc::UnaryCall& call, Req* req) {
  const std::string_view bytes = call.request();
  if (req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
  call.finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
  return false;
}

// The hash at `revision` on the read pool, answered with make(hash).
template <class Make>
void hash_on_pool(const EtcdBackend& backend, ReadPool* pool, std::shared_ptr<rpc::UnaryCall> call,
                  int64_t revision, Make make) {
  const bool queued = pool->submit([backend, call, revision, make] {
    kv::MvccStore::Hash hash;
    const kv::Errc errc = backend.kv->store().hash_kv(revision, &hash);
    if (errc != kv::Errc::kOk) {
      call->finish(kv_status(errc), {});
      return;
    }
    call->finish({}, make(hash).SerializeAsString());
  });
  if (!queued) {
    call->finish({rpc::StatusCode::kResourceExhausted, std::string(kTooManyRequestsMessage)}, {});
  }
}

constexpr std::chrono::milliseconds kMoveLeaderPoll{10};

// What this member's published status says of the group: its leader, and
// whether `member` is one of its voters.
struct GroupView {
  uint64_t leader = 0;
  bool voter = false;
};
GroupView view_of(const EtcdBackend& backend, uint64_t member) {
  GroupView v;
  for (const node::GroupStatus& g : backend.node->status().groups) {
    if (g.group != backend.group) continue;
    v.leader = g.leader.value();
    for (raft::NodeId id : g.conf_state.voters) v.voter = v.voter || id.value() == member;
  }
  return v;
}

// Polls until `target` leads (answered OK) or the deadline passes.
struct MoveLeaderWait : std::enable_shared_from_this<MoveLeaderWait> {
  MoveLeaderWait(boost::asio::io_context& io, EtcdBackend b, std::shared_ptr<rpc::UnaryCall> c,
                 uint64_t t, rpc::Clock::time_point d)
      : timer(io), backend(b), call(std::move(c)), target(t), deadline(d) {}

  void poll() {
    if (view_of(backend, target).leader == target) {
      etcdserverpb::MoveLeaderResponse resp;
      fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
      call->finish({}, resp.SerializeAsString());
      return;
    }
    if (rpc::Clock::now() >= deadline) {
      call->finish({rpc::StatusCode::kUnknown, std::string(kLeaderTransferTimeoutMessage)}, {});
      return;
    }
    timer.expires_after(kMoveLeaderPoll);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->poll();
    });
  }

  boost::asio::steady_timer timer;
  const EtcdBackend backend;
  const std::shared_ptr<rpc::UnaryCall> call;
  const uint64_t target;
  const rpc::Clock::time_point deadline;
};

void move_leader(boost::asio::io_context& io, const EtcdBackend& backend,
                 std::shared_ptr<rpc::UnaryCall> call) {
  etcdserverpb::MoveLeaderRequest req;
  if (!parse(*call, &req)) return;
  const GroupView v = view_of(backend, req.targetid());
  if (v.leader != backend.member_id) {
    call->finish({rpc::StatusCode::kFailedPrecondition, std::string(kNotLeaderMessage)}, {});
    return;
  }
  if (!v.voter) {  // not a member, or a learner
    call->finish({rpc::StatusCode::kFailedPrecondition, std::string(kBadLeaderTransfereeMessage)},
                 {});
    return;
  }
  backend.node->transfer_leader(backend.group, raft::NodeId{req.targetid()});
  const rpc::Clock::time_point deadline =
      std::min(call->deadline(), rpc::Clock::now() + kMoveLeaderWaitMax);
  std::make_shared<MoveLeaderWait>(io, backend, std::move(call), req.targetid(), deadline)->poll();
}

void defragment(const EtcdBackend& backend, Defragmenter* defragmenter,
                std::shared_ptr<rpc::UnaryCall> call) {
  const bool taken = defragmenter->request([backend, call](const base::Status& status) {
    if (status.code() == base::Code::kUnavailable) {
      call->finish(stopped_status(), {});
    } else if (!status.is_ok()) {
      call->finish({rpc::StatusCode::kUnknown, status.message()}, {});
    } else {
      etcdserverpb::DefragmentResponse resp;
      fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
      call->finish({}, resp.SerializeAsString());
    }
  });
  if (!taken) call->finish(stopped_status(), {});
}

}  // namespace

void register_maintenance(rpc::Server& server, const EtcdBackend& backend, MaintenanceParts parts) {
  boost::asio::io_context& io = *parts.io;
  ReadPool* pool = parts.pool;
  server.add_unary("/etcdserverpb.Maintenance/MoveLeader",
                   [&io, backend](std::shared_ptr<rpc::UnaryCall> call) {
                     move_leader(io, backend, std::move(call));
                   });
  server.add_unary(
      "/etcdserverpb.Maintenance/Defragment",
      [backend, defragmenter = parts.defragmenter](std::shared_ptr<rpc::UnaryCall> call) {
        etcdserverpb::DefragmentRequest req;
        if (!parse(*call, &req)) return;
        defragment(backend, defragmenter, std::move(call));
      });
  register_snapshot(server, backend, pool);
  server.add_unary(
      "/etcdserverpb.Maintenance/Alarm",
      [backend](std::shared_ptr<rpc::UnaryCall> call) { serve_alarm(backend, std::move(call)); });
  server.add_unary("/etcdserverpb.Maintenance/Status",
                   [backend, server_version = std::move(parts.server_version)](
                       std::shared_ptr<rpc::UnaryCall> call) {
                     etcdserverpb::StatusRequest req;
                     if (!parse(*call, &req)) return;
                     const kv::MvccStore& store = backend.kv->store();
                     etcdserverpb::StatusResponse resp =
                         make_status(backend, backend.node->status(), server_version,
                                     store.revision(), store.size_bytes());
                     for (std::string& e : alarm_errors(store)) resp.add_errors(std::move(e));
                     call->finish({}, resp.SerializeAsString());
                   });
  server.add_unary("/etcdserverpb.Maintenance/HashKV", [backend, pool](
                                                           std::shared_ptr<rpc::UnaryCall> call) {
    etcdserverpb::HashKVRequest req;
    if (!parse(*call, &req)) return;
    hash_on_pool(backend, pool, call, req.revision(), [backend](const kv::MvccStore::Hash& hash) {
      etcdserverpb::HashKVResponse resp;
      // etcd's header carries the current revision.
      fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
      resp.set_hash(hash.hash);
      resp.set_compact_revision(hash.compact_revision);
      return resp;
    });
  });
  server.add_unary(
      "/etcdserverpb.Maintenance/Hash", [backend, pool](std::shared_ptr<rpc::UnaryCall> call) {
        etcdserverpb::HashRequest req;
        if (!parse(*call, &req)) return;
        hash_on_pool(backend, pool, call, 0, [backend](const kv::MvccStore::Hash& hash) {
          etcdserverpb::HashResponse resp;
          fill_header(resp.mutable_header(), backend, hash.revision);
          resp.set_hash(hash.hash);
          return resp;
        });
      });
}

}  // namespace meridian::api
