// StateMachine: what a Raft group replicates. The node applies committed commands
// to it in log order, on the node's thread, and asks it for snapshots to compact
// the log and to bring lagging members up to date.
//
// Determinism: apply() must produce the same state and result on every member
// from the same sequence of commands; it may not read clocks or random sources.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/byte_source.h"
#include "base/status.h"
#include "raft/types.h"

namespace meridian::node {

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies the command committed at `index`; the result goes back to the
  // proposer. A command the machine rejects still counts as applied (the log
  // has it everywhere): return the error as the result, do not fail.
  virtual std::string apply(raft::Index index, std::string_view command) = 0;
  // The whole state as bytes (taken after everything up to the applied index).
  virtual std::string snapshot() const = 0;
  // Replaces the whole state with a snapshot's; kCorruption if it does not decode
  // (the state is then unchanged).
  virtual base::Status restore(std::string_view data) = 0;
  // A membership change committed at `index` and now in effect in the group's
  // Raft configuration (node/membership.h), with the context its proposer gave.
  // Like apply(), deterministic; a durable machine records `index` as applied.
  // Changes the group refused never come here. Default: nothing kept.
  virtual void apply_membership(raft::Index /*index*/, const raft::ConfChangeSingle& /*change*/,
                                std::string_view /*context*/) {}

  // The same two for states too large to hold in memory. image() is the state
  // as snapshot() would give it, fixed now (at the applied index) but read
  // later, in pieces, possibly on another thread and after more commands were
  // applied. restore_from() replaces the state with such an image read in
  // pieces; kCorruption if it does not decode. A machine that cannot check a
  // whole image before changing its state may then be left incomplete: a
  // durable one reports durable_applied_index() 0 until a restore succeeds, so
  // that the node restores again after a restart. The defaults go through
  // snapshot() and restore() in memory; a large machine overrides both.
  virtual std::unique_ptr<base::ByteSource> image() const {
    return std::make_unique<base::StringSource>(snapshot());
  }
  virtual base::Status restore_from(base::ByteSource& source) {
    auto data = base::read_all(source, kImageInMemoryMax);
    if (!data.is_ok()) return data.status();
    return restore(data.value());
  }
  // The largest image the defaults read into memory.
  static constexpr size_t kImageInMemoryMax = size_t{1} << 30;

  // --- durable machines -----------------------------------------------------
  // A durable machine keeps its state on disk itself, with the index of the last
  // entry applied to it. The node then treats snapshots differently:
  //   - to compact the log it calls sync() and records a snapshot with no data
  //     (the machine's own files are the snapshot), instead of copying the whole
  //     state into a snapshot file every snapshot_entries entries;
  //   - when a lagging member needs a snapshot, the leader takes snapshot() at
  //     that moment: the image reflects the machine's current applied index,
  //     which may be past the snapshot's index; after restore() the receiver
  //     skips the commands the image already holds (durable_applied_index());
  //   - on restart no snapshot older than durable_applied_index() is restored,
  //     and the log replays only the entries after it.
  // In-memory machines (durable() false) are rebuilt from snapshot and log.
  virtual bool durable() const { return false; }
  // The index of the last entry the machine's state reflects (0 if unknown).
  virtual raft::Index durable_applied_index() const { return raft::Index{0}; }
  // Makes everything applied so far durable (survives a crash of the machine),
  // recording that the state reflects every entry up to `applied` (entries the
  // machine never saw, such as a new leader's no-op, change nothing).
  virtual base::Status sync(raft::Index /*applied*/) { return base::Status::ok(); }
};

}  // namespace meridian::node
