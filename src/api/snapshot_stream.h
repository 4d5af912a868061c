// Maintenance/Snapshot: a consistent image of this member's store, streamed.
//
// The image is fixed on the raft thread, at this member's applied index (a
// serializable read whose query takes MvccStore::image(): a RocksDB iterator
// over one point in time), then read in pieces of kSnapshotChunkBytes on the
// read pool, one piece ahead of the client: the next is read only when the
// previous one has been taken by the server, so a slow client holds one piece
// in memory, whatever the store's size, and writes go on meanwhile. The bytes
// are the store's snapshot format (docs/formats/kv.md, "Snapshot": magic,
// records, CRC32C), then zeros, the image's length (u64 little endian) ending
// 32 bytes short of a multiple of 512, then the SHA-256 of all that: the shape
// etcd's stream has (its bbolt file is whole pages), which `etcdctl snapshot
// save` checks. `meridian snapshot
// restore` reads it; `etcdctl snapshot status/restore`, which open a bbolt
// file, do not. remaining_bytes is an estimate (the image's size is known only
// at its end): the store's size on disk less what was sent, at least 1 until
// the last message, which says 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/etcd_server.h"
#include "api/read_pool.h"
#include "base/status.h"
#include "rpc/server.h"

namespace meridian::api {

inline constexpr size_t kSnapshotChunkBytes = 256 * 1024;

void register_snapshot(rpc::Server& server, const EtcdBackend& backend, ReadPool* pool);

// A snapshot stream saved to a file (etcdctl snapshot save): checks its shape,
// its padding and its SHA-256, and returns the length of the image, which is
// the file's first bytes. kCorruption saying what is wrong, kIoError if the
// file cannot be read.
base::Result<uint64_t> check_snapshot_file(const std::string& path);

}  // namespace meridian::api
