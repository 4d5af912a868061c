// TestCluster: a small, fully manual, in-memory harness for unit tests of the Raft
// core. It holds N replicas, each over its own MemoryStorage, and one queue of
// messages "on the wire". Nothing happens by itself: a test ticks nodes, delivers
// messages (through optional partitions, one-way cuts and type filters), and drives
// every replica through the Ready contract of replica.h exactly as a host would.
// (The deterministic simulator with random faults lives in src/sim/; this is not it.)
//
// Each node's "state machine" is the list of payloads of the normal entries it
// applied; its snapshots encode that list. It is rebuilt from the snapshot and the
// log on restart (the application state is not durable), so a restart re-applies
// committed entries through Ready, and conf changes through apply_conf_change.
//
// Single-threaded, test-only; it never aborts on a protocol violation but records it
// in violations() (entries applied out of order or twice, applied before persisted).
// Compiled only into the test binary (the *_testing.cc convention).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/config.h"
#include "raft/memory_storage.h"
#include "raft/replica.h"
#include "raft/types.h"

namespace meridian::raft::testing {

// Short names for the node ids the tests use.
inline constexpr NodeId kN1{1};
inline constexpr NodeId kN2{2};
inline constexpr NodeId kN3{3};
inline constexpr NodeId kN4{4};
inline constexpr NodeId kN5{5};
inline constexpr NodeId kN6{6};
inline constexpr NodeId kN7{7};

using MessagePredicate = std::function<bool(const Message&)>;
using ConfigureFn = std::function<void(Config&)>;

struct TestNode {
  NodeId id;
  Config config;
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Replica> replica;  // null while crashed

  // The application: payloads of applied non-empty normal entries, in order.
  std::vector<std::string> state;
  Index applied;
  ConfState conf_state;
  // Every entry handed out in Ready::committed_entries since the last (re)start.
  std::vector<Entry> applied_log;
  std::vector<ReadState> read_states;
  int restarts = 0;
};

class TestCluster {
 public:
  // `voters` nodes with ids 1..voters, bootstrapped as members of one group: each
  // storage holds the snapshot {index 1, term 1, voters} and the hard state
  // {term 1, commit 1}, so the first election is for term 2. `configure` adjusts every
  // node's Config (also of nodes added later).
  explicit TestCluster(size_t voters, ConfigureFn configure = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  // --- Nodes -----------------------------------------------------------------
  // Starts a node with empty storage (not a member until a conf change adds it).
  void add_node(NodeId id);
  TestNode& node(NodeId id);
  Replica& replica(NodeId id);
  MemoryStorage& storage(NodeId id) { return *node(id).storage; }
  ReplicaStatus status(NodeId id) { return replica(id).status(); }
  std::vector<NodeId> ids() const;
  bool up(NodeId id) const;
  // The live leader with the highest term, or kNoNode.
  NodeId leader() const;

  // Drops the replica and everything not yet persisted; storage survives.
  void crash(NodeId id);
  // Recreates the replica from its storage; the state machine restarts from the
  // storage's snapshot and re-applies the committed log.
  void restart(NodeId id);
  // Snapshots node `id`'s state machine at its applied index and compacts its log
  // up to that index.
  void compact(NodeId id);

  // --- Inputs ----------------------------------------------------------------
  void tick(NodeId id, int ticks = 1);
  void campaign(NodeId id) { replica(id).campaign(); }
  Status propose(NodeId id, std::string data) { return replica(id).propose(std::move(data)); }
  Status propose_conf_change(NodeId id, const ConfChange& cc) {
    return replica(id).propose_conf_change(cc);
  }

  // --- Network ---------------------------------------------------------------
  // Partitions: messages between nodes in different groups are dropped. Nodes not
  // named are unaffected. Adds to the existing cuts.
  void partition(const std::vector<std::vector<NodeId>>& groups);
  void isolate(NodeId id);  // cut both ways from every other node
  void recover(NodeId id);  // remove every cut involving id
  void cut(NodeId from, NodeId to) { cuts_.insert({from, to}); }  // one way
  void drop_type(MessageType t) { dropped_types_.insert(t); }
  // Drops every message for which `drop` is true (in addition to the above).
  void set_drop_filter(MessagePredicate drop) { drop_filter_ = std::move(drop); }
  // Removes every cut, dropped type and the drop filter.
  void heal();

  // Messages sent and not yet delivered or dropped, oldest first.
  const std::vector<Message>& pending() const { return pending_; }
  // Every message ever sent, in order (for counting), and a way to forget them.
  const std::vector<Message>& sent() const { return sent_; }
  void clear_sent() { sent_.clear(); }
  size_t count_sent(const MessagePredicate& match) const;

  // Steps every pending message selected by `select` (all if empty) into its
  // recipient, in order, unless the network drops it; the rest stay pending. Returns
  // the number stepped. Messages the recipients produce wait for their next Ready.
  size_t deliver(const MessagePredicate& select = {});
  // Removes the selected pending messages without delivering them.
  size_t drop_pending(const MessagePredicate& select = {});
  // Puts a message on the wire as if its sender had sent it (a duplicate, a replay
  // of an old message, or one crafted by a test).
  void inject(Message m) { pending_.push_back(std::move(m)); }

  // When a kSnapshot is delivered (or dropped) the sender is told with
  // report_snapshot(to, true/false), as a host's transport would. On by default.
  void set_auto_report_snapshots(bool on) { auto_report_snapshots_ = on; }
  // When on, a dropped message is reported to its (live) sender with
  // report_unreachable(to), as a transport that notices failures would. Off by default.
  void set_report_unreachable(bool on) { report_unreachable_ = on; }

  // --- The Ready contract ------------------------------------------------------
  // Takes one Ready from `id` if it has one and carries it out: send messages,
  // persist, send messages_after_persist, apply, advance. Returns whether it did.
  bool handle_ready(NodeId id);
  // The same steps, one at a time, for tests that interleave them.
  void send(NodeId from, const std::vector<Message>& msgs);
  void persist(NodeId id, const Ready& rd);
  void apply(NodeId id, const Ready& rd);
  void advance(NodeId id) { replica(id).advance(); }

  // Repeats { handle every node's Ready; deliver all pending messages } until no
  // node has a Ready and nothing is pending. Returns false if that did not happen
  // within `rounds_max` rounds (a livelock, reported rather than looped on).
  [[nodiscard]] bool stabilize(int rounds_max = 1000);
  // `rounds` times: tick every live node once, then stabilize.
  [[nodiscard]] bool tick_all(int rounds);
  // Campaigns `id` and stabilizes, up to `attempts` times, until it leads.
  [[nodiscard]] bool elect(NodeId id, int attempts = 5);

  // Protocol violations seen by the host side, e.g. "n2 applied 7 after 5".
  const std::vector<std::string>& violations() const { return violations_; }

  // Encoding of a state machine in snapshot data.
  static std::string encode_state(const std::vector<std::string>& state);
  static std::vector<std::string> decode_state(const std::string& data);

 private:
  void start(TestNode& n);
  bool network_drops(const Message& m) const;
  void report_snapshot_delivery(const Message& m, bool delivered);
  void violation(std::string what) { violations_.push_back(std::move(what)); }

  ConfigureFn configure_;
  std::map<NodeId, TestNode> nodes_;
  std::vector<Message> pending_;
  std::vector<Message> sent_;
  std::set<std::pair<NodeId, NodeId>> cuts_;
  std::set<MessageType> dropped_types_;
  MessagePredicate drop_filter_;
  bool auto_report_snapshots_ = true;
  bool report_unreachable_ = false;
  std::vector<std::string> violations_;
};

// Entries with consecutive indices from `first`, one per term in `terms`, with
// payload "t<term>-i<index>" (for building divergent logs directly in storage).
std::vector<Entry> make_entries(Index first, const std::vector<uint64_t>& terms);

// Whether m is a kAppend (or kAppendResponse, ...) from `from` to `to`.
MessagePredicate is(MessageType type);
MessagePredicate is(MessageType type, NodeId from, NodeId to);

}  // namespace meridian::raft::testing
