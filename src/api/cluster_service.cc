#include "api/cluster_service.h"

#include <algorithm>
#include <memory>
#include <set>

#include "api/grpc_errors.h"
#include "api/response_header.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;

pb::MemberListResponse make_member_list(const raft::ConfState& conf,
                                        const std::vector<pb::Member>& records,
                                        const std::map<uint64_t, std::string>& initial_peer_urls) {
  std::set<uint64_t> voters;
  std::set<uint64_t> learners;
  for (const auto* ids : {&conf.voters, &conf.voters_outgoing}) {
    for (raft::NodeId id : *ids) voters.insert(id.value());
  }
  for (const auto* ids : {&conf.learners, &conf.learners_next}) {
    for (raft::NodeId id : *ids) learners.insert(id.value());
  }
  std::set<uint64_t> all = voters;
  all.insert(learners.begin(), learners.end());
  pb::MemberListResponse resp;
  for (uint64_t id : all) {
    pb::Member* m = resp.add_members();
    auto record = std::find_if(records.begin(), records.end(),
                               [id](const pb::Member& r) { return r.id() == id; });
    if (record != records.end()) {
      *m = *record;
    } else {
      m->set_id(id);
      if (auto it = initial_peer_urls.find(id); it != initial_peer_urls.end()) {
        m->add_peerurls(it->second);
      }
    }
    // A voter in either half of a joint configuration is not a learner.
    m->set_islearner(learners.contains(id) && !voters.contains(id));
  }
  return resp;
}

void register_cluster(rpc::Server& server, const EtcdBackend& backend,
                      std::map<uint64_t, std::string> initial_peer_urls) {
  auto peers =
      std::make_shared<const std::map<uint64_t, std::string>>(std::move(initial_peer_urls));
  server.add_unary(
      "/etcdserverpb.Cluster/MemberList", [backend, peers](std::shared_ptr<rpc::UnaryCall> call) {
        pb::MemberListRequest req;
        const std::string_view bytes = call->request();
        if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          call->finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
          return;
        }
        // Linearizable: a member added or removed through any member before
        // this call is listed (or not) accordingly.
        backend.node->read_membership(
            backend.group, [backend, peers, call](base::Result<raft::ConfState> conf) {
              if (!conf.is_ok()) {
                call->finish(node_status(conf.status()), {});
                return;
              }
              pb::MemberListResponse resp =
                  make_member_list(conf.value(), backend.kv->store().members(), *peers);
              fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
              call->finish({}, resp.SerializeAsString());
            });
      });
}

}  // namespace meridian::api
