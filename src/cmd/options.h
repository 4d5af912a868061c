// The settings of `meridian start`: where they come from and how they are read.
//
// Every setting has one name in three spellings: a flag (--tick-ms), a top-level
// key of the TOML config file (tick_ms) and an environment variable
// (MERIDIAN_TICK_MS). Precedence: flags > environment > config file > defaults.
// The config file is named by --config or MERIDIAN_CONFIG.
//
// Strictness: a bad value is an error naming the setting and where it came from
// (flag, environment, or the file and line), and so are unknown flags, unknown
// keys in the file and unknown MERIDIAN_* environment variables, so that a typo
// fails loudly instead of being ignored. Every source is checked, including values
// that a higher-precedence source then overrides.
//
// parse_start_options is a pure function of its arguments (the file is read
// through the given reader), so that it can be tested without processes.
// Value types and free functions; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/etcd_server.h"
#include "base/status.h"
#include "kv/mvcc_store.h"
#include "node/node_options.h"
#include "observe/log.h"

namespace meridian::cmd {

struct StartOptions {
  node::NodeOptions node;
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 2381;  // DESIGN.md's admin port
  // The etcd API: listen_host and listen_port (etcd's client port, 2379), limits.
  api::EtcdServerOptions client;
  // The coordination group's store; its dir is <data-dir>/kv.
  kv::StoreOptions kv_store;
  observe::LogOptions log;
};

// What the command line asked for: run with `options`, or print the help.
struct StartCommand {
  bool help = false;  // --help: print start_help() and exit 0; `options` unset
  StartOptions options;
};

using Environment = std::map<std::string, std::string>;
// Returns a file's contents, or an error saying why it could not be read.
using ReadFile = std::function<base::Result<std::string>(const std::string& path)>;

// `args` excludes the program and subcommand names ("--node-id", "1", ...).
// Errors are kInvalidArgument with a message for the user (exit code 2).
base::Result<StartCommand> parse_start_options(const std::vector<std::string>& args,
                                               const Environment& env, const ReadFile& read_file);

// The text of `meridian start --help`: every setting with its flag, TOML key,
// environment variable and default, and the precedence rule.
std::string start_help();

// This process's environment, and a ReadFile over the real file system.
Environment process_environment();
base::Result<std::string> read_text_file(const std::string& path);

}  // namespace meridian::cmd
