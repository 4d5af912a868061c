// Answering a Range from a stream of live kvs, with etcd's semantics
// (etcdserver/apply.go, Range): `count` is every key of the range at the
// revision, before any filter or limit; min/max mod/create revision filters and
// sorting make the whole range a candidate, otherwise only the first limit + 1
// keys are (so sort_target != KEY with sort_order NONE sorts just those, as etcd
// does); `more` says that candidates passing the filters were left out.
//
// Memory stays bounded by max_range_bytes: kvs stop accumulating once the
// answer would pass it (keeping at least one, so that a client paging by key
// always progresses); a sorted answer keeps the best items that fit, so what it
// returns is always a prefix of the full sorted answer. Ties of the sort target
// keep key order (etcd's sort is not stable, so its order among ties is
// arbitrary). Pure computation; any thread.
#pragma once

#include <cstdint>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "kv/range_reader.h"

namespace meridian::kv {

// Fills kvs, count and more (not the header).
void answer_range(const etcdserverpb::RangeRequest& req, KvSource& source, uint64_t max_range_bytes,
                  etcdserverpb::RangeResponse* resp);

}  // namespace meridian::kv
