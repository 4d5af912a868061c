#include "kv/store_testing.h"

#include <stdlib.h>

#include <filesystem>

#include "base/assert.h"
#include "kv/record_codec.h"
#include "kv/rocksdb_options.h"

#include <rocksdb/db.h>

namespace meridian::kv::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/meridian-kv-test-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  MERIDIAN_ASSERT(p != nullptr, "mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::unique_ptr<MvccStore> open_store(const std::string& dir, uint64_t max_range_bytes) {
  StoreOptions o;
  o.dir = dir;
  o.max_range_bytes = max_range_bytes;
  o.block_cache_bytes = 8 << 20;
  auto r = MvccStore::open(o);
  MERIDIAN_ASSERT(r.is_ok(), "open store: ", r.status());
  return std::move(r).value();
}

etcdpb::PutRequest put_request(std::string_view key, std::string_view value) {
  etcdpb::PutRequest r;
  r.set_key(std::string(key));
  r.set_value(std::string(value));
  return r;
}

etcdpb::RangeRequest range_request(std::string_view key, std::string_view range_end,
                                   int64_t revision) {
  etcdpb::RangeRequest r;
  r.set_key(std::string(key));
  r.set_range_end(std::string(range_end));
  r.set_revision(revision);
  return r;
}

etcdpb::DeleteRangeRequest delete_request(std::string_view key, std::string_view range_end) {
  etcdpb::DeleteRangeRequest r;
  r.set_key(std::string(key));
  r.set_range_end(std::string(range_end));
  return r;
}

etcdpb::RequestOp put_op(std::string_view key, std::string_view value) {
  etcdpb::RequestOp op;
  *op.mutable_request_put() = put_request(key, value);
  return op;
}

etcdpb::RequestOp range_op(std::string_view key, std::string_view range_end) {
  etcdpb::RequestOp op;
  *op.mutable_request_range() = range_request(key, range_end);
  return op;
}

etcdpb::RequestOp delete_op(std::string_view key, std::string_view range_end) {
  etcdpb::RequestOp op;
  *op.mutable_request_delete_range() = delete_request(key, range_end);
  return op;
}

etcdpb::Compare compare_version(std::string_view key, etcdpb::Compare::CompareResult result,
                                int64_t version) {
  etcdpb::Compare c;
  c.set_key(std::string(key));
  c.set_target(etcdpb::Compare::VERSION);
  c.set_result(result);
  c.set_version(version);
  return c;
}

void with_raw_db(const std::string& dir, const std::function<void(rocksdb::DB&)>& f) {
  rocksdb::DB* raw = nullptr;
  StoreOptions o;
  o.dir = dir;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb_options(o), dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  f(*db);
}

RawContents raw_contents(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir, &raw);
  MERIDIAN_ASSERT(s.ok(), "open ", dir, ": ", s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  RawContents out;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::string scratch;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view k = it->key().ToStringView();
    if (k[0] == kVersionTag) {
      const std::string key(decode_user_key(encoded_part(k), &scratch));
      ++out.versions[key];
      bool tombstone = false;
      MERIDIAN_ASSERT(record_is_tombstone(it->value().ToStringView(), &tombstone), "bad record");
      if (tombstone) ++out.tombstones[key];
    } else if (k[0] == kRevisionTag) {
      Revision rev;
      MERIDIAN_ASSERT(decode_revision_key(k, &rev), "bad revision key");
      out.index.push_back(rev);
    }
  }
  return out;
}

base::Result<std::string> read_in_pieces(base::ByteSource& source, size_t max_bytes) {
  std::string out;
  while (true) {
    auto piece = source.read(max_bytes);
    if (!piece.is_ok()) return piece.status();
    if (piece.value().empty()) break;
    EXPECT_LE(piece.value().size(), max_bytes);
    out += piece.value();
  }
  auto again = source.read(max_bytes);
  EXPECT_TRUE(again.is_ok() && again.value().empty()) << "a source said it ended, then did not";
  return out;
}

std::string keys_of(const etcdpb::RangeResponse& resp) {
  std::string out;
  for (const auto& kv : resp.kvs()) {
    if (!out.empty()) out += ',';
    out += kv.key();
  }
  return out;
}

void RecordingListener::on_events(int64_t revision, std::vector<mvccpb::Event> events) {
  std::lock_guard lk(mu_);
  batches_.push_back(Batch{revision, std::move(events)});
}

void RecordingListener::on_compacted(int64_t revision) {
  std::lock_guard lk(mu_);
  compacted_.push_back(revision);
}

void RecordingListener::on_reset(int64_t revision) {
  std::lock_guard lk(mu_);
  resets_.push_back(revision);
}

std::vector<RecordingListener::Batch> RecordingListener::batches() const {
  std::lock_guard lk(mu_);
  return batches_;
}

std::vector<int64_t> RecordingListener::compacted() const {
  std::lock_guard lk(mu_);
  return compacted_;
}

std::vector<int64_t> RecordingListener::resets() const {
  std::lock_guard lk(mu_);
  return resets_;
}

int64_t StoreTest::put(std::string_view key, std::string_view value) {
  return put(put_request(key, value)).header().revision();
}

etcdpb::PutResponse StoreTest::put(const etcdpb::PutRequest& req) {
  etcdpb::PutResponse resp;
  EXPECT_EQ(store_->put(next_index(), req, &resp), Errc::kOk) << req.ShortDebugString();
  return resp;
}

int64_t StoreTest::del(std::string_view key, std::string_view range_end) {
  etcdpb::DeleteRangeResponse resp;
  EXPECT_EQ(store_->delete_range(next_index(), delete_request(key, range_end), &resp), Errc::kOk);
  return resp.header().revision();
}

etcdpb::TxnResponse StoreTest::txn(const etcdpb::TxnRequest& req) {
  etcdpb::TxnResponse resp;
  EXPECT_EQ(store_->txn(next_index(), req, &resp), Errc::kOk) << req.ShortDebugString();
  return resp;
}

void StoreTest::compact(int64_t revision, bool physical) {
  etcdpb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(physical);
  etcdpb::CompactionResponse resp;
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kOk);
  if (physical) store_->wait_for_compaction();  // as the API does before answering
}

etcdpb::RangeResponse StoreTest::range(const etcdpb::RangeRequest& req) {
  etcdpb::RangeResponse resp;
  EXPECT_EQ(store_->range(req, &resp), Errc::kOk) << req.ShortDebugString();
  return resp;
}

etcdpb::RangeResponse StoreTest::get(std::string_view key, std::string_view range_end,
                                     int64_t revision) {
  return range(range_request(key, range_end, revision));
}

std::string StoreTest::value_at(std::string_view key, int64_t revision) {
  const etcdpb::RangeResponse r = get(key, "", revision);
  return r.kvs_size() == 0 ? "<none>" : r.kvs(0).value();
}

void StoreTest::write_compacted_history() {
  for (int i = 0; i < 30; ++i) put("k" + std::to_string(i % 9), std::to_string(i));
  del("k3");
  put(std::string("z\0z", 3), "binary\xff");
  compact(10);
}

}  // namespace meridian::kv::testing
