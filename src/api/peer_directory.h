// PeerDirectory: keeps the node's peer addresses in step with the member
// records of the store (kv/member_codec.h), the cluster's replicated address
// book. MemberAdd writes a new member's record through the log, so every
// member learns where to reach it when it applies the change (and a member
// that catches up by snapshot, from the snapshot); MemberUpdate's new peer URLs
// reach every member the same way. A removed member's record has no URLs and is
// left alone (the node forgets the peer itself when it applies the removal).
//
// Threads: refresh() runs on the node's apply thread (the state machine's
// observer) and once at construction; Node::set_peer takes any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/etcd_server.h"

namespace meridian::api {

// "host:port" of a peer URL ("http://127.0.0.1:2380", "https://[::1]:2380"),
// or nullopt if it is not an http(s) URL with a host and a valid port and
// nothing after them.
std::optional<std::string> peer_address(std::string_view url);

class PeerDirectory {
 public:
  explicit PeerDirectory(const EtcdBackend& backend);
  ~PeerDirectory();  // stops observing
  PeerDirectory(const PeerDirectory&) = delete;
  PeerDirectory& operator=(const PeerDirectory&) = delete;

  void refresh();

 private:
  const EtcdBackend backend_;
  std::mutex mu_;
  std::map<uint64_t, std::string> known_;  // guarded by mu_: what the node was told
};

}  // namespace meridian::api
