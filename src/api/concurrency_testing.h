// Test support for the Lock and Election services: gRPC stubs for Lock,
// Election and Lease on one member of an EtcdTestCluster, and blocking calls
// with a deadline. One test thread per client (stubs may be shared).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "api/api_testing.h"
#include "etcd/etcdserver/api/v3election/v3electionpb/v3election.grpc.pb.h"
#include "etcd/etcdserver/api/v3lock/v3lockpb/v3lock.grpc.pb.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace meridian::api {

// Generous: only a hung test reaches it.
inline constexpr std::chrono::milliseconds kCoordinationCallTimeout{20000};

class CoordinationClient {
 public:
  CoordinationClient(EtcdTestCluster& cluster, int member);

  // A lease of `ttl` seconds; 0 after a failure (ADD_FAILURE says which).
  int64_t grant(int64_t ttl);
  grpc::Status revoke(int64_t id);

  grpc::Status lock(const std::string& name, int64_t lease, v3lockpb::LockResponse* resp,
                    std::chrono::milliseconds timeout = kCoordinationCallTimeout);
  grpc::Status unlock(const std::string& key, v3lockpb::UnlockResponse* resp = nullptr);

  grpc::Status campaign(const std::string& name, int64_t lease, const std::string& value,
                        v3electionpb::CampaignResponse* resp,
                        std::chrono::milliseconds timeout = kCoordinationCallTimeout);
  grpc::Status proclaim(const v3electionpb::LeaderKey* leader, const std::string& value,
                        v3electionpb::ProclaimResponse* resp = nullptr);
  grpc::Status resign(const v3electionpb::LeaderKey* leader,
                      v3electionpb::ResignResponse* resp = nullptr);
  grpc::Status leader(const std::string& name, v3electionpb::LeaderResponse* resp);

  // The key's create revision through this member (a linearizable read); 0
  // if it does not exist, -1 if the read failed.
  int64_t create_revision(const std::string& key);

  v3lockpb::Lock::Stub& lock_stub() { return *lock_; }
  v3electionpb::Election::Stub& election_stub() { return *election_; }

 private:
  EtcdTestCluster& cluster_;
  const int member_;
  std::unique_ptr<v3lockpb::Lock::Stub> lock_;
  std::unique_ptr<v3electionpb::Election::Stub> election_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
};

// Sets a deadline `timeout` from now.
void set_timeout(grpc::ClientContext* ctx, std::chrono::milliseconds timeout);

}  // namespace meridian::api
