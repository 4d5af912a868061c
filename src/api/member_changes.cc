#include "api/member_changes.h"

#include <algorithm>
#include <memory>
#include <set>

#include <google/protobuf/unknown_field_set.h>

#include "api/cluster_service.h"
#include "api/grpc_errors.h"
#include "api/peer_directory.h"
#include "api/response_header.h"
#include "base/strings.h"
#include "kv/command.h"
#include "observe/log.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;
using base::cat;
using base::Status;

uint64_t next_member_id(const raft::ConfState& conf, const std::vector<pb::Member>& records,
                        const std::map<uint64_t, std::string>& initial_peer_urls) {
  uint64_t top = 0;
  for (const auto* ids :
       {&conf.voters, &conf.voters_outgoing, &conf.learners, &conf.learners_next}) {
    for (raft::NodeId id : *ids) top = std::max(top, id.value());
  }
  for (const pb::Member& m : records) top = std::max(top, m.id());
  for (const auto& [id, url] : initial_peer_urls) top = std::max(top, id);
  return top + 1;
}

bool wants_auto_promote(const google::protobuf::Message& m) {
  const google::protobuf::UnknownFieldSet& fields = m.GetReflection()->GetUnknownFields(m);
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& f = fields.field(i);
    if (f.number() == kAutoPromoteField &&
        f.type() == google::protobuf::UnknownField::TYPE_VARINT && f.varint() != 0) {
      return true;
    }
  }
  return false;
}

void set_auto_promote(google::protobuf::Message* m) {
  if (!wants_auto_promote(*m)) {
    m->GetReflection()->MutableUnknownFields(m)->AddVarint(kAutoPromoteField, 1);
  }
}

bool keeps_quorum(const raft::ConfState& conf, const std::set<raft::NodeId>& active,
                  raft::NodeId self, raft::ConfChangeType type, raft::NodeId node) {
  std::set<raft::NodeId> voters(conf.voters.begin(), conf.voters.end());
  switch (type) {
    case raft::ConfChangeType::kAddLearner:
      return true;
    case raft::ConfChangeType::kAddVoter:
      voters.insert(node);
      break;
    case raft::ConfChangeType::kRemoveNode:
      voters.erase(node);
      break;
  }
  size_t up = 0;
  for (raft::NodeId v : voters) up += (v == self || active.contains(v)) ? 1 : 0;
  return up >= voters.size() / 2 + 1;
}

bool learner_caught_up(uint64_t match, uint64_t leader_last) {
  return match * 10 >= leader_last * 9;
}

namespace {

struct Chain : std::enable_shared_from_this<Chain> {
  node::Node* node = nullptr;
  std::vector<GroupId> groups;
  size_t next = 0;
  node::MembershipChange change;
  std::function<void(Status)> done;

  void step() {
    if (next == groups.size()) {
      done(Status::ok());
      return;
    }
    const GroupId g = groups[next++];
    node::MembershipChange c = change;
    if (next > 1) c.context.clear();  // the record is the coordination group's
    node->propose_membership(g, std::move(c), [self = shared_from_this(), g](auto r) {
      if (!r.is_ok()) {
        self->done(self->groups.size() == 1
                       ? r.status()
                       : Status(r.status().code(), cat("group ", g, ": ", r.status().message())));
        return;
      }
      self->step();
    });
  }
};

// The coordination group's configuration as this member last published it.
raft::ConfState conf_of(const EtcdBackend& backend, node::GroupStatus* out = nullptr) {
  for (const node::GroupStatus& g : backend.node->status().groups) {
    if (g.group != backend.group) continue;
    if (out != nullptr) *out = g;
    return g.conf_state;
  }
  return {};
}

// The peer URLs members use now (their records', else the initial ones).
std::map<std::string, uint64_t> urls_in_use(const raft::ConfState& conf,
                                            const std::vector<pb::Member>& records,
                                            const std::map<uint64_t, std::string>& initial) {
  std::map<std::string, uint64_t> out;
  for (const auto* ids :
       {&conf.voters, &conf.voters_outgoing, &conf.learners, &conf.learners_next}) {
    for (raft::NodeId id : *ids) {
      auto r = std::find_if(records.begin(), records.end(),
                            [&](const pb::Member& m) { return m.id() == id.value(); });
      if (r != records.end() && r->peerurls_size() > 0) {
        for (const std::string& u : r->peerurls()) out[u] = id.value();
      } else if (auto it = initial.find(id.value()); it != initial.end()) {
        out[it->second] = id.value();
      }
    }
  }
  return out;
}

// Why a URL list cannot be a member's: empty, or a URL that is not http(s)://host:port.
bool urls_valid(const google::protobuf::RepeatedPtrField<std::string>& urls) {
  if (urls.empty()) return false;
  return std::all_of(urls.begin(), urls.end(),
                     [](const std::string& u) { return peer_address(u).has_value(); });
}

rpc::Status membership_error(const Status& s) {
  if (s.code() == base::Code::kFailedPrecondition) {
    if (s.message().find("already") != std::string::npos &&
        s.message().find("in progress") == std::string::npos) {
      return {rpc::StatusCode::kFailedPrecondition, std::string(kMemberExistsMessage)};
    }
    if (s.message().find("is not a member") != std::string::npos) {
      return {rpc::StatusCode::kNotFound, std::string(kMemberNotFoundMessage)};
    }
    return {rpc::StatusCode::kFailedPrecondition, cat("etcdserver: ", s.message())};
  }
  if (s.code() == base::Code::kInvalidArgument) {
    return {rpc::StatusCode::kInvalidArgument, cat("etcdserver: ", s.message())};
  }
  return node_status(s);
}

// Refuses, as etcd's strict reconfiguration check does, a change after which
// the voters known to be up would not be a quorum: on the leader, those it
// heard from within the last election timeout; on a follower, as etcd's
// members judge, those its transport is connected to.
bool refuse_if_unhealthy(const EtcdBackend& backend, const node::GroupStatus& st,
                         raft::ConfChangeType type, raft::NodeId node,
                         const std::shared_ptr<rpc::UnaryCall>& call) {
  const std::set<raft::NodeId> active =
      st.role == raft::Role::kLeader ? st.recently_active : backend.node->status().connected_peers;
  if (keeps_quorum(st.conf_state, active, raft::NodeId{backend.member_id}, type, node)) {
    return false;
  }
  call->finish({rpc::StatusCode::kUnavailable, std::string(kUnhealthyMessage)}, {});
  return true;
}

template <class Request>
bool parse(const std::shared_ptr<rpc::UnaryCall>& call, Request* req) {
  const std::string_view bytes = call->request();
  if (req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
  call->finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
  return false;
}

void erase_id(std::vector<raft::NodeId>* ids, raft::NodeId id) {
  ids->erase(std::remove(ids->begin(), ids->end(), id), ids->end());
}

void insert_id(std::vector<raft::NodeId>* ids, raft::NodeId id) {
  ids->insert(std::upper_bound(ids->begin(), ids->end(), id), id);
}

using Peers = std::shared_ptr<const std::map<uint64_t, std::string>>;

// Answers with `resp`, its members those of `conf` with their records. The
// change was applied on this member before, so its records include it.
template <class Response>
void answer_with_members(const EtcdBackend& backend, const Peers& peers,
                         const std::shared_ptr<rpc::UnaryCall>& call, const raft::ConfState& conf,
                         Response resp) {
  *resp.mutable_members() = make_member_list(conf, backend.kv->store().members(), *peers).members();
  fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
  call->finish({}, resp.SerializeAsString());
}

void member_add(const EtcdBackend& backend, const Peers& peers,
                const std::shared_ptr<rpc::UnaryCall>& call) {
  pb::MemberAddRequest req;
  if (!parse(call, &req)) return;
  if (!urls_valid(req.peerurls())) {
    call->finish({rpc::StatusCode::kInvalidArgument, std::string(kBadUrlsMessage)}, {});
    return;
  }
  node::GroupStatus st;
  raft::ConfState conf = conf_of(backend, &st);
  const std::vector<pb::Member> records = backend.kv->store().members();
  const std::map<std::string, uint64_t> in_use = urls_in_use(conf, records, *peers);
  for (const std::string& u : req.peerurls()) {
    if (in_use.contains(u)) {
      call->finish({rpc::StatusCode::kFailedPrecondition, std::string(kPeerUrlExistsMessage)}, {});
      return;
    }
  }
  const uint64_t new_id = next_member_id(conf, records, *peers);
  const auto type =
      req.islearner() ? raft::ConfChangeType::kAddLearner : raft::ConfChangeType::kAddVoter;
  if (refuse_if_unhealthy(backend, st, type, raft::NodeId{new_id}, call)) return;
  pb::Member added;
  added.set_id(new_id);
  *added.mutable_peerurls() = req.peerurls();
  if (req.islearner() && wants_auto_promote(req)) set_auto_promote(&added);
  const raft::NodeId id{added.id()};
  node::MembershipChange change{type, id, added.SerializeAsString()};
  added.set_islearner(req.islearner());
  observe::log_info("MemberAdd: adding member {} ({}) at {}", id,
                    req.islearner() ? "learner" : "voter", req.peerurls(0));
  change_every_group(backend.node, backend.group, std::move(change),
                     [backend, peers, call, conf, added, id](Status s) mutable {
                       if (!s.is_ok()) {
                         call->finish(membership_error(s), {});
                         return;
                       }
                       insert_id(added.islearner() ? &conf.learners : &conf.voters, id);
                       pb::MemberAddResponse resp;
                       *resp.mutable_member() = added;
                       answer_with_members(backend, peers, call, conf, std::move(resp));
                     });
}

void member_remove(const EtcdBackend& backend, const Peers& peers,
                   const std::shared_ptr<rpc::UnaryCall>& call) {
  pb::MemberRemoveRequest req;
  if (!parse(call, &req)) return;
  const raft::NodeId id{req.id()};
  node::GroupStatus st;
  raft::ConfState conf = conf_of(backend, &st);
  if (!node::is_member(conf, id)) {
    call->finish({rpc::StatusCode::kNotFound, std::string(kMemberNotFoundMessage)}, {});
    return;
  }
  if (refuse_if_unhealthy(backend, st, raft::ConfChangeType::kRemoveNode, id, call)) return;
  observe::log_info("MemberRemove: removing member {}", id);
  change_every_group(backend.node, backend.group, {raft::ConfChangeType::kRemoveNode, id, ""},
                     [backend, peers, call, conf, id](Status s) mutable {
                       if (!s.is_ok()) {
                         call->finish(membership_error(s), {});
                         return;
                       }
                       for (auto* ids : {&conf.voters, &conf.learners}) erase_id(ids, id);
                       answer_with_members(backend, peers, call, conf, pb::MemberRemoveResponse());
                     });
}

void member_promote(const EtcdBackend& backend, const Peers& peers,
                    const std::shared_ptr<rpc::UnaryCall>& call) {
  pb::MemberPromoteRequest req;
  if (!parse(call, &req)) return;
  const raft::NodeId id{req.id()};
  node::GroupStatus st;
  raft::ConfState conf = conf_of(backend, &st);
  if (!node::is_member(conf, id)) {
    call->finish({rpc::StatusCode::kNotFound, std::string(kMemberNotFoundMessage)}, {});
    return;
  }
  if (!node::is_learner(conf, id)) {
    call->finish({rpc::StatusCode::kFailedPrecondition, std::string(kNotLearnerMessage)}, {});
    return;
  }
  if (st.role == raft::Role::kLeader) {
    auto match = st.match.find(id);
    const uint64_t m = match == st.match.end() ? 0 : match->second.value();
    if (!learner_caught_up(m, st.last_index.value())) {
      call->finish({rpc::StatusCode::kFailedPrecondition, std::string(kLearnerNotReadyMessage)},
                   {});
      return;
    }
  }
  if (refuse_if_unhealthy(backend, st, raft::ConfChangeType::kAddVoter, id, call)) return;
  observe::log_info("MemberPromote: promoting learner {}", id);
  change_every_group(backend.node, backend.group, {raft::ConfChangeType::kAddVoter, id, ""},
                     [backend, peers, call, conf, id](Status s) mutable {
                       if (!s.is_ok()) {
                         call->finish(membership_error(s), {});
                         return;
                       }
                       erase_id(&conf.learners, id);
                       insert_id(&conf.voters, id);
                       answer_with_members(backend, peers, call, conf, pb::MemberPromoteResponse());
                     });
}

void member_update(const EtcdBackend& backend, const Peers& peers,
                   const std::shared_ptr<rpc::UnaryCall>& call) {
  pb::MemberUpdateRequest req;
  if (!parse(call, &req)) return;
  const raft::ConfState conf = conf_of(backend);
  if (!node::is_member(conf, raft::NodeId{req.id()})) {
    call->finish({rpc::StatusCode::kNotFound, std::string(kMemberNotFoundMessage)}, {});
    return;
  }
  if (!urls_valid(req.peerurls())) {
    call->finish({rpc::StatusCode::kInvalidArgument, std::string(kBadUrlsMessage)}, {});
    return;
  }
  const auto in_use = urls_in_use(conf, backend.kv->store().members(), *peers);
  for (const std::string& u : req.peerurls()) {
    auto it = in_use.find(u);
    if (it != in_use.end() && it->second != req.id()) {
      call->finish({rpc::StatusCode::kFailedPrecondition, std::string(kPeerUrlExistsMessage)}, {});
      return;
    }
  }
  observe::log_info("MemberUpdate: member {} now at {}", req.id(), req.peerurls(0));
  backend.node->propose(
      backend.group, kv::encode_command(kv::CommandType::kMemberPeerUrls, req.SerializeAsString()),
      [backend, peers, call, conf](base::Result<node::ProposeResult> r) {
        if (!r.is_ok()) {
          call->finish(node_status(r.status()), {});
          return;
        }
        answer_with_members(backend, peers, call, conf, pb::MemberUpdateResponse());
      });
}

}  // namespace

void change_every_group(node::Node* node, GroupId first, node::MembershipChange change,
                        std::function<void(Status)> done) {
  auto chain = std::make_shared<Chain>();
  chain->node = node;
  chain->groups.push_back(first);
  for (const node::GroupStatus& g : node->status().groups) {
    if (g.group != first) chain->groups.push_back(g.group);
  }
  chain->change = std::move(change);
  chain->done = std::move(done);
  chain->step();
}

void register_member_changes(rpc::Server& server, const EtcdBackend& backend,
                             std::map<uint64_t, std::string> initial_peer_urls) {
  auto peers =
      std::make_shared<const std::map<uint64_t, std::string>>(std::move(initial_peer_urls));
  server.add_unary("/etcdserverpb.Cluster/MemberAdd",
                   [backend, peers](auto call) { member_add(backend, peers, call); });
  server.add_unary("/etcdserverpb.Cluster/MemberRemove",
                   [backend, peers](auto call) { member_remove(backend, peers, call); });
  server.add_unary("/etcdserverpb.Cluster/MemberPromote",
                   [backend, peers](auto call) { member_promote(backend, peers, call); });
  server.add_unary("/etcdserverpb.Cluster/MemberUpdate",
                   [backend, peers](auto call) { member_update(backend, peers, call); });
}

}  // namespace meridian::api
