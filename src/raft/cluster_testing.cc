#include "raft/cluster_testing.h"

#include <algorithm>
#include <sstream>

#include "base/assert.h"

namespace meridian::raft::testing {

namespace {

std::string node_name(NodeId id) { return "n" + std::to_string(id.value()); }

}  // namespace

TestCluster::TestCluster(size_t voters, ConfigureFn configure) : configure_(std::move(configure)) {
  ConfState cs;
  for (size_t i = 1; i <= voters; ++i) cs.voters.push_back(NodeId{i});
  for (size_t i = 1; i <= voters; ++i) {
    NodeId id{i};
    TestNode& n = nodes_[id];
    n.id = id;
    n.storage = std::make_unique<MemoryStorage>();
    // Bootstrap: every initial member starts from the same snapshot, so that they
    // agree on the membership without a log entry for it.
    Snapshot boot;
    boot.meta = SnapshotMeta{Index{1}, Term{1}, cs};
    boot.data = encode_state({});
    Status s = n.storage->apply_snapshot(boot);
    MERIDIAN_ASSERT(s.is_ok(), s);
    // The current term is never below the last log term (the snapshot's).
    n.storage->set_hard_state(HardState{Term{1}, kNoNode, Index{1}});
    start(n);
  }
}

TestCluster::~TestCluster() = default;

void TestCluster::add_node(NodeId id) {
  MERIDIAN_ASSERT(!nodes_.count(id), "node ", id, " exists");
  TestNode& n = nodes_[id];
  n.id = id;
  n.storage = std::make_unique<MemoryStorage>();
  start(n);
}

void TestCluster::start(TestNode& n) {
  n.config = Config{};
  n.config.id = n.id;
  n.config.random_seed = 1000 + n.id.value();
  if (configure_) configure_(n.config);
  n.config.id = n.id;
  // The state machine is not durable: it restarts from the snapshot and the core
  // hands out the committed entries after it again.
  n.config.applied = Index{0};
  Result<Snapshot> snap = n.storage->snapshot();
  MERIDIAN_ASSERT(snap.is_ok(), snap.status());
  n.state = decode_state(snap.value().data);
  n.applied = snap.value().meta.index;
  n.conf_state = snap.value().meta.conf_state;
  n.applied_log.clear();
  auto r = Replica::create(n.config, n.storage.get());
  MERIDIAN_ASSERT(r.is_ok(), r.status());
  n.replica = std::move(r).value();
}

TestNode& TestCluster::node(NodeId id) {
  auto it = nodes_.find(id);
  MERIDIAN_ASSERT(it != nodes_.end(), "no node ", id);
  return it->second;
}

Replica& TestCluster::replica(NodeId id) {
  TestNode& n = node(id);
  MERIDIAN_ASSERT(n.replica != nullptr, "node ", id, " is down");
  return *n.replica;
}

std::vector<NodeId> TestCluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

bool TestCluster::up(NodeId id) const {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second.replica != nullptr;
}

NodeId TestCluster::leader() const {
  NodeId best = kNoNode;
  Term best_term;
  for (const auto& [id, n] : nodes_) {
    if (!n.replica || n.replica->role() != Role::kLeader) continue;
    if (best == kNoNode || n.replica->term() > best_term) {
      best = id;
      best_term = n.replica->term();
    }
  }
  return best;
}

void TestCluster::crash(NodeId id) {
  TestNode& n = node(id);
  n.replica.reset();
  n.read_states.clear();
}

void TestCluster::restart(NodeId id) {
  TestNode& n = node(id);
  MERIDIAN_ASSERT(n.replica == nullptr, "restart of a live node ", id);
  ++n.restarts;
  start(n);
}

void TestCluster::compact(NodeId id) {
  TestNode& n = node(id);
  Status s = n.storage->create_snapshot(n.applied, n.conf_state, encode_state(n.state));
  MERIDIAN_ASSERT(s.is_ok(), s);
  s = n.storage->compact(n.applied);
  MERIDIAN_ASSERT(s.is_ok(), s);
}

void TestCluster::tick(NodeId id, int ticks) {
  for (int i = 0; i < ticks; ++i) replica(id).tick();
}

// --- Network -------------------------------------------------------------------

void TestCluster::partition(const std::vector<std::vector<NodeId>>& groups) {
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t h = 0; h < groups.size(); ++h) {
      if (g == h) continue;
      for (NodeId a : groups[g]) {
        for (NodeId b : groups[h]) cut(a, b);
      }
    }
  }
}

void TestCluster::isolate(NodeId id) {
  for (const auto& [other, n] : nodes_) {
    if (other == id) continue;
    cut(id, other);
    cut(other, id);
  }
}

void TestCluster::recover(NodeId id) {
  std::erase_if(cuts_, [&](const auto& c) { return c.first == id || c.second == id; });
}

void TestCluster::heal() {
  cuts_.clear();
  dropped_types_.clear();
  drop_filter_ = nullptr;
}

size_t TestCluster::count_sent(const MessagePredicate& match) const {
  return std::count_if(sent_.begin(), sent_.end(), match);
}

bool TestCluster::network_drops(const Message& m) const {
  if (cuts_.count({m.from, m.to})) return true;
  if (dropped_types_.count(m.type)) return true;
  if (drop_filter_ && drop_filter_(m)) return true;
  return !up(m.to);
}

void TestCluster::report_snapshot_delivery(const Message& m, bool delivered) {
  if (!auto_report_snapshots_ || m.type != MessageType::kSnapshot || !up(m.from)) return;
  replica(m.from).report_snapshot(m.to, delivered);
}

size_t TestCluster::deliver(const MessagePredicate& select) {
  std::vector<Message> batch;
  std::vector<Message> keep;
  for (Message& m : pending_) {
    if (!select || select(m)) {
      batch.push_back(std::move(m));
    } else {
      keep.push_back(std::move(m));
    }
  }
  pending_ = std::move(keep);
  size_t stepped = 0;
  for (Message& m : batch) {
    if (network_drops(m)) {
      report_snapshot_delivery(m, false);
      if (report_unreachable_ && up(m.from)) replica(m.from).report_unreachable(m.to);
      continue;
    }
    Message copy = m;
    NodeId to = m.to;
    Status s = replica(to).step(std::move(m));
    (void)s;  // a dropped forwarded proposal is not the harness's concern
    report_snapshot_delivery(copy, true);
    ++stepped;
  }
  return stepped;
}

size_t TestCluster::drop_pending(const MessagePredicate& select) {
  size_t before = pending_.size();
  std::erase_if(pending_, [&](const Message& m) { return !select || select(m); });
  return before - pending_.size();
}

// --- The Ready contract --------------------------------------------------------

void TestCluster::send(NodeId from, const std::vector<Message>& msgs) {
  for (const Message& m : msgs) {
    if (m.from != from) violation(node_name(from) + " sent a message from " + node_name(m.from));
    pending_.push_back(m);
    sent_.push_back(m);
  }
}

void TestCluster::persist(NodeId id, const Ready& rd) {
  MemoryStorage& st = storage(id);
  if (rd.snapshot) {
    Status s = st.apply_snapshot(*rd.snapshot);
    if (!s.is_ok()) violation(node_name(id) + " got a stale snapshot: " + s.to_string());
  }
  if (!rd.entries.empty()) st.append(rd.entries);
  if (rd.hard_state) st.set_hard_state(*rd.hard_state);
}

void TestCluster::apply(NodeId id, const Ready& rd) {
  TestNode& n = node(id);
  if (rd.snapshot && rd.snapshot->meta.index > n.applied) {
    n.state = decode_state(rd.snapshot->data);
    n.applied = rd.snapshot->meta.index;
    n.conf_state = rd.snapshot->meta.conf_state;
  }
  for (const Entry& e : rd.committed_entries) {
    if (e.index != n.applied + 1) {
      std::ostringstream os;
      os << node_name(id) << " applied " << e.index << " after " << n.applied;
      violation(os.str());
    }
    if (e.index > n.storage->last_index()) {
      std::ostringstream os;
      os << node_name(id) << " applied " << e.index << " before persisting it";
      violation(os.str());
    }
    n.applied = e.index;
    n.applied_log.push_back(e);
    if (e.type == EntryType::kConfChange) {
      auto cc = decode_conf_change(e.data);
      if (!cc.is_ok()) {
        violation(node_name(id) + " committed a malformed conf change");
        continue;
      }
      n.conf_state = n.replica->apply_conf_change(cc.value());
    } else if (!e.data.empty()) {
      n.state.push_back(e.data);
    }
  }
  for (const ReadState& rs : rd.read_states) n.read_states.push_back(rs);
}

bool TestCluster::handle_ready(NodeId id) {
  Replica& r = replica(id);
  if (!r.has_ready()) return false;
  Ready rd = r.ready();
  send(id, rd.messages);
  persist(id, rd);
  send(id, rd.messages_after_persist);
  apply(id, rd);
  advance(id);
  return true;
}

bool TestCluster::stabilize(int rounds_max) {
  for (int round = 0; round < rounds_max; ++round) {
    bool busy = false;
    for (auto& [id, n] : nodes_) {
      if (!n.replica) continue;
      while (handle_ready(id)) busy = true;
    }
    if (!pending_.empty()) {
      busy = true;
      deliver();
    }
    if (!busy) return true;
  }
  return false;
}

bool TestCluster::tick_all(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    for (auto& [id, n] : nodes_) {
      if (n.replica) n.replica->tick();
    }
    if (!stabilize()) return false;
  }
  return true;
}

bool TestCluster::elect(NodeId id, int attempts) {
  for (int i = 0; i < attempts; ++i) {
    campaign(id);
    if (!stabilize()) return false;
    if (replica(id).role() == Role::kLeader) return true;
  }
  return false;
}

// Grammar: item* where item := decimal_length ':' bytes.
std::string TestCluster::encode_state(const std::vector<std::string>& state) {
  std::string out;
  for (const std::string& s : state) out += std::to_string(s.size()) + ":" + s;
  return out;
}

std::vector<std::string> TestCluster::decode_state(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t colon = data.find(':', pos);
    MERIDIAN_ASSERT(colon != std::string::npos, "bad state encoding");
    size_t len = std::stoul(data.substr(pos, colon - pos));
    out.push_back(data.substr(colon + 1, len));
    pos = colon + 1 + len;
  }
  return out;
}

std::vector<Entry> make_entries(Index first, const std::vector<uint64_t>& terms) {
  std::vector<Entry> out;
  Index i = first;
  for (uint64_t t : terms) {
    Entry e;
    e.term = Term{t};
    e.index = i;
    e.data = "t" + std::to_string(t) + "-i" + std::to_string(i.value());
    out.push_back(std::move(e));
    ++i;
  }
  return out;
}

MessagePredicate is(MessageType type) {
  return [type](const Message& m) { return m.type == type; };
}

MessagePredicate is(MessageType type, NodeId from, NodeId to) {
  return [=](const Message& m) { return m.type == type && m.from == from && m.to == to; };
}

}  // namespace meridian::raft::testing
