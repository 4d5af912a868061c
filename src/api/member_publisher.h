// MemberPublisher: puts this member's record (its name, peer and client URLs;
// kv/member_codec.h) into the store through the log when the client port
// starts, as etcd's members publish their attributes, so that MemberList on
// any member names every member's client URLs. A thread of its own proposes
// it, and again every half second until one proposal succeeds (there may be
// no leader yet), then ends. Proposed at every start: a member whose address
// changed is listed with the new one.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/etcd_server.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"

namespace meridian::api {

class MemberPublisher {
 public:
  MemberPublisher(const EtcdBackend& backend, etcdserverpb::Member self);
  ~MemberPublisher();  // stop()
  MemberPublisher(const MemberPublisher&) = delete;
  MemberPublisher& operator=(const MemberPublisher&) = delete;

  void start();
  // Ends the retries; waits for a proposal in flight to complete or time out.
  void stop();
  // The record is in the store (tests).
  bool published() const;

 private:
  void run();

  const EtcdBackend backend_;
  const etcdserverpb::Member self_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;    // guarded by mu_
  bool published_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace meridian::api
