// The subcommands of the `meridian` binary. Each takes its arguments after the
// subcommand's name and returns the process exit code: 0 success, 1 failure at
// run time, 2 a usage error (bad flag or setting; nothing was started).
// Each is called once, from main, on the main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::cmd {

inline constexpr const char* kVersion = "0.1.0-dev";

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `meridian start`: one node (options.h has the settings).
int run_start(const std::vector<std::string>& args);
// `meridian dev`: a local cluster of child `meridian start` processes.
int run_dev(const std::vector<std::string>& args);
// `meridian status`: the /v1/status of admin endpoints, as a table.
int run_status(const std::vector<std::string>& args);
// `meridian snapshot restore`: a new member's data directory from a snapshot.
int run_snapshot(const std::vector<std::string>& args);
// `meridian member add`: MemberAdd with Meridian's own options (--auto-promote).
int run_member(const std::vector<std::string>& args);

// The ports of node `i` (1-based) of `meridian dev`: client (the etcd API), peer
// and admin 2379/2380/2381 for node 1, then 22379/22380/22381, 32379/32380/32381,
// ... (the pattern etcd's local clusters use). Valid for i in 1..kDevNodesMax.
inline constexpr int kDevNodesMax = 6;  // 62381 is the last port below 65536
inline uint16_t dev_port(int i, uint16_t base) {
  return static_cast<uint16_t>(i == 1 ? base : i * 10000 + base);
}
inline uint16_t dev_client_port(int i) { return dev_port(i, 2379); }
inline uint16_t dev_peer_port(int i) { return dev_port(i, 2380); }
inline uint16_t dev_admin_port(int i) { return dev_port(i, 2381); }

}  // namespace meridian::cmd
