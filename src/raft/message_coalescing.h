// Merging of a Ready's messages that repeat themselves to one peer.
//
// The leader sends a kAppend per proposal (and an empty one per commit advance),
// and a follower acknowledges every kAppend it takes. Under load one Ready then
// holds dozens of messages to each peer that say what one would: without merging,
// a put cost about eight peer messages over a three-node cluster, each one a
// step and a Ready pass on its receiver.
//
// Only the latest message to a peer in the list is ever merged into, so the order
// of what one peer receives is kept:
//   - a kAppend that continues the previous kAppend to the same peer (same term,
//     its previous index and term are the earlier message's last entry) joins it,
//     as long as the merged entries stay within append_bytes_max; the commit index
//     is the later one's (a follower taking the two in turn ends in the same state);
//   - a successful kAppendResponse after a successful one to the same peer in the
//     same term replaces it with the higher index: within a term a follower's log
//     never loses entries it has matched, so the higher index says all the lower
//     one did. Rejections are never merged (each carries a hint of its own);
//   - heartbeats (and heartbeat responses) to the same peer in the same term
//     become one, with the later ReadIndex context: an acknowledged round confirms
//     every read queued before it too (read_only.h), so the earlier rounds need
//     no answer of their own. Linearizable reads that arrive together then cost
//     one round, not one each.
// The leader's flow control still counts each merged message: an acknowledgement
// of the last entry frees all of them (Inflights::free_le).
#pragma once

#include <cstdint>
#include <vector>

#include "raft/types.h"

namespace meridian::raft {

// Merges in place. `merge_rejections` is the planted bug kCoalesceRejections: a
// rejection merges into the acknowledgement before it as if it were one, so the
// leader believes the follower matches at the very index it refused.
void coalesce_messages(std::vector<Message>& msgs, uint64_t append_bytes_max,
                       bool merge_rejections = false);

}  // namespace meridian::raft
