// The `meridian` binary: dispatches to a subcommand (commands.h); each parses its
// own flags with CLI11.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/commands.h"

namespace {

constexpr const char* kUsage =
    "Usage: meridian <command> [options]\n"
    "\n"
    "Meridian: distributed-systems middleware on Raft.\n"
    "\n"
    "Commands:\n"
    "  start     Run one node (settings from flags, MERIDIAN_* environment variables\n"
    "            and a TOML file; see meridian start --help)\n"
    "  dev       Run a local three-node cluster on loopback, for a first run and demos\n"
    "  status    Print the status of nodes from their admin endpoints\n"
    "  snapshot  restore FILE --data-dir DIR: a new member's data directory from a\n"
    "            snapshot saved with etcdctl snapshot save\n"
    "  member    add --peer-urls URL [--auto-promote] [--wait S]: add a member to a\n"
    "            running cluster; --auto-promote: promoted once it has caught up\n"
    "  version   Print the version\n"
    "\n"
    "meridian <command> --help describes each command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  namespace cmd = meridian::cmd;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return cmd::kExitUsage;
  }
  const std::string_view command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "start") return cmd::run_start(args);
  if (command == "dev") return cmd::run_dev(args);
  if (command == "status") return cmd::run_status(args);
  if (command == "snapshot") return cmd::run_snapshot(args);
  if (command == "member") return cmd::run_member(args);
  if (command == "version" || command == "--version") {
    std::printf("meridian %s\n", cmd::kVersion);
    return cmd::kExitOk;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return cmd::kExitOk;
  }
  std::fprintf(stderr, "meridian: unknown command '%s'\n\n%s", argv[1], kUsage);
  return cmd::kExitUsage;
}
