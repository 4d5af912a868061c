// Config: the parameters of one Raft replica. Read once by Replica::create.
#pragma once

#include <cstdint>

#include "raft/types.h"

namespace meridian::raft {

// How ReadIndex requests are confirmed (Raft thesis §6.4).
enum class ReadOnlyOption : uint8_t {
  // The leader confirms it is still leader with a heartbeat round to a quorum.
  kSafe = 0,
  // The leader relies on its lease (check_quorum must be on): a quorum heard from
  // within the current election timeout. Faster, but correct only if clock drift
  // plus message delay stay well below the election timeout. Without a fresh
  // quorum a read falls back to the safe heartbeat round.
  kLeaseBased = 1,
};

// Bugs that a test build can plant on purpose to prove the simulator's checkers
// find them (docs/correctness.md). Only consulted when MERIDIAN_PLANTED_BUGS is
// defined; a production build compiles every check below to `false`.
enum class PlantedBug : uint8_t {
  kNone = 0,
  kCommitOldTermByCount,    // count replicas for entries of older terms (Figure 8)
  kVoteWithoutLogCheck,     // grant votes without the §5.4.1 up-to-date check
  kAckBeforePersist,        // a follower acknowledges entries before they are durable
  kReadIndexWithoutQuorum,  // serve ReadIndex without confirming leadership
  kCoalesceRejections,      // merge an append rejection into an acknowledgement
};

struct Config {
  NodeId id = kNoNode;

  // Ticks without hearing from a leader before a follower campaigns. The actual
  // timeout is drawn uniformly from [election_ticks, 2 * election_ticks) after every
  // reset, so that split votes resolve (Raft §5.2).
  int election_ticks = 10;
  // Ticks between leader heartbeats; must be well below election_ticks.
  int heartbeat_ticks = 1;

  // Seed of the replica's own random source (election timeouts). Deterministic:
  // the core reads no clock and no global random state.
  uint64_t random_seed = 0;

  // Index the application has already applied (on restart); entries up to it are
  // not handed out again.
  Index applied;

  // Largest total entry payload in one kAppend message.
  uint64_t append_bytes_max = 1 << 20;
  // Flow control: kAppend messages and bytes in flight to one follower in the
  // replicate state (Raft thesis §10.2.1 pipelining).
  uint32_t inflight_messages_max = 256;
  uint64_t inflight_bytes_max = 32ull << 20;
  // Largest total of uncommitted entry payload the leader accepts before dropping
  // proposals (0: no limit). Bounds memory when followers fall behind.
  uint64_t uncommitted_bytes_max = 64ull << 20;
  // Largest total of committed entries in one Ready.
  uint64_t committed_bytes_per_ready_max = 16ull << 20;

  bool pre_vote = true;      // Raft thesis §9.6
  bool check_quorum = true;  // a leader steps down without a quorum for an election timeout
  ReadOnlyOption read_only = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;

  PlantedBug planted_bug = PlantedBug::kNone;

  Status validate() const;
};

}  // namespace meridian::raft

// MERIDIAN_PLANTED(config, kBug): true only in the planted-bug test build when the
// config asks for that bug. Production code paths test it where a bug is planted.
#ifdef MERIDIAN_PLANTED_BUGS
#define MERIDIAN_PLANTED(config, bug) ((config).planted_bug == ::meridian::raft::PlantedBug::bug)
#else
#define MERIDIAN_PLANTED(config, bug) false
#endif
