#include "api/concurrency_testing.h"

#include <gtest/gtest.h>

#include "base/strings.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;
namespace epb = ::v3electionpb;
namespace lockpb = ::v3lockpb;

void set_timeout(grpc::ClientContext* ctx, std::chrono::milliseconds timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

CoordinationClient::CoordinationClient(EtcdTestCluster& cluster, int member)
    : cluster_(cluster), member_(member) {
  auto channel = grpc::CreateChannel(base::cat("127.0.0.1:", cluster.server(member).port()),
                                     grpc::InsecureChannelCredentials());
  lock_ = lockpb::Lock::NewStub(channel);
  election_ = epb::Election::NewStub(channel);
  lease_ = pb::Lease::NewStub(channel);
}

int64_t CoordinationClient::grant(int64_t ttl) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  pb::LeaseGrantResponse resp;
  const grpc::Status st = lease_->LeaseGrant(&ctx, req, &resp);
  if (!st.ok()) {
    ADD_FAILURE() << "lease grant through member " << member_ << ": " << st.error_message();
    return 0;
  }
  return resp.id();
}

grpc::Status CoordinationClient::revoke(int64_t id) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  pb::LeaseRevokeRequest req;
  req.set_id(id);
  pb::LeaseRevokeResponse resp;
  return lease_->LeaseRevoke(&ctx, req, &resp);
}

grpc::Status CoordinationClient::lock(const std::string& name, int64_t lease,
                                      lockpb::LockResponse* resp,
                                      std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, timeout);
  lockpb::LockRequest req;
  req.set_name(name);
  req.set_lease(lease);
  return lock_->Lock(&ctx, req, resp);
}

grpc::Status CoordinationClient::unlock(const std::string& key, lockpb::UnlockResponse* resp) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  lockpb::UnlockRequest req;
  req.set_key(key);
  lockpb::UnlockResponse ignored;
  return lock_->Unlock(&ctx, req, resp != nullptr ? resp : &ignored);
}

grpc::Status CoordinationClient::campaign(const std::string& name, int64_t lease,
                                          const std::string& value, epb::CampaignResponse* resp,
                                          std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, timeout);
  epb::CampaignRequest req;
  req.set_name(name);
  req.set_lease(lease);
  req.set_value(value);
  return election_->Campaign(&ctx, req, resp);
}

grpc::Status CoordinationClient::proclaim(const epb::LeaderKey* leader, const std::string& value,
                                          epb::ProclaimResponse* resp) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  epb::ProclaimRequest req;
  if (leader != nullptr) *req.mutable_leader() = *leader;
  req.set_value(value);
  epb::ProclaimResponse ignored;
  return election_->Proclaim(&ctx, req, resp != nullptr ? resp : &ignored);
}

grpc::Status CoordinationClient::resign(const epb::LeaderKey* leader, epb::ResignResponse* resp) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  epb::ResignRequest req;
  if (leader != nullptr) *req.mutable_leader() = *leader;
  epb::ResignResponse ignored;
  return election_->Resign(&ctx, req, resp != nullptr ? resp : &ignored);
}

grpc::Status CoordinationClient::leader(const std::string& name, epb::LeaderResponse* resp) {
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  epb::LeaderRequest req;
  req.set_name(name);
  return election_->Leader(&ctx, req, resp);
}

int64_t CoordinationClient::create_revision(const std::string& key) {
  pb::RangeResponse r;
  if (!cluster_.get(member_, key, &r).ok()) return -1;
  return r.kvs().empty() ? 0 : r.kvs(0).create_revision();
}

}  // namespace meridian::api
