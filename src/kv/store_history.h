// MvccStore::history over the revision index ('r' entries), for watchers
// catching up. Any thread (the caller holds the store's state lock shared, or
// is the apply thread).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "kv/errors.h"
#include "kv/store_impl.h"

namespace meridian::kv {

// As MvccStore::history; max_events 0 means no limit. Events at the compacted
// revision itself carry no prev_kv (the version before them is compacted; etcd
// cannot read it either), and a delete at that revision whose tombstone the
// compaction removed is still reported (from its index entry).
Errc read_history(const MvccStore::Impl& impl, std::string_view key, std::string_view range_end,
                  int64_t from, int64_t to, bool with_prev_kv, size_t max_events,
                  std::vector<mvccpb::Event>* out, int64_t* next);

}  // namespace meridian::kv
