#include "cmd/options.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meridian::cmd {
namespace {

using ::testing::HasSubstr;

// Every setting the brief for `meridian start` names, spelled as a flag.
const std::vector<std::string> kSettings = {
    "node-id",
    "data-dir",
    "initial-cluster",
    "cluster-token",
    "listen-client",
    "listen-peer",
    "listen-admin",
    "groups",
    "tick-ms",
    "election-ticks",
    "heartbeat-ticks",
    "snapshot-entries",
    "snapshot-catchup-entries",
    "proposal-timeout-ms",
    "shutdown-transfer-timeout-ms",
    "max-frame-bytes",
    "peer-queue-bytes",
    "journal-segment-bytes",
    "max-request-bytes",
    "quota-backend-bytes",
    "max-txn-ops",
    "kv-max-range-bytes",
    "peer-cert-file",
    "peer-key-file",
    "peer-trusted-ca-file",
    "log-format",
    "log-level",
};

// Files the tests "read": path -> contents; any other path fails like a missing file.
class Fixture : public ::testing::Test {
 protected:
  base::Result<StartCommand> parse(std::vector<std::string> args) {
    return parse_start_options(args, env_, [this](const std::string& path) {
      auto it = files_.find(path);
      if (it == files_.end()) {
        return base::Result<std::string>(
            base::Status(base::Code::kIoError, "No such file or directory"));
      }
      return base::Result<std::string>(it->second);
    });
  }

  StartOptions parse_ok(std::vector<std::string> args) {
    auto r = parse(std::move(args));
    EXPECT_TRUE(r.is_ok()) << r.status();
    if (!r.is_ok()) return StartOptions{};
    EXPECT_FALSE(r.value().help);
    return r.value().options;
  }

  std::string parse_error(std::vector<std::string> args) {
    auto r = parse(std::move(args));
    EXPECT_FALSE(r.is_ok());
    if (r.is_ok()) return "";
    EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument);
    return r.status().message();
  }

  Environment env_;
  std::map<std::string, std::string> files_;
};

using OptionsTest = Fixture;

TEST_F(OptionsTest, DefaultsWithOnlyNodeId) {
  const StartOptions o = parse_ok({"--node-id", "7"});
  const node::NodeOptions defaults;
  EXPECT_EQ(o.node.id, raft::NodeId{7});
  EXPECT_EQ(o.node.data_dir, "./meridian-data/node-7");
  ASSERT_EQ(o.node.initial_cluster.size(), 1u);
  EXPECT_EQ(o.node.initial_cluster.at(raft::NodeId{7}), "127.0.0.1:2380");
  EXPECT_EQ(o.node.cluster_token, "meridian");
  EXPECT_EQ(o.node.listen_peer_host, "127.0.0.1");
  EXPECT_EQ(o.node.listen_peer_port, 2380);
  EXPECT_EQ(o.admin_host, "127.0.0.1");
  EXPECT_EQ(o.admin_port, 2381);
  EXPECT_EQ(o.client.listen_host, "127.0.0.1");
  EXPECT_EQ(o.client.listen_port, 2379);
  EXPECT_EQ(o.client.limits.max_request_bytes, 1572864u);  // etcd's defaults
  EXPECT_EQ(o.client.limits.max_txn_ops, 128u);
  EXPECT_EQ(o.kv_store.max_range_bytes, 64u << 20);
  EXPECT_EQ(o.node.groups, defaults.groups);
  EXPECT_EQ(o.node.tick_ms, defaults.tick_ms);
  EXPECT_EQ(o.node.election_ticks, defaults.election_ticks);
  EXPECT_EQ(o.node.heartbeat_ticks, defaults.heartbeat_ticks);
  EXPECT_EQ(o.node.snapshot_entries, defaults.snapshot_entries);
  EXPECT_EQ(o.node.snapshot_catchup_entries, defaults.snapshot_catchup_entries);
  EXPECT_EQ(o.node.proposal_timeout_ms, defaults.proposal_timeout_ms);
  EXPECT_EQ(o.node.shutdown_transfer_timeout_ms, defaults.shutdown_transfer_timeout_ms);
  EXPECT_EQ(o.node.max_frame_bytes, defaults.max_frame_bytes);
  EXPECT_EQ(o.node.peer_queue_bytes_max, defaults.peer_queue_bytes_max);
  EXPECT_EQ(o.node.journal_segment_bytes, defaults.journal_segment_bytes);
  EXPECT_FALSE(o.node.peer_tls.has_value());
  EXPECT_EQ(o.log.format, observe::LogFormat::kHuman);
  EXPECT_EQ(o.log.level, observe::LogLevel::kInfo);
  EXPECT_EQ(o.log.node_id, 7u);
}

TEST_F(OptionsTest, DefaultInitialClusterFollowsListenPeer) {
  const StartOptions o = parse_ok({"--node-id", "2", "--listen-peer", "127.0.0.1:22380"});
  EXPECT_EQ(o.node.initial_cluster.at(raft::NodeId{2}), "127.0.0.1:22380");
}

TEST_F(OptionsTest, EveryFlag) {
  const StartOptions o = parse_ok({"--node-id=2",
                                   "--data-dir=/d",
                                   "--initial-cluster=1=127.0.0.1:2380,2=127.0.0.1:22380",
                                   "--cluster-token=t",
                                   "--listen-peer=0.0.0.0:22380",
                                   "--listen-admin=127.0.0.1:22381",
                                   "--listen-client=0.0.0.0:22379",
                                   "--groups=4",
                                   "--tick-ms=50",
                                   "--election-ticks=20",
                                   "--heartbeat-ticks=2",
                                   "--snapshot-entries=100",
                                   "--snapshot-catchup-entries=10",
                                   "--proposal-timeout-ms=900",
                                   "--shutdown-transfer-timeout-ms=0",
                                   "--max-frame-bytes=1048576",
                                   "--peer-queue-bytes=2097152",
                                   "--journal-segment-bytes=4194304",
                                   "--max-request-bytes=1044480",
                                   "--max-txn-ops=64",
                                   "--kv-max-range-bytes=1048576",
                                   "--peer-cert-file=c.pem",
                                   "--peer-key-file=k.pem",
                                   "--peer-trusted-ca-file=ca.pem",
                                   "--log-format=json",
                                   "--log-level=debug"});
  EXPECT_EQ(o.node.id, raft::NodeId{2});
  EXPECT_EQ(o.node.data_dir, "/d");
  EXPECT_EQ(o.node.initial_cluster.size(), 2u);
  EXPECT_EQ(o.node.cluster_token, "t");
  EXPECT_EQ(o.node.listen_peer_host, "0.0.0.0");
  EXPECT_EQ(o.node.listen_peer_port, 22380);
  EXPECT_EQ(o.admin_port, 22381);
  EXPECT_EQ(o.client.listen_host, "0.0.0.0");
  EXPECT_EQ(o.client.listen_port, 22379);
  EXPECT_EQ(o.client.limits.max_request_bytes, 1044480u);  // max-frame-bytes less 4 KiB
  EXPECT_EQ(o.client.limits.max_txn_ops, 64u);
  EXPECT_EQ(o.kv_store.max_range_bytes, 1048576u);
  EXPECT_EQ(o.node.groups, 4u);
  EXPECT_EQ(o.node.tick_ms, 50u);
  EXPECT_EQ(o.node.election_ticks, 20);
  EXPECT_EQ(o.node.heartbeat_ticks, 2);
  EXPECT_EQ(o.node.snapshot_entries, 100u);
  EXPECT_EQ(o.node.snapshot_catchup_entries, 10u);
  EXPECT_EQ(o.node.proposal_timeout_ms, 900u);
  EXPECT_EQ(o.node.shutdown_transfer_timeout_ms, 0u);
  EXPECT_EQ(o.node.max_frame_bytes, 1048576u);
  EXPECT_EQ(o.node.peer_queue_bytes_max, 2097152u);
  EXPECT_EQ(o.node.journal_segment_bytes, 4194304u);
  ASSERT_TRUE(o.node.peer_tls.has_value());
  EXPECT_EQ(o.node.peer_tls->cert_file, "c.pem");
  EXPECT_EQ(o.node.peer_tls->key_file, "k.pem");
  EXPECT_EQ(o.node.peer_tls->ca_file, "ca.pem");
  EXPECT_EQ(o.log.format, observe::LogFormat::kJson);
  EXPECT_EQ(o.log.level, observe::LogLevel::kDebug);
}

TEST_F(OptionsTest, EveryEnvironmentVariable) {
  env_ = {{"MERIDIAN_NODE_ID", "3"},
          {"MERIDIAN_DATA_DIR", "/e"},
          {"MERIDIAN_INITIAL_CLUSTER", "3=127.0.0.1:32380"},
          {"MERIDIAN_CLUSTER_TOKEN", "env-token"},
          {"MERIDIAN_LISTEN_PEER", "127.0.0.1:32380"},
          {"MERIDIAN_LISTEN_ADMIN", "127.0.0.1:32381"},
          {"MERIDIAN_LISTEN_CLIENT", "127.0.0.1:32379"},
          {"MERIDIAN_GROUPS", "2"},
          {"MERIDIAN_TICK_MS", "20"},
          {"MERIDIAN_ELECTION_TICKS", "15"},
          {"MERIDIAN_HEARTBEAT_TICKS", "3"},
          {"MERIDIAN_SNAPSHOT_ENTRIES", "500"},
          {"MERIDIAN_SNAPSHOT_CATCHUP_ENTRIES", "50"},
          {"MERIDIAN_PROPOSAL_TIMEOUT_MS", "700"},
          {"MERIDIAN_SHUTDOWN_TRANSFER_TIMEOUT_MS", "800"},
          {"MERIDIAN_MAX_FRAME_BYTES", "65536"},
          {"MERIDIAN_PEER_QUEUE_BYTES", "65536"},
          {"MERIDIAN_JOURNAL_SEGMENT_BYTES", "65536"},
          {"MERIDIAN_MAX_REQUEST_BYTES", "4096"},
          {"MERIDIAN_MAX_TXN_OPS", "1"},
          {"MERIDIAN_KV_MAX_RANGE_BYTES", "65536"},
          {"MERIDIAN_PEER_CERT_FILE", "c"},
          {"MERIDIAN_PEER_KEY_FILE", "k"},
          {"MERIDIAN_PEER_TRUSTED_CA_FILE", "ca"},
          {"MERIDIAN_LOG_FORMAT", "json"},
          {"MERIDIAN_LOG_LEVEL", "warn"},
          {"PATH", "/usr/bin"}};
  const StartOptions o = parse_ok({});
  EXPECT_EQ(o.node.id, raft::NodeId{3});
  EXPECT_EQ(o.node.data_dir, "/e");
  EXPECT_EQ(o.node.cluster_token, "env-token");
  EXPECT_EQ(o.node.listen_peer_port, 32380);
  EXPECT_EQ(o.admin_port, 32381);
  EXPECT_EQ(o.client.listen_port, 32379);
  EXPECT_EQ(o.client.limits.max_request_bytes, 4096u);
  EXPECT_EQ(o.client.limits.max_txn_ops, 1u);
  EXPECT_EQ(o.kv_store.max_range_bytes, 65536u);
  EXPECT_EQ(o.node.groups, 2u);
  EXPECT_EQ(o.node.tick_ms, 20u);
  EXPECT_EQ(o.node.election_ticks, 15);
  EXPECT_EQ(o.node.heartbeat_ticks, 3);
  EXPECT_EQ(o.node.snapshot_entries, 500u);
  EXPECT_EQ(o.node.snapshot_catchup_entries, 50u);
  EXPECT_EQ(o.node.proposal_timeout_ms, 700u);
  EXPECT_EQ(o.node.shutdown_transfer_timeout_ms, 800u);
  EXPECT_EQ(o.node.max_frame_bytes, 65536u);
  EXPECT_EQ(o.node.peer_queue_bytes_max, 65536u);
  EXPECT_EQ(o.node.journal_segment_bytes, 65536u);
  ASSERT_TRUE(o.node.peer_tls.has_value());
  EXPECT_EQ(o.node.peer_tls->ca_file, "ca");
  EXPECT_EQ(o.log.format, observe::LogFormat::kJson);
  EXPECT_EQ(o.log.level, observe::LogLevel::kWarn);
}

TEST_F(OptionsTest, EveryConfigFileKey) {
  files_["m.toml"] = R"(# a comment
node_id = 2
data_dir = "/f"
initial_cluster = "1=127.0.0.1:2380,2=127.0.0.1:22380,3=127.0.0.1:32380"
cluster_token = "file-token"
listen_peer = "127.0.0.1:22380"
listen_admin = "127.0.0.1:22381"
listen_client = "127.0.0.1:22379"
groups = 3
tick_ms = 10
election_ticks = 30
heartbeat_ticks = 5
snapshot_entries = 1_000
snapshot_catchup_entries = 0
proposal_timeout_ms = 600
shutdown_transfer_timeout_ms = 100
max_frame_bytes = 131072
peer_queue_bytes = 131072
journal_segment_bytes = 131072
max_request_bytes = 100_000
max_txn_ops = 1000
kv_max_range_bytes = 100_000_000
peer_cert_file = "c"
peer_key_file = "k"
peer_trusted_ca_file = "ca"
log_format = "json"
log_level = "error"
)";
  const StartOptions o = parse_ok({"--config", "m.toml"});
  EXPECT_EQ(o.node.id, raft::NodeId{2});
  EXPECT_EQ(o.node.data_dir, "/f");
  EXPECT_EQ(o.node.initial_cluster.size(), 3u);
  EXPECT_EQ(o.node.cluster_token, "file-token");
  EXPECT_EQ(o.admin_port, 22381);
  EXPECT_EQ(o.client.listen_port, 22379);
  EXPECT_EQ(o.client.limits.max_request_bytes, 100000u);
  EXPECT_EQ(o.client.limits.max_txn_ops, 1000u);
  EXPECT_EQ(o.kv_store.max_range_bytes, 100000000u);
  EXPECT_EQ(o.node.groups, 3u);
  EXPECT_EQ(o.node.tick_ms, 10u);
  EXPECT_EQ(o.node.election_ticks, 30);
  EXPECT_EQ(o.node.heartbeat_ticks, 5);
  EXPECT_EQ(o.node.snapshot_entries, 1000u);
  EXPECT_EQ(o.node.snapshot_catchup_entries, 0u);
  EXPECT_EQ(o.node.proposal_timeout_ms, 600u);
  EXPECT_EQ(o.node.shutdown_transfer_timeout_ms, 100u);
  EXPECT_EQ(o.node.max_frame_bytes, 131072u);
  EXPECT_EQ(o.node.peer_queue_bytes_max, 131072u);
  EXPECT_EQ(o.node.journal_segment_bytes, 131072u);
  ASSERT_TRUE(o.node.peer_tls.has_value());
  EXPECT_EQ(o.node.peer_tls->key_file, "k");
  EXPECT_EQ(o.log.format, observe::LogFormat::kJson);
  EXPECT_EQ(o.log.level, observe::LogLevel::kError);
}

TEST_F(OptionsTest, ConfigFileFromEnvironment) {
  files_["e.toml"] = "node_id = 4\n";
  env_ = {{"MERIDIAN_CONFIG", "e.toml"}};
  EXPECT_EQ(parse_ok({}).node.id, raft::NodeId{4});
  // --config wins over MERIDIAN_CONFIG.
  files_["f.toml"] = "node_id = 5\n";
  EXPECT_EQ(parse_ok({"--config", "f.toml"}).node.id, raft::NodeId{5});
}

TEST_F(OptionsTest, FlagsOverEnvironmentOverFileOverDefaults) {
  files_["m.toml"] = "node_id = 1\ntick_ms = 10\ngroups = 2\nlog_level = \"warn\"\n";
  env_ = {{"MERIDIAN_TICK_MS", "20"}, {"MERIDIAN_GROUPS", "3"}};
  const StartOptions o = parse_ok({"--config", "m.toml", "--tick-ms", "30"});
  EXPECT_EQ(o.node.tick_ms, 30u);                                        // flag over env and file
  EXPECT_EQ(o.node.groups, 3u);                                          // env over file
  EXPECT_EQ(o.log.level, observe::LogLevel::kWarn);                      // file over default
  EXPECT_EQ(o.node.election_ticks, node::NodeOptions{}.election_ticks);  // default
}

TEST_F(OptionsTest, BadFlagValueNamesTheFlag) {
  const std::string e = parse_error({"--node-id", "1", "--tick-ms", "fast"});
  EXPECT_THAT(e, HasSubstr("flag --tick-ms"));
  EXPECT_THAT(e, HasSubstr("\"fast\""));
  EXPECT_THAT(e, HasSubstr("expected an integer from 1 to"));
}

TEST_F(OptionsTest, BadEnvironmentValueNamesTheVariable) {
  env_ = {{"MERIDIAN_LOG_LEVEL", "loud"}};
  const std::string e = parse_error({"--node-id", "1"});
  EXPECT_THAT(e, HasSubstr("environment variable MERIDIAN_LOG_LEVEL"));
  EXPECT_THAT(e, HasSubstr("expected debug, info, warn or error"));
}

TEST_F(OptionsTest, BadFileValueNamesTheFileLineAndKey) {
  files_["m.toml"] = "node_id = 1\nlisten_admin = \"nowhere\"\n";
  const std::string e = parse_error({"--config", "m.toml"});
  EXPECT_THAT(e, HasSubstr("config file m.toml line 2 (listen_admin)"));
  EXPECT_THAT(e, HasSubstr("expected host:port"));
}

TEST_F(OptionsTest, BadValueIsAnErrorEvenWhenOverridden) {
  env_ = {{"MERIDIAN_GROUPS", "many"}};
  EXPECT_THAT(parse_error({"--node-id", "1", "--groups", "2"}),
              HasSubstr("environment variable MERIDIAN_GROUPS"));
}

TEST_F(OptionsTest, FileValuesMustHaveTheRightTomlType) {
  files_["m.toml"] = "node_id = \"1\"\n";
  EXPECT_THAT(parse_error({"--config", "m.toml"}), HasSubstr("(node_id): expected an integer"));
  files_["m.toml"] = "node_id = 1\ncluster_token = 5\n";
  EXPECT_THAT(parse_error({"--config", "m.toml"}), HasSubstr("(cluster_token): expected a string"));
  files_["m.toml"] = "node_id = -1\n";
  EXPECT_THAT(parse_error({"--config", "m.toml"}), HasSubstr("expected an integer from 1"));
}

TEST_F(OptionsTest, BadValues) {
  EXPECT_THAT(parse_error({"--node-id", "0"}), HasSubstr("flag --node-id"));
  EXPECT_THAT(parse_error({"--node-id", "-3"}), HasSubstr("--node-id"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--groups", "0"}), HasSubstr("flag --groups"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--tick-ms", "10x"}), HasSubstr("flag --tick-ms"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--tick-ms", "99999999999999999999999"}),
              HasSubstr("flag --tick-ms"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--listen-peer", "127.0.0.1:70000"}),
              HasSubstr("flag --listen-peer"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--listen-admin", ":2381"}),
              HasSubstr("flag --listen-admin"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--initial-cluster", "1=a"}),
              HasSubstr("flag --initial-cluster"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--log-format", "xml"}),
              HasSubstr("flag --log-format"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--max-frame-bytes", "10"}),
              HasSubstr("flag --max-frame-bytes"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--listen-client", "localhost"}),
              HasSubstr("flag --listen-client"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--max-request-bytes", "100"}),
              HasSubstr("flag --max-request-bytes"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--max-txn-ops", "0"}),
              HasSubstr("flag --max-txn-ops"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--kv-max-range-bytes", "0"}),
              HasSubstr("flag --kv-max-range-bytes"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--cluster-token", ""}),
              HasSubstr("flag --cluster-token"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--tick-ms", "1", "--tick-ms", "2"}),
              HasSubstr("--tick-ms"));
}

TEST_F(OptionsTest, CrossSettingErrors) {
  EXPECT_THAT(parse_error({}), HasSubstr("node-id is required"));
  EXPECT_THAT(parse_error({"--node-id", "4", "--initial-cluster", "1=127.0.0.1:2380"}),
              HasSubstr("not a member of initial-cluster (flag --initial-cluster)"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--election-ticks", "3", "--heartbeat-ticks", "3"}),
              HasSubstr("election-ticks 3 must exceed heartbeat-ticks 3"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--listen-admin", "127.0.0.1:2380"}),
              HasSubstr("same address"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--listen-client", "127.0.0.1:2380"}),
              HasSubstr("listen-client and listen-peer are the same address"));
  EXPECT_THAT(parse_error({"--node-id", "1", "--listen-client", "127.0.0.1:2381"}),
              HasSubstr("listen-client and listen-admin are the same address"));
  // Port 0 (any free port) is never a clash.
  parse_ok({"--node-id", "1", "--listen-client", "127.0.0.1:0", "--listen-admin", "127.0.0.1:0"});
  // A write must fit in one peer frame.
  EXPECT_THAT(parse_error({"--node-id", "1", "--max-frame-bytes", "1048576"}),
              HasSubstr("max-request-bytes 1572864 must be at most max-frame-bytes 1048576"));
  parse_ok({"--node-id", "1", "--max-frame-bytes", "1048576", "--max-request-bytes", "1044480"});
  EXPECT_THAT(parse_error({"--node-id", "1", "--max-frame-bytes", "1048576", "--max-request-bytes",
                           "1044481"}),
              HasSubstr("must be at most max-frame-bytes"));
}

TEST_F(OptionsTest, UnknownConfigKeyIsAnError) {
  files_["m.toml"] = "node_id = 1\ntick_mss = 5\n";
  const std::string e = parse_error({"--config", "m.toml"});
  EXPECT_THAT(e, HasSubstr("line 2: unknown key \"tick_mss\" (did you mean tick_ms?)"));
  // Sections are not settings either.
  files_["m.toml"] = "node_id = 1\n[raft]\ntick_ms = 5\n";
  EXPECT_THAT(parse_error({"--config", "m.toml"}), HasSubstr("unknown key \"raft\""));
}

TEST_F(OptionsTest, UnknownMeridianEnvironmentVariableIsAnError) {
  env_ = {{"MERIDIAN_TIK_MS", "5"}};
  EXPECT_THAT(parse_error({"--node-id", "1"}),
              HasSubstr("unknown environment variable MERIDIAN_TIK_MS (did you mean "
                        "MERIDIAN_TICK_MS?)"));
  env_ = {{"MERIDIAN_ZZZ", "5"}};
  const std::string e = parse_error({"--node-id", "1"});
  EXPECT_THAT(e, HasSubstr("MERIDIAN_ZZZ"));
  EXPECT_THAT(e, ::testing::Not(HasSubstr("did you mean")));
}

TEST_F(OptionsTest, OtherEnvironmentVariablesAreIgnored) {
  env_ = {{"HOME", "/root"},
          {"MERIDIANX", "1"},
          {"XMERIDIAN_TICK_MS", "x"},
          {"MERIDIAN_BINARY", "build/meridian"},  // the test scripts' own variables
          {"MERIDIAN_SIM_SEEDS", "1:100"},
          {"MERIDIAN_FUZZ_SECONDS", "5"}};
  EXPECT_EQ(parse_ok({"--node-id", "1"}).node.id, raft::NodeId{1});
}

TEST_F(OptionsTest, UnknownFlagIsAnError) {
  EXPECT_THAT(parse_error({"--node-id", "1", "--tick", "5"}), HasSubstr("--tick"));
  EXPECT_THAT(parse_error({"--node-id", "1", "extra"}), HasSubstr("extra"));
}

TEST_F(OptionsTest, ConfigFileErrors) {
  EXPECT_THAT(parse_error({"--config", "missing.toml"}),
              HasSubstr("cannot read config file missing.toml (flag --config)"));
  env_ = {{"MERIDIAN_CONFIG", "missing.toml"}};
  EXPECT_THAT(parse_error({}), HasSubstr("(environment variable MERIDIAN_CONFIG)"));
  env_.clear();
  files_["bad.toml"] = "node_id = 1\nlog_level = \n";
  EXPECT_THAT(parse_error({"--config", "bad.toml"}), HasSubstr("config file bad.toml line 2"));
}

TEST_F(OptionsTest, TlsNeedsAllThreeFilesOrNone) {
  const std::string e =
      parse_error({"--node-id", "1", "--peer-cert-file", "c.pem", "--peer-key-file", "k.pem"});
  EXPECT_THAT(e, HasSubstr("missing peer-trusted-ca-file"));
  EXPECT_THAT(e, HasSubstr("given by flag --peer-cert-file, flag --peer-key-file"));

  env_ = {{"MERIDIAN_PEER_TRUSTED_CA_FILE", "ca.pem"}};
  EXPECT_THAT(parse_error({"--node-id", "1"}), HasSubstr("missing peer-cert-file, peer-key-file"));

  // The three may come from different sources.
  files_["m.toml"] = "peer_key_file = \"k.pem\"\n";
  const StartOptions o =
      parse_ok({"--config", "m.toml", "--node-id", "1", "--peer-cert-file", "c.pem"});
  ASSERT_TRUE(o.node.peer_tls.has_value());
  EXPECT_EQ(o.node.peer_tls->cert_file, "c.pem");
  EXPECT_EQ(o.node.peer_tls->key_file, "k.pem");
  EXPECT_EQ(o.node.peer_tls->ca_file, "ca.pem");
}

TEST_F(OptionsTest, HelpListsEverySettingWithItsDefaultKeyAndVariable) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.is_ok()) << r.status();
  EXPECT_TRUE(r.value().help);
  EXPECT_TRUE(parse({"-h"}).value().help);

  const std::string help = start_help();
  EXPECT_THAT(help, HasSubstr("flags > environment > config file > defaults"));
  EXPECT_THAT(help, HasSubstr("--config FILE"));
  EXPECT_THAT(help, HasSubstr("MERIDIAN_CONFIG"));
  for (const std::string& name : kSettings) {
    std::string key = name;
    std::string env = "MERIDIAN_";
    for (char& c : key) c = c == '-' ? '_' : c;
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    EXPECT_THAT(help, HasSubstr("  --" + name + " ")) << name;
    EXPECT_THAT(help, HasSubstr("toml " + key + ";")) << name;
    EXPECT_THAT(help, HasSubstr("env " + env + "\n")) << name;
  }
  EXPECT_THAT(help, HasSubstr("default 127.0.0.1:2380; toml listen_peer"));
  EXPECT_THAT(help, HasSubstr("default 127.0.0.1:2381; toml listen_admin"));
  EXPECT_THAT(help, HasSubstr("default 127.0.0.1:2379; toml listen_client"));
  EXPECT_THAT(help, HasSubstr("default 1572864; toml max_request_bytes"));
  EXPECT_THAT(help, HasSubstr("default 128; toml max_txn_ops"));
  EXPECT_THAT(help, HasSubstr("default 67108864; toml kv_max_range_bytes"));
  EXPECT_THAT(help, HasSubstr("default meridian; toml cluster_token"));
  EXPECT_THAT(help, HasSubstr("default ./meridian-data/node-<node-id>; toml data_dir"));
  EXPECT_THAT(help, HasSubstr("default human; toml log_format"));
  EXPECT_THAT(help, HasSubstr("default info; toml log_level"));
}

TEST_F(OptionsTest, HelpExampleConfigParses) {
  // The example at the end of the help is a valid config file.
  const std::string help = start_help();
  const size_t start = help.find("  node_id = 1\n");
  ASSERT_NE(start, std::string::npos);
  std::string example;
  for (size_t pos = start; pos < help.size();) {
    const size_t end = help.find('\n', pos);
    example += help.substr(pos + 2, end - pos - 2) + "\n";
    pos = end + 1;
  }
  files_["example.toml"] = example;
  const StartOptions o = parse_ok({"--config", "example.toml"});
  EXPECT_EQ(o.node.initial_cluster.size(), 3u);
  EXPECT_EQ(o.log.format, observe::LogFormat::kJson);
}

}  // namespace
}  // namespace meridian::cmd
