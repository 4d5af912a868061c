#include "node/node_options.h"

#include <charconv>

#include "base/strings.h"

namespace meridian::node {

using base::cat;
using base::Code;
using base::Result;
using base::Status;

namespace {

bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

// FNV-1a: stable across platforms and releases, which is all the handshake needs
// (the token is a name, not a secret; TLS authenticates peers).
uint64_t cluster_id_for_token(std::string_view token) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : token) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status(Code::kInvalidArgument, cat("'", s, "' is not host:port"));
  }
  uint64_t port = 0;
  if (!parse_u64(s.substr(colon + 1), &port) || port > 65535) {
    return Status(Code::kInvalidArgument, cat("'", s, "' has no valid port (0-65535)"));
  }
  std::string host(s.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:2380
  }
  return std::make_pair(std::move(host), static_cast<uint16_t>(port));
}

Result<std::map<raft::NodeId, std::string>> parse_initial_cluster(std::string_view s) {
  std::map<raft::NodeId, std::string> out;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    const std::string_view part = trim(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    uint64_t id = 0;
    if (eq == std::string_view::npos || !parse_u64(trim(part.substr(0, eq)), &id) || id == 0) {
      return Status(Code::kInvalidArgument, cat("initial cluster member '", part,
                                                "' is not <id>=<host>:<port> with id >= 1"));
    }
    const std::string_view addr = trim(part.substr(eq + 1));
    if (auto hp = parse_host_port(addr); !hp.is_ok()) {
      return Status(Code::kInvalidArgument,
                    cat("initial cluster member ", id, ": ", hp.status().message()));
    }
    if (!out.emplace(raft::NodeId{id}, std::string(addr)).second) {
      return Status(Code::kInvalidArgument, cat("initial cluster names member ", id, " twice"));
    }
  }
  if (out.empty()) return Status(Code::kInvalidArgument, "initial cluster is empty");
  return out;
}

Status validate(const NodeOptions& o) {
  auto bad = [](auto&&... parts) { return Status(Code::kInvalidArgument, cat(parts...)); };
  if (o.id == raft::kNoNode) return bad("node id must be >= 1");
  if (o.initial_cluster.count(o.id) == 0) {
    return bad("node ", o.id, " is not in the initial cluster");
  }
  if (o.data_dir.empty()) return bad("data dir is empty");
  if (o.groups == 0 || o.groups > 100000) return bad("groups must be 1..100000, not ", o.groups);
  if (o.tick_ms == 0 || o.tick_ms > 60000) return bad("tick must be 1..60000 ms, not ", o.tick_ms);
  if (o.heartbeat_ticks < 1 || o.election_ticks <= o.heartbeat_ticks) {
    return bad("election ticks (", o.election_ticks, ") must exceed heartbeat ticks (",
               o.heartbeat_ticks, ") and heartbeat ticks be >= 1");
  }
  if (o.snapshot_entries == 0) return bad("snapshot entries must be >= 1");
  if (o.proposal_timeout_ms == 0) return bad("proposal timeout must be >= 1 ms");
  if (o.max_frame_bytes < (64u << 10)) return bad("max frame bytes must be >= 65536");
  if (o.journal_segment_bytes < (64u << 10)) return bad("journal segment bytes must be >= 65536");
  for (const auto& [id, addr] : o.initial_cluster) {
    if (auto hp = parse_host_port(addr); !hp.is_ok()) return hp.status();
  }
  return Status::ok();
}

}  // namespace meridian::node
