#include "node/group_testing.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>

#include "node/map_state_machine.h"
#include "storage/file_system.h"

namespace meridian::node {

namespace {
const GroupId kGroup{1};
constexpr auto kPostWait = std::chrono::seconds(10);
}  // namespace

GroupHarness::GroupHarness(std::function<void(NodeOptions&)> tweak) {
  char tmpl[] = "/tmp/meridian-group-XXXXXX";
  root_ = ::mkdtemp(tmpl);
  options_.id = raft::NodeId{1};
  // Ticks come only from tick(); a long tick keeps the group's own wall-clock
  // patience (a read round's, a reissue's) out of the way of a slow test run.
  options_.tick_ms = 60000;
  options_.proposal_timeout_ms = 600000;
  if (tweak) tweak(options_);

  auto engine = storage::LogEngine::open(
      &fs_, storage::LogEngineOptions{.dir = storage::join_path(root_, "journal")});
  EXPECT_TRUE(engine.is_ok()) << engine.status();
  engine_ = std::move(engine).value();
  auto snaps = storage::SnapshotStore::open(&fs_, storage::join_path(root_, "snapshots"));
  EXPECT_TRUE(snaps.is_ok()) << snaps.status();
  snapshots_ = std::move(snaps).value();
  committer_ = std::make_unique<storage::GroupCommitter>(engine_.get());

  // The bootstrap every member of a new cluster does (node.cc).
  raft::ConfState conf;
  conf.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
  const raft::SnapshotMeta meta{raft::Index{1}, raft::Term{1}, conf};
  auto writer = snapshots_->begin(kGroup, meta);
  EXPECT_TRUE(writer.is_ok());
  EXPECT_TRUE(writer.value()->append(MapStateMachine().snapshot()).is_ok());
  EXPECT_TRUE(writer.value()->finish().is_ok());
  storage::WriteBatch batch;
  batch.install_snapshot(kGroup, meta);
  batch.set_hard_state(kGroup, raft::HardState{raft::Term{1}, raft::kNoNode, raft::Index{1}});
  EXPECT_TRUE(committer_->write_sync(std::move(batch)).is_ok());

  env_.self = options_.id;
  env_.options = &options_;
  env_.engine = engine_.get();
  env_.snapshots = snapshots_.get();
  env_.committer = committer_.get();
  env_.send = [this](GroupId, raft::Message m, std::shared_ptr<base::ByteSource>) {
    sent_.push_back(std::move(m));
  };
  env_.post = [this](std::function<void()> fn) {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(fn));
    posted_cv_.notify_all();
  };
  env_.post_after = [this](std::chrono::milliseconds, std::function<void()> fn) {
    env_.post(std::move(fn));  // no clock here: at once
  };
  env_.wake = [this](GroupId) { dirty_ = true; };
  env_.fail = [this](const base::Status& s) { failures_.push_back(s); };
  env_.no_space = [](bool) {};
  env_.next_request_id = [this] { return ++request_ids_; };
  auto g = Group::open(kGroup, &env_, std::make_unique<MapStateMachine>(), 42);
  EXPECT_TRUE(g.is_ok()) << g.status();
  group_ = std::move(g).value();
}

GroupHarness::~GroupHarness() {
  settle();
  group_.reset();
  committer_.reset();
  snapshots_.reset();
  engine_.reset();
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

void GroupHarness::settle() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock lock(mu_);
      if (posted_.empty() && !dirty_ && group_->persisting()) {
        // The committer's answer is on its way (a disk write).
        ASSERT_TRUE(posted_cv_.wait_for(lock, kPostWait, [&] { return !posted_.empty(); }))
            << "the committer did not answer";
      }
      if (!posted_.empty()) {
        fn = std::move(posted_.front());
        posted_.pop_front();
      }
    }
    if (fn) {
      fn();
      continue;
    }
    if (!dirty_) return;
    dirty_ = false;
    group_->process_ready();
  }
}

void GroupHarness::tick() {
  group_->tick(Clock::now());
  settle();
}

void GroupHarness::step(raft::Message m) {
  m.to = options_.id;
  group_->step(std::move(m));
  settle();
}

std::vector<raft::Message> GroupHarness::take_sent() {
  std::vector<raft::Message> out;
  out.swap(sent_);
  return out;
}

void GroupHarness::acknowledge(const std::vector<raft::Message>& sent) {
  for (const raft::Message& m : sent) {
    if (m.type != raft::MessageType::kAppend) continue;
    raft::Message ack;
    ack.type = raft::MessageType::kAppendResponse;
    ack.from = m.to;
    ack.term = m.term;
    ack.index = m.entries.empty() ? m.index : m.entries.back().index;
    step(ack);
  }
}

void GroupHarness::become_leader() {
  for (int i = 0; i < 1000 && !group_->is_leader(); ++i) {
    tick();
    for (const raft::Message& m : take_sent()) {
      if (m.type != raft::MessageType::kPreVote && m.type != raft::MessageType::kVote) continue;
      raft::Message grant;
      grant.type = m.type == raft::MessageType::kPreVote ? raft::MessageType::kPreVoteResponse
                                                         : raft::MessageType::kVoteResponse;
      grant.from = m.to;
      grant.term = m.term;
      step(grant);
    }
  }
  ASSERT_TRUE(group_->is_leader());
  // The new leader's empty entry, committed by both followers' acknowledgements.
  for (int i = 0; i < 10; ++i) {
    acknowledge(take_sent());
    const GroupStatus st = group_->status();
    if (st.commit == st.last_index && st.applied == st.commit) return;
  }
  FAIL() << "the leader's first entry did not commit";
}

}  // namespace meridian::node
