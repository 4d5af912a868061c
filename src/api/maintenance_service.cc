#include "api/maintenance_service.h"

#include <algorithm>

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

void register_maintenance(rpc::Server& server, const EtcdBackend& backend,
                          std::string server_version) {
  server.add_unary(
      "/etcdserverpb.Maintenance/Status",
      [backend, server_version = std::move(server_version)](std::shared_ptr<rpc::UnaryCall> call) {
        etcdserverpb::StatusRequest req;
        const std::string_view bytes = call->request();
        if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          call->finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
          return;
        }
        const kv::MvccStore& store = backend.kv->store();
        const etcdserverpb::StatusResponse resp = make_status(
            backend, backend.node->status(), server_version, store.revision(), store.size_bytes());
        call->finish({}, resp.SerializeAsString());
      });
}

}  // namespace meridian::api
