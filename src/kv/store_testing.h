// Test support for the MVCC store: a temporary directory, request builders and
// a listener that records what it receives. Tests only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "base/byte_source.h"
#include "kv/key_codec.h"
#include "kv/mvcc_store.h"

namespace meridian::kv::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Opens (asserting success) a store in `dir`; max_range_bytes 0 = unbounded.
std::unique_ptr<MvccStore> open_store(const std::string& dir, uint64_t max_range_bytes = 0);

etcdpb::PutRequest put_request(std::string_view key, std::string_view value);
etcdpb::RangeRequest range_request(std::string_view key, std::string_view range_end = "",
                                   int64_t revision = 0);
etcdpb::DeleteRangeRequest delete_request(std::string_view key, std::string_view range_end = "");
etcdpb::RequestOp put_op(std::string_view key, std::string_view value);
etcdpb::RequestOp range_op(std::string_view key, std::string_view range_end = "");
etcdpb::RequestOp delete_op(std::string_view key, std::string_view range_end = "");
etcdpb::Compare compare_version(std::string_view key, etcdpb::Compare::CompareResult result,
                                int64_t version);

// What a closed store's RocksDB directory holds: the number of version records
// (tombstones included) per user key, and the revision-index entries.
struct RawContents {
  std::map<std::string, int> versions;
  std::map<std::string, int> tombstones;
  std::vector<Revision> index;
};
RawContents raw_contents(const std::string& dir);
// Opens a closed store's RocksDB directory as a plain database (read-write, the
// store's options) for f, and closes it after.
void with_raw_db(const std::string& dir, const std::function<void(rocksdb::DB&)>& f);

// Everything a source still holds, read with reads of max_bytes, each checked to
// return 1 to max_bytes bytes; the first error instead if one comes. After the
// end, checks that the source keeps saying so.
base::Result<std::string> read_in_pieces(base::ByteSource& source, size_t max_bytes);

// Keys of the kvs of a response, in order, joined by ','.
std::string keys_of(const etcdpb::RangeResponse& resp);

// Records every call, for tests; thread-safe.
class RecordingListener final : public EventListener {
 public:
  struct Batch {
    int64_t revision;
    std::vector<mvccpb::Event> events;
  };
  void on_events(int64_t revision, std::vector<mvccpb::Event> events) override;
  void on_compacted(int64_t revision) override;
  void on_reset(int64_t revision) override;

  std::vector<Batch> batches() const;
  std::vector<int64_t> compacted() const;
  std::vector<int64_t> resets() const;

 private:
  mutable std::mutex mu_;
  std::vector<Batch> batches_;
  std::vector<int64_t> compacted_;
  std::vector<int64_t> resets_;
};

// A store in a temporary directory, with shorthands that apply writes at
// consecutive Raft indexes and expect them to succeed.
class StoreTest : public ::testing::Test {
 protected:
  explicit StoreTest(uint64_t max_range_bytes = 0) : max_range_bytes_(max_range_bytes) {
    store_ = open_store(dir_.path(), max_range_bytes_);
  }

  void reopen() {
    store_.reset();
    store_ = open_store(dir_.path(), max_range_bytes_);
  }
  raft::Index next_index() { return raft::Index{++index_}; }

  // Returns the response's revision.
  int64_t put(std::string_view key, std::string_view value);
  etcdpb::PutResponse put(const etcdpb::PutRequest& req);
  int64_t del(std::string_view key, std::string_view range_end = "");
  etcdpb::TxnResponse txn(const etcdpb::TxnRequest& req);
  void compact(int64_t revision, bool physical = true);
  etcdpb::RangeResponse range(const etcdpb::RangeRequest& req);
  etcdpb::RangeResponse get(std::string_view key, std::string_view range_end = "",
                            int64_t revision = 0);
  // The value of key at revision, or "<none>".
  std::string value_at(std::string_view key, int64_t revision = 0);
  // A history for the snapshot tests: overwrites, a delete, a binary key and
  // value, and a physical compaction at revision 10.
  void write_compacted_history();

  uint64_t max_range_bytes_;
  TempDir dir_;
  std::unique_ptr<MvccStore> store_;
  uint64_t index_ = 0;
};

}  // namespace meridian::kv::testing
