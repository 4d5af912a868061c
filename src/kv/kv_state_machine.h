// KvStateMachine: the coordination group's state machine. Decodes the commands
// of command.h from committed entries, applies them to the MvccStore and encodes
// the results; the store's applied index makes it durable on its own (the node
// skips restoring a snapshot older than what the store already holds, and
// replays only newer entries).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "kv/mvcc_store.h"
#include "node/state_machine.h"

namespace meridian::kv {

class KvStateMachine final : public node::StateMachine {
 public:
  explicit KvStateMachine(std::unique_ptr<MvccStore> store);
  ~KvStateMachine() override;

  std::string apply(raft::Index index, std::string_view command) override;
  std::string snapshot() const override;
  base::Status restore(std::string_view data) override;
  std::unique_ptr<base::ByteSource> image() const override;
  base::Status restore_from(base::ByteSource& source) override;
  // MemberAdd's change carries the new member's record (etcdserverpb.Member)
  // as context: it is stored; a removal drops the member's record.
  void apply_membership(raft::Index index, const raft::ConfChangeSingle& change,
                        std::string_view context) override;
  bool durable() const override { return true; }
  raft::Index durable_applied_index() const override;
  base::Status sync(raft::Index applied) override;

  MvccStore& store() { return *store_; }
  const MvccStore& store() const { return *store_; }

  // Called on the apply thread whenever the member records may have changed (a
  // record written or removed, a snapshot restored): the server keeps the
  // node's peer addresses in step with them. May be set from any thread; once
  // it returns, the observer it replaced is not running.
  void set_members_observer(std::function<void()> observer);

 private:
  void members_changed();

  std::unique_ptr<MvccStore> store_;
  std::mutex observer_mu_;
  std::function<void()> members_observer_;  // guarded by observer_mu_
};

}  // namespace meridian::kv
