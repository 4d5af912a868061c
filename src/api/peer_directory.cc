#include "api/peer_directory.h"

#include "node/node_options.h"
#include "observe/log.h"

namespace meridian::api {

std::optional<std::string> peer_address(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return std::nullopt;
  }
  if (rest.ends_with("/")) rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  auto hp = node::parse_host_port(rest);
  if (!hp.is_ok() || hp.value().first.empty() || hp.value().second == 0) return std::nullopt;
  return std::string(rest);
}

PeerDirectory::PeerDirectory(const EtcdBackend& backend) : backend_(backend) {
  backend_.kv->set_members_observer([this] { refresh(); });
  refresh();
}

PeerDirectory::~PeerDirectory() { backend_.kv->set_members_observer(nullptr); }

void PeerDirectory::refresh() {
  std::lock_guard lock(mu_);
  for (const etcdserverpb::Member& m : backend_.kv->store().members()) {
    if (m.id() == backend_.member_id || m.peerurls_size() == 0) continue;
    std::optional<std::string> address = peer_address(m.peerurls(0));
    if (!address) continue;
    auto& known = known_[m.id()];
    if (known == *address) continue;
    known = *address;
    observe::log_info("member {} is reached at {}", m.id(), *address);
    backend_.node->set_peer(raft::NodeId{m.id()}, *address);
  }
}

}  // namespace meridian::api
