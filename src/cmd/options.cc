#include "cmd/options.h"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include "base/strings.h"

extern char** environ;  // POSIX: the process environment

namespace meridian::cmd {

using base::cat;
using base::Code;
using base::Result;
using base::Status;

namespace {

constexpr std::string_view kEnvPrefix = "MERIDIAN_";
constexpr std::string_view kConfigEnv = "MERIDIAN_CONFIG";
// MERIDIAN_* variables that belong to the project's test and benchmark scripts
// (scripts/test, tests/storage_crash_test.cc, tests/cluster/), not to
// `meridian start`: a shell or harness that exported one must still be able to
// start a node (tests/cluster/ runs nodes with MERIDIAN_BINARY set).
constexpr std::string_view kForeignEnv[] = {"MERIDIAN_BINARY",     "MERIDIAN_FAILOVER_ROUNDS",
                                            "MERIDIAN_SIM_SEEDS",  "MERIDIAN_FUZZ_SECONDS",
                                            "MERIDIAN_CRASH_SEED", "MERIDIAN_CRASH_ROUNDS"};

// Upper bounds below are far beyond any sensible setting; they exist so that a
// slip of the keyboard (an extra zero or three) is caught before it reaches the
// node, and match node::validate where that checks the same value.
constexpr uint64_t kGroupsMax = 100000;  // node::validate's limit
constexpr uint64_t kTickMsMax = 60000;   // node::validate's limit: a minute per tick
constexpr uint64_t kTicksMax = 100000;   // election/heartbeat, in ticks
constexpr uint64_t kEntriesMax = 1ull << 40;
constexpr uint64_t kTimeoutMsMax = 3600000;     // an hour
constexpr uint64_t kFrameBytesMin = 64u << 10;  // node::validate's limit
constexpr uint64_t kFrameBytesMax = 1u << 30;   // a frame is held whole in memory
constexpr uint64_t kQueueBytesMin = 64u << 10;  // at least one small frame per peer
constexpr uint64_t kBytesMax = 1ull << 40;
// etcd API limits. A request below a KiB could not carry a useful key and value;
// a range answer below 64 KiB would page even small listings.
constexpr uint64_t kRequestBytesMin = 1u << 10;
constexpr uint64_t kTxnOpsMax = 1000000;
constexpr uint64_t kRangeBytesMin = 64u << 10;
// A write travels to the other members as one Raft entry inside a peer frame,
// with the frame's, the message's and the entry's headers: far less than this.
constexpr uint64_t kFrameOverheadBytes = 4u << 10;
// A config file is a few dozen lines; anything this large is the wrong file.
constexpr size_t kConfigBytesMax = 1u << 20;

enum class Source : uint8_t { kDefault, kFile, kEnv, kFlag };

// Where a value came from, for error messages: "flag --tick-ms",
// "environment variable MERIDIAN_TICK_MS", "config file m.toml line 3 (tick_ms)".
struct Origin {
  Source source = Source::kDefault;
  std::string where;
};

// Sets one setting from its text; returns what was expected on failure (the
// caller adds which setting and where the text came from).
using ApplyFn = Status (*)(StartOptions&, std::string_view);
// The default as shown by --help, computed from the defaults themselves.
using ShowFn = std::string (*)(const StartOptions&);

struct Setting {
  std::string_view name;        // the flag without dashes: "tick-ms"
  std::string_view value_name;  // for the help: "MS"
  bool integer;                 // a TOML integer (else a TOML string)
  std::string_view help;
  ShowFn show_default;
  ApplyFn apply;
};

std::string toml_key(std::string_view name) {
  std::string key(name);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

std::string env_name(std::string_view name) {
  std::string env(kEnvPrefix);
  for (char c : name) {
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

Status expected(std::string_view what) { return Status(Code::kInvalidArgument, std::string(what)); }

Result<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return expected(cat("expected an integer from ", min, " to ", max));
  }
  return v;
}

template <class T>
Status set_uint(std::string_view text, uint64_t min, uint64_t max, T* out) {
  auto v = parse_uint(text, min, max);
  if (!v.is_ok()) return v.status();
  *out = static_cast<T>(v.value());
  return Status::ok();
}

Status set_nonempty(std::string_view text, std::string* out) {
  if (text.empty()) return expected("expected a non-empty value");
  *out = std::string(text);
  return Status::ok();
}

Status set_address(std::string_view text, std::string* host, uint16_t* port) {
  auto hp = node::parse_host_port(text);
  if (!hp.is_ok()) return expected(cat("expected host:port (", hp.status().message(), ")"));
  if (hp.value().first.empty()) return expected("expected host:port with a host");
  *host = hp.value().first;
  *port = hp.value().second;
  return Status::ok();
}

net::TlsOptions& tls(StartOptions& o) {
  if (!o.node.peer_tls) o.node.peer_tls.emplace();
  return *o.node.peer_tls;
}

std::string host_port(const std::string& host, uint16_t port) {
  return host.find(':') == std::string::npos ? cat(host, ":", port) : cat("[", host, "]:", port);
}

const char* format_name(observe::LogFormat f) {
  return f == observe::LogFormat::kJson ? "json" : "human";
}

const char* level_name(observe::LogLevel l) {
  switch (l) {
    case observe::LogLevel::kDebug:
      return "debug";
    case observe::LogLevel::kInfo:
      return "info";
    case observe::LogLevel::kWarn:
      return "warn";
    case observe::LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string none(const StartOptions& /*defaults*/) { return "none"; }

// Every setting of `meridian start`, in the order --help lists them.
const std::vector<Setting>& settings() {
  static const std::vector<Setting> kAll = {
      {"node-id", "ID", true, "This node's id in the cluster (1 or more). Required.",
       [](const StartOptions&) -> std::string { return "none (required)"; },
       [](StartOptions& o, std::string_view v) {
         uint64_t id = 0;
         Status s = set_uint(v, 1, UINT64_MAX, &id);
         o.node.id = raft::NodeId{id};
         o.log.node_id = id;
         return s;
       }},
      {"data-dir", "DIR", false,
       "Directory of this node's journal, snapshots, identity and key-value store (kv/).",
       [](const StartOptions&) -> std::string { return "./meridian-data/node-<node-id>"; },
       [](StartOptions& o, std::string_view v) { return set_nonempty(v, &o.node.data_dir); }},
      {"initial-cluster", "LIST", false,
       "Members a new cluster starts with, as id=host:port of each member's peer port, "
       "comma-separated (\"1=10.0.0.1:2380,2=10.0.0.2:2380,3=10.0.0.3:2380\"). Read when "
       "the data dir is empty, to bootstrap; must include node-id.",
       [](const StartOptions&) -> std::string { return "<node-id>=<listen-peer> (one member)"; },
       [](StartOptions& o, std::string_view v) {
         auto members = node::parse_initial_cluster(v);
         if (!members.is_ok()) return expected(members.status().message());
         o.node.initial_cluster = std::move(members).value();
         return Status::ok();
       }},
      {"initial-cluster-state", "new|existing", false,
       "new: bootstrap a new cluster from initial-cluster. existing: join a running one; the "
       "member must have been added first (etcdctl member add), and initial-cluster names "
       "the running members and this one, as MemberAdd printed them. Read when the data dir "
       "is empty.",
       [](const StartOptions& d) -> std::string {
         return d.node.join_existing ? "existing" : "new";
       },
       [](StartOptions& o, std::string_view v) {
         if (v != "new" && v != "existing") return expected("new or existing");
         o.node.join_existing = v == "existing";
         return Status::ok();
       }},
      {"cluster-token", "TOKEN", false,
       "Names the cluster: nodes whose tokens differ refuse each other's connections.",
       [](const StartOptions& d) { return d.node.cluster_token; },
       [](StartOptions& o, std::string_view v) { return set_nonempty(v, &o.node.cluster_token); }},
      {"listen-client", "HOST:PORT", false,
       "Address of the client port: the etcd v3 API (gRPC) that etcdctl and etcd client "
       "libraries talk to.",
       [](const StartOptions& d) { return host_port(d.client.listen_host, d.client.listen_port); },
       [](StartOptions& o, std::string_view v) {
         return set_address(v, &o.client.listen_host, &o.client.listen_port);
       }},
      {"listen-peer", "HOST:PORT", false, "Address of the peer port (Raft traffic between nodes).",
       [](const StartOptions& d) {
         return host_port(d.node.listen_peer_host, d.node.listen_peer_port);
       },
       [](StartOptions& o, std::string_view v) {
         return set_address(v, &o.node.listen_peer_host, &o.node.listen_peer_port);
       }},
      {"listen-admin", "HOST:PORT", false,
       "Address of the admin HTTP endpoint (/metrics, /health, /ready, /v1/status, /v1/kv/).",
       [](const StartOptions& d) { return host_port(d.admin_host, d.admin_port); },
       [](StartOptions& o, std::string_view v) {
         return set_address(v, &o.admin_host, &o.admin_port);
       }},
      {"groups", "N", true, "Raft groups every member hosts (group ids 1..N).",
       [](const StartOptions& d) { return std::to_string(d.node.groups); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 1, kGroupsMax, &o.node.groups);
       }},
      {"tick-ms", "MS", true, "The Raft tick: the unit of election and heartbeat timeouts.",
       [](const StartOptions& d) { return std::to_string(d.node.tick_ms); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 1, kTickMsMax, &o.node.tick_ms);
       }},
      {"election-ticks", "N", true,
       "Election timeout in ticks: a follower that hears no leader for a random time "
       "between this and twice this starts an election. More than heartbeat-ticks.",
       [](const StartOptions& d) { return std::to_string(d.node.election_ticks); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 2, kTicksMax, &o.node.election_ticks);
       }},
      {"heartbeat-ticks", "N", true, "Interval of a leader's heartbeats, in ticks.",
       [](const StartOptions& d) { return std::to_string(d.node.heartbeat_ticks); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 1, kTicksMax, &o.node.heartbeat_ticks);
       }},
      {"snapshot-entries", "N", true,
       "A group snapshots its state machine and compacts its log every N applied entries.",
       [](const StartOptions& d) { return std::to_string(d.node.snapshot_entries); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 1, kEntriesMax, &o.node.snapshot_entries);
       }},
      {"snapshot-catchup-entries", "N", true,
       "Entries kept in the log below a snapshot, so that a follower a little behind catches "
       "up from the log rather than by snapshot.",
       [](const StartOptions& d) { return std::to_string(d.node.snapshot_catchup_entries); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 0, kEntriesMax, &o.node.snapshot_catchup_entries);
       }},
      {"proposal-timeout-ms", "MS", true,
       "How long a write may wait to be applied before it fails as unavailable.",
       [](const StartOptions& d) { return std::to_string(d.node.proposal_timeout_ms); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 1, kTimeoutMsMax, &o.node.proposal_timeout_ms);
       }},
      {"shutdown-transfer-timeout-ms", "MS", true,
       "On a graceful stop (SIGTERM, SIGINT), how long to wait for leadership of this "
       "node's groups to move to another member.",
       [](const StartOptions& d) { return std::to_string(d.node.shutdown_transfer_timeout_ms); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 0, kTimeoutMsMax, &o.node.shutdown_transfer_timeout_ms);
       }},
      {"max-frame-bytes", "BYTES", true, "Largest frame accepted on the peer port.",
       [](const StartOptions& d) { return std::to_string(d.node.max_frame_bytes); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, kFrameBytesMin, kFrameBytesMax, &o.node.max_frame_bytes);
       }},
      {"peer-queue-bytes", "BYTES", true,
       "Messages that may wait to be sent to one peer; beyond this they are dropped (Raft "
       "retries).",
       [](const StartOptions& d) { return std::to_string(d.node.peer_queue_bytes_max); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, kQueueBytesMin, kBytesMax, &o.node.peer_queue_bytes_max);
       }},
      {"journal-segment-bytes", "BYTES", true,
       "Size at which the journal moves on to a new segment file.",
       [](const StartOptions& d) { return std::to_string(d.node.journal_segment_bytes); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, kFrameBytesMin, kBytesMax, &o.node.journal_segment_bytes);
       }},
      {"max-request-bytes", "BYTES", true,
       "Largest etcd API request accepted (a put's key and value, a whole txn); larger ones "
       "fail with etcd's \"request is too large\". At most max-frame-bytes less 4 KiB.",
       [](const StartOptions& d) { return std::to_string(d.client.limits.max_request_bytes); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, kRequestBytesMin, kFrameBytesMax, &o.client.limits.max_request_bytes);
       }},
      {"quota-backend-bytes", "BYTES", true,
       "At or above this store size, etcd API writes that add data (puts, txns that put, "
       "lease grants) fail with etcd's \"database space exceeded\" and the NOSPACE alarm is "
       "raised, until it is disarmed; deletes, reads and compaction go on. 0: no quota.",
       [](const StartOptions& d) { return std::to_string(d.client.limits.quota_backend_bytes); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 0, kBytesMax, &o.client.limits.quota_backend_bytes);
       }},
      {"auto-promote-learners", "true|false", false,
       "Promote learners (etcdctl member add --learner) to voters as soon as they have caught "
       "up with the leader, instead of waiting for etcdctl member promote.",
       [](const StartOptions& d) -> std::string {
         return d.client.auto_promote_learners ? "true" : "false";
       },
       [](StartOptions& o, std::string_view v) {
         if (v != "true" && v != "false") return expected("true or false");
         o.client.auto_promote_learners = v == "true";
         return Status::ok();
       }},
      {"max-txn-ops", "N", true, "Most operations in one branch of an etcd txn.",
       [](const StartOptions& d) { return std::to_string(d.client.limits.max_txn_ops); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, 1, kTxnOpsMax, &o.client.limits.max_txn_ops);
       }},
      {"kv-max-range-bytes", "BYTES", true,
       "A range answer stops at about this many bytes of keys and values and says there is "
       "more (etcd's \"more\" flag), so that one read cannot exhaust the node's memory.",
       [](const StartOptions& d) { return std::to_string(d.kv_store.max_range_bytes); },
       [](StartOptions& o, std::string_view v) {
         return set_uint(v, kRangeBytesMin, kBytesMax, &o.kv_store.max_range_bytes);
       }},
      {"peer-cert-file", "FILE", false,
       "This node's certificate chain (PEM) for the peer port. The three peer-*-file "
       "settings go together: all three turn on TLS with mutual authentication between "
       "nodes; none leaves the peer port in plain TCP.",
       none,
       [](StartOptions& o, std::string_view v) { return set_nonempty(v, &tls(o).cert_file); }},
      {"peer-key-file", "FILE", false, "The private key (PEM) of peer-cert-file.", none,
       [](StartOptions& o, std::string_view v) { return set_nonempty(v, &tls(o).key_file); }},
      {"peer-trusted-ca-file", "FILE", false,
       "CA certificates (PEM) that every peer's certificate must chain to.", none,
       [](StartOptions& o, std::string_view v) { return set_nonempty(v, &tls(o).ca_file); }},
      {"log-format", "FORMAT", false, "Log lines as human (text) or json (one object per line).",
       [](const StartOptions& d) -> std::string { return format_name(d.log.format); },
       [](StartOptions& o, std::string_view v) {
         auto f = observe::parse_log_format(v);
         if (!f.is_ok()) return expected("expected human or json");
         o.log.format = f.value();
         return Status::ok();
       }},
      {"log-level", "LEVEL", false, "Least severe level logged: debug, info, warn or error.",
       [](const StartOptions& d) -> std::string { return level_name(d.log.level); },
       [](StartOptions& o, std::string_view v) {
         auto l = observe::parse_log_level(v);
         if (!l.is_ok()) return expected("expected debug, info, warn or error");
         o.log.level = l.value();
         return Status::ok();
       }},
  };
  return kAll;
}

// Levenshtein distance, to suggest the setting a typo meant.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean X?)" when some spelling of a setting is close to `typo`.
std::string suggestion(std::string_view typo, std::string (*spell)(std::string_view)) {
  std::string best;
  size_t best_distance = 3;  // more than two edits away is not a typo of it
  for (const Setting& s : settings()) {
    const std::string candidate = spell(s.name);
    const size_t d = edit_distance(typo, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? std::string() : cat(" (did you mean ", best, "?)");
}

const Setting* find_setting(std::string_view spelled, std::string (*spell)(std::string_view)) {
  for (const Setting& s : settings()) {
    if (spell(s.name) == spelled) return &s;
  }
  return nullptr;
}

std::string describe(const Origin& origin) {
  return origin.source == Source::kDefault ? "the default" : origin.where;
}

// The state of one parse: the options so far and where each value came from.
class Parser {
 public:
  Status apply(const Setting& setting, std::string_view text, Origin origin) {
    Status s = setting.apply(options_, text);
    if (!s.is_ok()) {
      return Status(Code::kInvalidArgument,
                    cat("bad value \"", text, "\" for ", describe(origin), ": ", s.message()));
    }
    origins_[setting.name] = std::move(origin);
    return Status::ok();
  }

  Status apply_file(const std::string& path, std::string_view contents);
  Status apply_env(const Environment& env);
  Status finish();

  bool given(std::string_view name) const { return origins_.count(name) != 0; }
  StartOptions& options() { return options_; }

 private:
  StartOptions options_;
  std::map<std::string_view, Origin> origins_;
};

Status Parser::apply_file(const std::string& path, std::string_view contents) {
  toml::table table;
  try {
    table = toml::parse(contents, path);
  } catch (const toml::parse_error& e) {
    return Status(Code::kInvalidArgument, cat("config file ", path, " line ", e.source().begin.line,
                                              ": ", e.description()));
  }
  for (auto&& [key, value] : table) {
    const std::string_view name = key.str();
    const std::string where = cat("config file ", path, " line ", value.source().begin.line);
    const Setting* setting = find_setting(name, toml_key);
    if (setting == nullptr) {
      return Status(Code::kInvalidArgument,
                    cat(where, ": unknown key \"", name, "\"", suggestion(name, toml_key),
                        "; settings are top-level keys, listed by meridian start --help"));
    }
    Origin origin{Source::kFile, cat(where, " (", name, ")")};
    std::string text;
    if (setting->integer) {
      if (!value.is_integer()) {
        return Status(Code::kInvalidArgument, cat(origin.where, ": expected an integer"));
      }
      text = std::to_string(*value.value<int64_t>());
    } else {
      if (!value.is_string()) {
        return Status(Code::kInvalidArgument,
                      cat(origin.where, ": expected a string (in double quotes)"));
      }
      text = *value.value<std::string>();
    }
    if (Status s = apply(*setting, text, std::move(origin)); !s.is_ok()) return s;
  }
  return Status::ok();
}

Status Parser::apply_env(const Environment& env) {
  for (const auto& [name, text] : env) {
    if (name.rfind(kEnvPrefix, 0) != 0 || name == kConfigEnv) continue;
    if (std::find(std::begin(kForeignEnv), std::end(kForeignEnv), name) != std::end(kForeignEnv)) {
      continue;
    }
    const Setting* setting = find_setting(name, env_name);
    if (setting == nullptr) {
      return Status(Code::kInvalidArgument,
                    cat("unknown environment variable ", name, suggestion(name, env_name),
                        "; meridian start --help lists the MERIDIAN_* variables it reads"));
    }
    if (Status s = apply(*setting, text, Origin{Source::kEnv, cat("environment variable ", name)});
        !s.is_ok()) {
      return s;
    }
  }
  return Status::ok();
}

// Defaults that depend on other settings, and checks across settings.
Status Parser::finish() {
  StartOptions& o = options_;
  if (!given("node-id")) {
    return Status(Code::kInvalidArgument,
                  "node-id is required: give --node-id, MERIDIAN_NODE_ID or node_id in the "
                  "config file");
  }
  if (!given("data-dir")) o.node.data_dir = cat("./meridian-data/node-", o.node.id);
  if (!given("initial-cluster")) {
    o.node.initial_cluster = {
        {o.node.id, host_port(o.node.listen_peer_host, o.node.listen_peer_port)}};
  }
  if (o.node.initial_cluster.count(o.node.id) == 0) {
    return Status(
        Code::kInvalidArgument,
        cat("node-id ", o.node.id, " (", describe(origins_["node-id"]),
            ") is not a member of initial-cluster (", describe(origins_["initial-cluster"]), ")"));
  }
  if (o.node.peer_tls) {
    std::string missing;
    std::string present;
    for (std::string_view name : {"peer-cert-file", "peer-key-file", "peer-trusted-ca-file"}) {
      if (given(name)) {
        present += cat(present.empty() ? "" : ", ", describe(origins_[name]));
      } else {
        missing += cat(missing.empty() ? "" : ", ", name);
      }
    }
    if (!missing.empty()) {
      return Status(Code::kInvalidArgument,
                    cat("peer TLS needs peer-cert-file, peer-key-file and peer-trusted-ca-file "
                        "together (or none of them); missing ",
                        missing, ", given by ", present));
    }
  }
  if (o.node.election_ticks <= o.node.heartbeat_ticks) {
    return Status(Code::kInvalidArgument,
                  cat("election-ticks ", o.node.election_ticks, " must exceed heartbeat-ticks ",
                      o.node.heartbeat_ticks,
                      " (a follower would start elections between a "
                      "live leader's heartbeats)"));
  }
  if (o.node.listen_peer_host == o.admin_host && o.node.listen_peer_port == o.admin_port &&
      o.admin_port != 0) {
    return Status(Code::kInvalidArgument, "listen-peer and listen-admin are the same address");
  }
  if (o.client.listen_host == o.node.listen_peer_host &&
      o.client.listen_port == o.node.listen_peer_port && o.client.listen_port != 0) {
    return Status(Code::kInvalidArgument, "listen-client and listen-peer are the same address");
  }
  if (o.client.listen_host == o.admin_host && o.client.listen_port == o.admin_port &&
      o.client.listen_port != 0) {
    return Status(Code::kInvalidArgument, "listen-client and listen-admin are the same address");
  }
  if (o.client.limits.max_request_bytes + kFrameOverheadBytes > o.node.max_frame_bytes) {
    return Status(Code::kInvalidArgument,
                  cat("max-request-bytes ", o.client.limits.max_request_bytes,
                      " must be at most max-frame-bytes ", o.node.max_frame_bytes, " less ",
                      kFrameOverheadBytes, " (a write must fit in one peer frame)"));
  }
  if (Status s = node::validate(o.node); !s.is_ok()) {
    return Status(Code::kInvalidArgument, cat("invalid settings: ", s.message()));
  }
  return Status::ok();
}

std::string config_help() {
  return "TOML file of settings: top-level keys named as in the list below (no sections).";
}

}  // namespace

Result<StartCommand> parse_start_options(const std::vector<std::string>& args,
                                         const Environment& env, const ReadFile& read_file) {
  // Flags first, as text: CLI11 knows the names; the values are read below by
  // the same code as the other sources, so that errors read alike.
  CLI::App app("meridian start", "meridian start");
  app.set_help_flag();
  bool help = false;
  app.add_flag("-h,--help", help);
  std::string config_flag;
  CLI::Option* config_option = app.add_option("--config", config_flag);
  std::vector<std::string> flags(settings().size());
  std::vector<CLI::Option*> flag_options(settings().size());
  for (size_t i = 0; i < settings().size(); ++i) {
    flag_options[i] = app.add_option(cat("--", settings()[i].name), flags[i]);
  }
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return Status(Code::kInvalidArgument,
                  cat(e.what(), " (meridian start --help lists the flags)"));
  }
  if (help) return StartCommand{true, StartOptions{}};

  Parser parser;
  std::optional<std::string> config_path;
  if (config_option->count() > 0) config_path = config_flag;
  std::string config_origin = "flag --config";
  if (!config_path) {
    if (auto it = env.find(std::string(kConfigEnv)); it != env.end()) {
      config_path = it->second;
      config_origin = cat("environment variable ", kConfigEnv);
    }
  }
  if (config_path) {
    if (config_path->empty())
      return Status(Code::kInvalidArgument, cat(config_origin, " is empty"));
    auto contents = read_file(*config_path);
    if (!contents.is_ok()) {
      return Status(Code::kInvalidArgument, cat("cannot read config file ", *config_path, " (",
                                                config_origin, "): ", contents.status().message()));
    }
    if (Status s = parser.apply_file(*config_path, contents.value()); !s.is_ok()) return s;
  }
  if (Status s = parser.apply_env(env); !s.is_ok()) return s;
  for (size_t i = 0; i < settings().size(); ++i) {
    if (flag_options[i]->count() == 0) continue;
    const Setting& setting = settings()[i];
    if (Status s =
            parser.apply(setting, flags[i], Origin{Source::kFlag, cat("flag --", setting.name)});
        !s.is_ok()) {
      return s;
    }
  }
  if (Status s = parser.finish(); !s.is_ok()) return s;
  return StartCommand{false, std::move(parser.options())};
}

std::string start_help() {
  std::ostringstream out;
  out << "Usage: meridian start --node-id ID [--config FILE] [OPTIONS]\n"
         "\n"
         "Runs one Meridian node: a replica of every Raft group on the peer port, the etcd\n"
         "v3 API on the client port and the admin HTTP endpoint. Stops gracefully on\n"
         "SIGTERM or SIGINT (leadership moves to another member first); a second signal\n"
         "stops it at once.\n"
         "\n"
         "Every setting comes from a flag, a MERIDIAN_* environment variable or a key of\n"
         "the TOML config file. Precedence: flags > environment > config file > defaults.\n"
         "Unknown flags, keys and MERIDIAN_* variables are errors, as are bad values\n"
         "(exit code 2, nothing started).\n"
         "\n"
         "Options:\n"
         "  -h, --help\n"
         "      Print this help and exit.\n"
         "  --config FILE\n"
         "      "
      << config_help()
      << "\n"
         "      default none; env MERIDIAN_CONFIG\n";
  const StartOptions defaults;
  for (const Setting& s : settings()) {
    out << "  --" << s.name << " " << s.value_name << "\n";
    // Wrap the description at about 80 columns.
    std::istringstream words{std::string(s.help)};
    std::string word;
    std::string line = "     ";
    while (words >> word) {
      if (line.size() + 1 + word.size() > 86) {
        out << line << "\n";
        line = "     ";
      }
      line += " " + word;
    }
    out << line << "\n";
    out << "      default " << s.show_default(defaults) << "; toml " << toml_key(s.name) << "; env "
        << env_name(s.name) << "\n";
  }
  out << "\n"
         "Example config file (meridian start --config node1.toml):\n"
         "  node_id = 1\n"
         "  data_dir = \"/var/lib/meridian\"\n"
         "  initial_cluster = \"1=10.0.0.1:2380,2=10.0.0.2:2380,3=10.0.0.3:2380\"\n"
         "  listen_client = \"10.0.0.1:2379\"\n"
         "  listen_peer = \"10.0.0.1:2380\"\n"
         "  listen_admin = \"127.0.0.1:2381\"\n"
         "  log_format = \"json\"\n";
  return out.str();
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<std::string> read_text_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kIoError, std::strerror(errno));
  std::string contents;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status(Code::kIoError, std::strerror(err));
    }
    if (n == 0) break;
    contents.append(buf, static_cast<size_t>(n));
    if (contents.size() > kConfigBytesMax) {
      ::close(fd);
      return Status(Code::kInvalidArgument, cat("larger than ", kConfigBytesMax, " bytes"));
    }
  }
  ::close(fd);
  return contents;
}

}  // namespace meridian::cmd
