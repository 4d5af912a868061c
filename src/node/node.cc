#include "node/node.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_set>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/assert.h"
#include "base/strings.h"
#include "base/thread_name.h"
#include "net/transport.h"
#include "node/group.h"
#include "node/identity.h"
#include "node/map_state_machine.h"
#include "node/snapshot_sink.h"
#include "observe/log.h"
#include "storage/posix_file_system.h"

namespace meridian::node {

namespace asio = boost::asio;
using base::cat;
using base::Code;
using base::Result;
using base::Status;
using observe::log_error;
using observe::log_info;
using observe::log_warn;

struct Node::Impl final : net::TransportHandler {
  NodeOptions options;
  observe::Registry* metrics = nullptr;
  uint64_t cluster_id = 0;

  // Storage, declared before the raft thread's io_context so that it outlives
  // the handlers left in it at shutdown (a peer connection's half-received
  // snapshot holds a snapshot store writer until its handler is destroyed).
  storage::PosixFileSystem fs;
  std::unique_ptr<storage::LogEngine> engine;
  std::unique_ptr<storage::SnapshotStore> snapshots;
  std::unique_ptr<StoreSnapshotSink> snapshot_sink;  // received snapshots go to `snapshots`

  // The raft thread: every group, every state machine, the outbox, and the peer
  // transport. The transport shares the thread so that a received message is
  // stepped and an outgoing one written without a hand-over between threads:
  // each hand-over is a wake-up, and on a small machine the wake-ups, not the
  // bytes, were what a Raft round cost (architecture.md, design decisions).
  asio::io_context raft_io{1};
  asio::executor_work_guard<asio::io_context::executor_type> raft_work{raft_io.get_executor()};
  std::thread raft_thread;
  asio::steady_timer tick_timer{raft_io};
  Clock::time_point next_tick;
  std::atomic<uint64_t> raft_queue_depth{0};
  uint64_t tasks_since_drain = 0;  // raft thread only

  std::unique_ptr<storage::GroupCommitter> committer;
  std::unique_ptr<net::Transport> transport;

  GroupEnv env;
  std::map<GroupId, std::unique_ptr<Group>> groups;
  std::vector<Group*> dirty;  // groups whose ready loop must run after the current task
  std::unordered_set<uint64_t> dirty_set;
  std::map<raft::NodeId, std::vector<net::Envelope>> outbox;
  std::atomic<uint64_t> request_ids{0};

  observe::Histogram* fsync_seconds = nullptr;

  mutable std::mutex status_mu;
  NodeStatus published;  // guarded by status_mu
  std::atomic<bool> storage_failed{false};
  std::atomic<bool> no_space{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> removed{false};  // from every group (on_membership_changed)

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop_started = false;  // guarded by stop_mu
  bool stop_done = false;     // guarded by stop_mu

  ~Impl() override { shutdown_threads(); }

  // --- running work on the raft thread ----------------------------------------

  // Runs fn on the raft thread, then every woken group's ready loop, then sends
  // what they queued. The ready loops run once the queue is empty (or after
  // kTasksPerDrainMax tasks, so a steady stream cannot starve them): requests
  // that arrive together (proposals, linearizable reads, received messages) then
  // leave in one Ready, one ReadIndex round and one transport call per peer,
  // rather than one each.
  static constexpr uint64_t kTasksPerDrainMax = 64;

  void post(std::function<void()> fn) {
    raft_queue_depth.fetch_add(1, std::memory_order_relaxed);
    asio::post(raft_io, [this, fn = std::move(fn)] {
      const uint64_t queued_behind = raft_queue_depth.fetch_sub(1, std::memory_order_relaxed) - 1;
      fn();
      if (queued_behind == 0 || ++tasks_since_drain >= kTasksPerDrainMax) {
        tasks_since_drain = 0;
        drain();
      }
    });
  }

  void drain() {
    while (!dirty.empty()) {
      std::vector<Group*> now;
      now.swap(dirty);
      for (Group* g : now) {
        dirty_set.erase(g->id().value());
        g->process_ready();
      }
    }
    for (auto& [to, batch] : outbox) {
      if (!batch.empty() && transport) transport->send(to, std::move(batch));
      batch.clear();
    }
  }

  void wake(GroupId id) {
    if (dirty_set.insert(id.value()).second) {
      auto it = groups.find(id);
      if (it != groups.end()) dirty.push_back(it->second.get());
    }
  }

  Group* group(GroupId id) {
    auto it = groups.find(id);
    return it == groups.end() ? nullptr : it->second.get();
  }

  // Runs fn(group, done) on the raft thread, or answers `done` with why it
  // cannot: the node is stopping, there is no such group, or (`writes`) the
  // node's storage failed.
  template <class Done, class Fn>
  void with_group(GroupId id, bool writes, Done done, Fn fn) {
    if (stopping.load()) {
      done(Status(Code::kUnavailable, cat("node ", options.id, " is stopping")));
      return;
    }
    post([this, id, writes, done = std::move(done), fn = std::move(fn)]() mutable {
      Group* g = group(id);
      if (g == nullptr) {
        done(Status(Code::kNotFound, cat("no group ", id)));
        return;
      }
      if (writes && storage_failed.load()) {
        done(Status(Code::kUnavailable, "this node's storage failed"));
        return;
      }
      fn(g, std::move(done));
    });
  }

  // --- TransportHandler (the raft thread, from the transport's handlers) -------

  void on_messages(raft::NodeId /*from*/, std::vector<net::Envelope> batch) override {
    post([this, batch = std::move(batch)]() mutable {
      for (net::Envelope& e : batch) {
        if (Group* g = group(e.group)) g->step(std::move(e.message), std::move(e.received));
      }
    });
  }

  void on_dropped(raft::NodeId to, GroupId group_id, raft::MessageType type) override {
    post([this, to, group_id, type] {
      Group* g = group(group_id);
      if (g == nullptr) return;
      if (type == raft::MessageType::kSnapshot) {
        g->report_snapshot(to, false);
      } else if (type == raft::MessageType::kAppend) {
        g->report_unreachable(to);
      }
    });
  }

  void on_removed(raft::NodeId by) override {
    if (!removed.exchange(true)) {
      log_warn(
          "node {} was removed from the cluster (node {} refuses it): no member will talk "
          "to it again",
          options.id, by);
    }
  }

  void on_snapshot_sent(raft::NodeId to, GroupId group_id) override {
    post([this, to, group_id] {
      if (Group* g = group(group_id)) g->report_snapshot(to, true);
    });
  }

  // --- the tick -----------------------------------------------------------------

  void schedule_tick() {
    next_tick += std::chrono::milliseconds(options.tick_ms);
    const auto now = Clock::now();
    // After a stall (a long fsync, a paused VM), tick once rather than catching up
    // with a burst, which would fire elections early.
    if (next_tick < now) next_tick = now + std::chrono::milliseconds(options.tick_ms);
    tick_timer.expires_at(next_tick);
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      const auto now = Clock::now();
      for (auto& [id, g] : groups) g->tick(now);
      drain();
      publish_status();
      schedule_tick();
    });
  }

  void publish_status() {
    NodeStatus st;
    st.id = options.id;
    st.cluster_id = cluster_id;
    st.cluster_token = options.cluster_token;
    st.groups.reserve(groups.size());
    for (auto& [id, g] : groups) st.groups.push_back(g->status());
    const storage::LogEngineStats es = engine->stats();
    st.journal_bytes = es.journal_bytes;
    st.journal_syncs = es.syncs;
    st.raft_queue_depth = raft_queue_depth.load(std::memory_order_relaxed);
    st.commit_queue_depth = committer->stats().queued;
    st.connected_peers = connected_peers();
    st.storage_failed = storage_failed.load();
    st.no_space = no_space.load();
    st.stopping = stopping.load();
    std::lock_guard lock(status_mu);
    published = std::move(st);
  }

  // --- start-up -------------------------------------------------------------------

  Status open_storage() {
    if (Status s = storage::create_dir_durably(fs, options.data_dir); !s.is_ok()) {
      return Status(s.code(), cat("data dir ", options.data_dir, ": ", s.message()));
    }
    auto id = read_identity(&fs, options.data_dir);
    if (!id.is_ok()) return id.status();
    const Identity want{cluster_id, options.id};
    if (id.value() && *id.value() != want) {
      return Status(
          Code::kFailedPrecondition,
          cat("data dir ", options.data_dir, " belongs to node ", id.value()->node, " of cluster ",
              id.value()->cluster_id, ", not node ", want.node, " of cluster ", want.cluster_id,
              " (cluster token '", options.cluster_token, "'); refusing to start"));
    }
    auto e = storage::LogEngine::open(
        &fs, storage::LogEngineOptions{.dir = storage::join_path(options.data_dir, "journal"),
                                       .segment_bytes_max = options.journal_segment_bytes});
    if (!e.is_ok()) return Status(e.status().code(), cat("journal: ", e.status().message()));
    engine = std::move(e).value();
    auto snaps =
        storage::SnapshotStore::open(&fs, storage::join_path(options.data_dir, "snapshots"));
    if (!snaps.is_ok()) {
      return Status(snaps.status().code(), cat("snapshots: ", snaps.status().message()));
    }
    snapshots = std::move(snaps).value();
    storage::GroupCommitOptions co;
    if (fsync_seconds != nullptr) {
      co.observe_sync = [h = fsync_seconds](std::chrono::nanoseconds d) {
        h->observe(std::chrono::duration<double>(d).count());
      };
    }
    committer = std::make_unique<storage::GroupCommitter>(engine.get(), co);
    if (!id.value()) {
      if (Status s = bootstrap(); !s.is_ok()) return s;
      if (Status s = write_identity(&fs, options.data_dir, want); !s.is_ok()) return s;
      if (options.join_existing) {
        log_info("joining a running cluster ({} group(s)) through members {}", options.groups,
                 members_text());
      } else {
        log_info("bootstrapped {} group(s) with members {}", options.groups, members_text());
      }
    }
    return Status::ok();
  }

  std::string members_text() const {
    std::string out;
    for (const auto& [id, addr] : options.initial_cluster) {
      out += cat(out.empty() ? "" : ",", id, "=", addr);
    }
    return out;
  }

  std::unique_ptr<StateMachine> make_state_machine(GroupId g) {
    if (options.state_machine_factory) return options.state_machine_factory(g);
    return std::make_unique<MapStateMachine>();
  }

  // Every initial member starts each group from the same snapshot at index 1 that
  // holds the membership (term 1), so no member needs to be told the cluster's
  // shape later and any of them may win the first election. A node joining a
  // running cluster starts each group empty, a member of nothing: the leader
  // finds its log behind its own first entry and sends it a snapshot, which
  // brings the membership, state and all.
  Status bootstrap() {
    if (options.join_existing) {
      storage::WriteBatch batch;
      for (uint32_t i = 1; i <= options.groups; ++i) batch.set_hard_state(GroupId{i}, {});
      return committer->write_sync(std::move(batch));
    }
    raft::ConfState conf;
    for (const auto& [id, addr] : options.initial_cluster) conf.voters.push_back(id);
    for (uint32_t i = 1; i <= options.groups; ++i) {
      const GroupId g{i};
      if (engine->has_group(g)) continue;  // a start-up that crashed half way
      const raft::SnapshotMeta meta{raft::Index{1}, raft::Term{1}, conf};
      auto writer = snapshots->begin(g, meta);
      if (!writer.is_ok()) return writer.status();
      const std::string data = make_state_machine(g)->snapshot();
      if (!data.empty()) {
        if (Status s = writer.value()->append(data); !s.is_ok()) return s;
      }
      if (Status s = writer.value()->finish(); !s.is_ok()) return s;
      storage::WriteBatch batch;
      batch.install_snapshot(g, meta);
      batch.set_hard_state(g, raft::HardState{raft::Term{1}, raft::kNoNode, raft::Index{1}});
      if (Status s = committer->write_sync(std::move(batch)); !s.is_ok()) return s;
    }
    return Status::ok();
  }

  Status open_groups() {
    std::random_device rd;
    std::mt19937_64 seed_source((static_cast<uint64_t>(rd()) << 32) ^ rd());
    // Request ids start at a random point so that an entry proposed before a
    // restart never completes a request made after it.
    request_ids.store(seed_source());
    env.self = options.id;
    env.options = &options;
    env.engine = engine.get();
    env.snapshots = snapshots.get();
    env.committer = committer.get();
    env.send = [this](GroupId g, raft::Message m, std::shared_ptr<base::ByteSource> image) {
      const raft::NodeId to = m.to;
      outbox[to].push_back(net::Envelope{g, std::move(m), std::move(image)});
    };
    env.post = [this](std::function<void()> fn) { post(std::move(fn)); };
    env.post_after = [this](std::chrono::milliseconds delay, std::function<void()> fn) {
      auto timer = std::make_shared<asio::steady_timer>(raft_io, delay);
      timer->async_wait([this, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
        if (ec) return;
        fn();
        drain();
      });
    };
    env.wake = [this](GroupId g) { wake(g); };
    env.fail = [this](const Status& s) { fail(s); };
    env.no_space = [this](bool full) {
      if (no_space.exchange(full) != full) {
        if (full) {
          log_error("NOSPACE: the disk is full; writes wait until space is freed");
        } else {
          log_info("disk space is available again; writes resume");
        }
      }
    };
    env.next_request_id = [this] { return request_ids.fetch_add(1) + 1; };
    env.membership_changed = [this](GroupId, const raft::ConfChangeSingle& c) {
      on_membership_changed(c);
    };
    for (GroupId g : engine->groups()) {
      auto group = Group::open(g, &env, make_state_machine(g), seed_source());
      if (!group.is_ok()) return group.status();
      groups.emplace(g, std::move(group).value());
    }
    return Status::ok();
  }

  // A node that is a member of no group any more: this one stops being a
  // member (removed()), another one stops being dialed.
  void on_membership_changed(const raft::ConfChangeSingle& c) {
    if (c.type != raft::ConfChangeType::kRemoveNode) return;
    for (auto& [id, g] : groups) {
      if (g->has_member(c.node)) return;
    }
    if (c.node == options.id) {
      if (!removed.exchange(true)) {
        log_warn("node {} was removed from the cluster: no member will talk to it again",
                 options.id);
      }
    } else if (transport) {
      transport->remove_peer(c.node);
    }
  }

  void fail(const Status& s) {
    if (!storage_failed.exchange(true)) {
      log_error("storage failed, this node stops serving writes: {}", s.to_string());
    }
  }

  Status start_transport() {
    net::TransportOptions t;
    t.cluster_id = cluster_id;
    t.self = options.id;
    t.listen_host = options.listen_peer_host;
    t.listen_port = options.listen_peer_port;
    t.peers = options.initial_cluster;
    t.tls = options.peer_tls;
    t.max_frame_bytes = options.max_frame_bytes;
    t.queue_bytes_max = options.peer_queue_bytes_max;
    snapshot_sink = std::make_unique<StoreSnapshotSink>(snapshots.get());
    t.snapshot_sink = snapshot_sink.get();
    auto tr = net::Transport::start(raft_io, t, this);
    if (!tr.is_ok()) return tr.status();
    transport = std::move(tr).value();
    if (metrics != nullptr) transport->register_metrics(metrics);
    return Status::ok();
  }

  // --- stopping -------------------------------------------------------------------

  // Runs fn on the raft thread and waits for it.
  void run_sync(std::function<void()> fn) {
    std::promise<void> done;
    auto f = done.get_future();
    post([&] {
      fn();
      done.set_value();
    });
    f.wait();
  }

  void graceful_stop(bool hand_over) {
    stopping.store(true);
    // Hand over every group this node leads, to its most caught-up voter.
    std::vector<std::pair<GroupId, raft::NodeId>> moves;
    const std::set<raft::NodeId> reachable = connected_peers();
    run_sync([&] {
      for (auto& [id, g] : groups) {
        if (!hand_over || !g->is_leader()) continue;
        const raft::NodeId target = g->best_transfer_target(reachable);
        if (target == raft::kNoNode) continue;
        g->transfer_leader(target);
        moves.emplace_back(id, target);
      }
    });
    if (!moves.empty()) {
      log_info("stopping: moving leadership of {} group(s) away first", moves.size());
      const auto deadline =
          Clock::now() + std::chrono::milliseconds(options.shutdown_transfer_timeout_ms);
      bool moved = false;
      while (!moved && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        // Every target went away (stopping too, as when a whole cluster stops).
        const std::set<raft::NodeId> up = connected_peers();
        if (std::none_of(moves.begin(), moves.end(),
                         [&](const auto& m) { return up.count(m.second) > 0; })) {
          break;
        }
        run_sync([&] {
          moved = true;
          for (auto& [id, target] : moves) {
            Group* g = group(id);
            if (g->is_leader() || g->leader() == raft::kNoNode) moved = false;
          }
        });
      }
      if (moved) {
        log_info("stopping: leadership moved");
      } else {
        log_warn("stopping: leadership did not move within {} ms; stopping anyway",
                 options.shutdown_transfer_timeout_ms);
      }
    }
    run_sync([&] {
      const Status why(Code::kUnavailable, cat("node ", options.id, " is stopping"));
      for (auto& [id, g] : groups) g->fail_all(why);
      tick_timer.cancel();
    });
    // Let the last messages (a new leader's acknowledgements) go out.
    shutdown_threads();
    log_info("stopped");
  }

  // Peers this node has a live connection to now (a hand-over needs one).
  std::set<raft::NodeId> connected_peers() const {
    std::set<raft::NodeId> out;
    if (!transport) return out;
    for (const net::PeerStats& p : transport->stats()) {
      if (p.connected) out.insert(p.peer);
    }
    return out;
  }

  void shutdown_threads() {
    if (transport) transport->stop();
    raft_work.reset();
    raft_io.stop();
    if (raft_thread.joinable()) raft_thread.join();
    committer.reset();  // completes what is queued; posted results are never run
    groups.clear();
    transport.reset();
  }
};

Result<std::unique_ptr<Node>> Node::start(NodeOptions options, observe::Registry* metrics) {
  if (Status s = validate(options); !s.is_ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->metrics = metrics;
  impl->cluster_id = cluster_id_for_token(impl->options.cluster_token);
  if (metrics != nullptr) {
    impl->fsync_seconds =
        metrics->histogram("meridian_storage_fsync_seconds", "Duration of each journal fdatasync.",
                           observe::exponential_buckets(0.0001, 2, 16));
  }
  if (Status s = impl->open_storage(); !s.is_ok()) return s;
  if (Status s = impl->open_groups(); !s.is_ok()) return s;
  if (Status s = impl->start_transport(); !s.is_ok()) return s;
  impl->publish_status();
  Impl* p = impl.get();
  impl->raft_thread = std::thread([p] {
    base::set_thread_name("raft");
    p->raft_io.run();
  });
  impl->post([p] {
    p->next_tick = Clock::now();
    p->schedule_tick();
  });
  log_info("node {} started: cluster '{}' ({:#x}), {} group(s), peer port {}", p->options.id,
           p->options.cluster_token, p->cluster_id, p->groups.size(), p->transport->port());
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

void Node::propose(GroupId group, std::string command, ProposeDone done) {
  impl_->with_group(group, /*writes=*/true, std::move(done),
                    [command = std::move(command)](Group* g, ProposeDone done) mutable {
                      g->propose(std::move(command), std::move(done));
                    });
}

void Node::read(GroupId group, bool linearizable, Query query, ReadDone done) {
  impl_->with_group(group, /*writes=*/false, std::move(done),
                    [linearizable, query = std::move(query)](Group* g, ReadDone done) mutable {
                      g->read(linearizable, std::move(query), std::move(done));
                    });
}

void Node::propose_membership(GroupId group, MembershipChange change, ProposeDone done) {
  impl_->with_group(group, /*writes=*/true, std::move(done),
                    [change = std::move(change)](Group* g, ProposeDone done) mutable {
                      g->propose_membership(std::move(change), std::move(done));
                    });
}

void Node::read_membership(GroupId group, MembershipDone done) {
  read(
      group, /*linearizable=*/true, [](const StateMachine&) { return std::string(); },
      [this, group, done = std::move(done)](Result<std::string> r) {
        if (!r.is_ok()) {
          done(r.status());
          return;
        }
        // On the raft thread, with everything up to the read point applied.
        Group* g = impl_->group(group);
        if (g == nullptr) {
          done(Status(Code::kNotFound, cat("no group ", group)));
          return;
        }
        done(g->conf_state());
      });
}

void Node::set_peer(raft::NodeId id, std::string address) {
  // The transport takes it from any thread; it exists from start() to stop().
  if (impl_->transport && !impl_->stopping.load()) impl_->transport->set_peer(id, address);
}

bool Node::removed() const { return impl_->removed.load(); }

void Node::transfer_leader(GroupId group, raft::NodeId target) {
  impl_->post([this, group, target] {
    if (Group* g = impl_->group(group)) g->transfer_leader(target);
  });
}

void Node::stop() { stop_impl(true); }

void Node::halt() { stop_impl(false); }

void Node::stop_impl(bool hand_over) {
  {
    std::unique_lock lock(impl_->stop_mu);
    if (impl_->stop_started) {
      impl_->stop_cv.wait(lock, [&] { return impl_->stop_done; });
      return;
    }
    impl_->stop_started = true;
  }
  impl_->graceful_stop(hand_over);
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stop_done = true;
  }
  impl_->stop_cv.notify_all();
}

void Node::wait_stopped() {
  std::unique_lock lock(impl_->stop_mu);
  impl_->stop_cv.wait(lock, [&] { return impl_->stop_done; });
}

bool Node::stopped() const {
  std::lock_guard lock(impl_->stop_mu);
  return impl_->stop_done;
}

raft::Term Node::term(GroupId group) const {
  std::lock_guard lock(impl_->status_mu);
  for (const GroupStatus& g : impl_->published.groups) {
    if (g.group == group) return g.term;
  }
  return raft::Term{0};
}

raft::NodeId Node::leader(GroupId group) const {
  std::lock_guard lock(impl_->status_mu);
  for (const GroupStatus& g : impl_->published.groups) {
    if (g.group == group) return g.leader;
  }
  return raft::kNoNode;
}

NodeStatus Node::status() const {
  std::lock_guard lock(impl_->status_mu);
  return impl_->published;
}

bool Node::ready(uint64_t max_lag) const {
  const NodeStatus st = status();
  if (st.storage_failed || st.stopping || st.groups.empty()) return false;
  for (const GroupStatus& g : st.groups) {
    if (g.leader == raft::kNoNode) return false;
    if (g.commit - g.applied > max_lag) return false;
  }
  return true;
}

raft::NodeId Node::id() const { return impl_->options.id; }

uint16_t Node::peer_port() const { return impl_->transport->port(); }

}  // namespace meridian::node
