#include "kv/kv_state_machine.h"

#include "base/assert.h"
#include "kv/command.h"
#include "kv/lease_codec.h"

namespace meridian::kv {

namespace {

// Parses the request, applies it with `apply`, and encodes the result; a request
// that does not parse is kCorrupt (recorded as applied: the log has it everywhere).
template <class Request, class Response, class Apply>
std::string apply_request(MvccStore& store, raft::Index index, std::string_view bytes,
                          Apply&& apply) {
  Request req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    store.mark_applied(index);
    return encode_result(Errc::kCorrupt, "");
  }
  Response resp;
  const Errc e = apply(req, &resp);
  if (e != Errc::kOk) return encode_result(e, "");
  std::string out;
  out.reserve(1 + resp.ByteSizeLong());
  out.push_back(static_cast<char>(Errc::kOk));
  MERIDIAN_ASSERT(resp.AppendToString(&out), "serializing a response");
  return out;
}

std::string apply_renew(MvccStore& store, raft::Index index, std::string_view payload) {
  std::vector<int64_t> ids;
  if (!decode_i64_list(payload, &ids)) {
    store.mark_applied(index);
    return encode_result(Errc::kCorrupt, "");
  }
  std::vector<int64_t> ttls;
  store.lease_renew(index, ids, &ttls);
  return encode_result(Errc::kOk, encode_i64_list(ttls));
}

std::string apply_expire(MvccStore& store, raft::Index index, std::string_view payload) {
  LeaseExpiry expiry;
  if (!decode_lease_expiry(payload, &expiry)) {
    store.mark_applied(index);
    return encode_result(Errc::kCorrupt, "");
  }
  etcdpb::LeaseRevokeResponse resp;
  store.lease_expire(index, expiry, &resp);
  return encode_result(Errc::kOk, resp.SerializeAsString());
}

}  // namespace

KvStateMachine::KvStateMachine(std::unique_ptr<MvccStore> store) : store_(std::move(store)) {
  MERIDIAN_ASSERT(store_ != nullptr, "KvStateMachine without a store");
}

KvStateMachine::~KvStateMachine() = default;

std::string KvStateMachine::apply(raft::Index index, std::string_view command) {
  const std::optional<Command> cmd = decode_command(command);
  if (!cmd) {
    store_->mark_applied(index);
    return encode_result(Errc::kCorrupt, "");
  }
  MvccStore& s = *store_;
  switch (cmd->type) {
    case CommandType::kPut:
      return apply_request<etcdpb::PutRequest, etcdpb::PutResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.put(index, req, resp); });
    case CommandType::kDeleteRange:
      return apply_request<etcdpb::DeleteRangeRequest, etcdpb::DeleteRangeResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.delete_range(index, req, resp); });
    case CommandType::kTxn:
      return apply_request<etcdpb::TxnRequest, etcdpb::TxnResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.txn(index, req, resp); });
    case CommandType::kCompact:
      return apply_request<etcdpb::CompactionRequest, etcdpb::CompactionResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.compact(index, req, resp); });
    case CommandType::kLeaseGrant:
      return apply_request<etcdpb::LeaseGrantRequest, etcdpb::LeaseGrantResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.lease_grant(index, req, resp); });
    case CommandType::kLeaseRevoke:
      return apply_request<etcdpb::LeaseRevokeRequest, etcdpb::LeaseRevokeResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.lease_revoke(index, req, resp); });
    case CommandType::kLeaseRenew:
      return apply_renew(s, index, cmd->request);
    case CommandType::kLeaseExpire:
      return apply_expire(s, index, cmd->request);
    case CommandType::kAlarm:
      return apply_request<etcdpb::AlarmRequest, etcdpb::AlarmResponse>(
          s, index, cmd->request,
          [&](const auto& req, auto* resp) { return s.alarm(index, req, resp); });
    case CommandType::kMemberAttributes: {
      etcdpb::Member member;
      if (!member.ParseFromArray(cmd->request.data(), static_cast<int>(cmd->request.size()))) {
        s.mark_applied(index);
        return encode_result(Errc::kCorrupt, "");
      }
      const Errc e = s.put_member(index, member);
      members_changed();
      return encode_result(e, "");
    }
    case CommandType::kMemberPeerUrls: {
      etcdpb::MemberUpdateRequest req;
      if (!req.ParseFromArray(cmd->request.data(), static_cast<int>(cmd->request.size()))) {
        s.mark_applied(index);
        return encode_result(Errc::kCorrupt, "");
      }
      const Errc e = s.set_member_peer_urls(index, req.id(), req.peerurls());
      members_changed();
      return encode_result(e, "");
    }
  }
  store_->mark_applied(index);
  return encode_result(Errc::kCorrupt, "");
}

std::string KvStateMachine::snapshot() const { return store_->snapshot(); }

void KvStateMachine::apply_membership(raft::Index index, const raft::ConfChangeSingle& change,
                                      std::string_view context) {
  const uint64_t id = change.node.value();
  etcdpb::Member member;
  if (change.type == raft::ConfChangeType::kRemoveNode) {
    store_->remove_member(index, id);
  } else if (!context.empty() &&
             member.ParseFromArray(context.data(), static_cast<int>(context.size())) &&
             member.id() == id) {
    store_->add_member(index, member);
  } else {
    store_->mark_applied(index);  // a promotion (no context): the record stays
    return;
  }
  members_changed();
}

void KvStateMachine::set_members_observer(std::function<void()> observer) {
  std::lock_guard lock(observer_mu_);
  members_observer_ = std::move(observer);
}

void KvStateMachine::members_changed() {
  // Called under the lock, so that once set_members_observer(nullptr) returns
  // the old observer is not running and never runs again.
  std::lock_guard lock(observer_mu_);
  if (members_observer_) members_observer_();
}

base::Status KvStateMachine::restore(std::string_view data) {
  base::Status s = store_->restore(data);
  members_changed();
  return s;
}

std::unique_ptr<base::ByteSource> KvStateMachine::image() const { return store_->image(); }

base::Status KvStateMachine::restore_from(base::ByteSource& source) {
  base::Status s = store_->restore_from(source);
  members_changed();
  return s;
}

raft::Index KvStateMachine::durable_applied_index() const {
  // A store a failed restore left incomplete holds no entry (its in-memory
  // applied index is 0 as well; this says why).
  if (store_->restoring()) return raft::Index{0};
  return store_->applied_index();
}

base::Status KvStateMachine::sync(raft::Index applied) { return store_->sync(applied); }

}  // namespace meridian::kv
