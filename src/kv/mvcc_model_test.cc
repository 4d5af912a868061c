// The strongest test of the store: thousands of random puts, deletes, txns
// (nested, with compares of every kind and ranges that read their own writes)
// and compactions, applied to MvccStore and to EtcdModel (etcd's semantics in
// the plainest form); after every step the answers, revisions and events must
// be identical, and ranges and histories at random revisions too. Restarts and
// snapshot/restore into a fresh store happen along the way; at the end every
// revision is read back and the store's files must hold exactly what
// compaction keeps.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <random>

#include "kv/etcd_model_testing.h"
#include "kv/store_testing.h"
#include "kv/validate.h"

namespace meridian::kv {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::EtcdModel;
using testing::RecordingListener;
using testing::TempDir;

const std::string kZero(1, '\0');

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return uniform(1, 100) <= percent; }

  std::string key() {
    static const std::string kKeys[] = {"a",
                                        "ab",
                                        "abc",
                                        "b",
                                        "ba",
                                        "c",
                                        std::string("a\0", 2),
                                        std::string("b\0x", 3),
                                        "\xff",
                                        "d",
                                        "e",
                                        "foo",
                                        "foo/1",
                                        "foo/2",
                                        "g"};
    return kKeys[uniform(0, std::size(kKeys) - 1)];
  }
  std::string value() {
    if (chance(10)) return "";
    if (chance(70)) return "v" + std::to_string(uniform(0, 9));
    return std::string(uniform(1, 40), static_cast<char>('a' + uniform(0, 25)));
  }
  // One of etcd's range forms.
  std::pair<std::string, std::string> range() {
    switch (uniform(0, 5)) {
      case 0:
      case 1:
        return {key(), ""};
      case 2:
        return {key(), key()};  // may be empty (end <= key)
      case 3:
        return {key(), kZero};  // from key
      case 4:
        return {kZero, kZero};  // everything
      default:
        return {"foo/", "foo0"};  // a prefix
    }
  }
  int64_t revision(int64_t compacted, int64_t current) {
    if (chance(50)) return 0;
    return uniform(static_cast<int>(std::max<int64_t>(compacted - 2, -1)),
                   static_cast<int>(current + 2));
  }

  etcdpb::RangeRequest range_request(int64_t compacted, int64_t current) {
    etcdpb::RangeRequest r;
    auto [k, e] = range();
    r.set_key(k);
    r.set_range_end(e);
    r.set_revision(revision(compacted, current));
    if (chance(40)) r.set_limit(uniform(1, 5));
    if (chance(30)) r.set_sort_order(static_cast<etcdpb::RangeRequest::SortOrder>(uniform(0, 2)));
    if (chance(30)) r.set_sort_target(static_cast<etcdpb::RangeRequest::SortTarget>(uniform(0, 4)));
    if (chance(10)) r.set_keys_only(true);
    if (chance(10)) r.set_count_only(true);
    const int cur = static_cast<int>(current);
    if (chance(10)) r.set_min_mod_revision(uniform(0, cur));
    if (chance(10)) r.set_max_mod_revision(uniform(0, cur));
    if (chance(10)) r.set_min_create_revision(uniform(0, cur));
    if (chance(10)) r.set_max_create_revision(uniform(0, cur));
    return r;
  }

  etcdpb::PutRequest put_request() {
    etcdpb::PutRequest r;
    r.set_key(key());
    r.set_prev_kv(chance(30));
    if (chance(8)) {
      r.set_ignore_value(true);
    } else {
      r.set_value(value());
    }
    if (chance(8)) r.set_ignore_lease(true);
    if (chance(2)) r.set_lease(uniform(1, 100));
    return r;
  }

  etcdpb::DeleteRangeRequest delete_request() {
    etcdpb::DeleteRangeRequest r;
    auto [k, e] = range();
    r.set_key(k);
    r.set_range_end(e);
    r.set_prev_kv(chance(30));
    return r;
  }

  etcdpb::Compare compare(int64_t current) {
    etcdpb::Compare c;
    auto [k, e] = chance(85) ? std::pair<std::string, std::string>{key(), ""} : range();
    c.set_key(k);
    c.set_range_end(e);
    c.set_target(static_cast<etcdpb::Compare::CompareTarget>(uniform(0, 4)));
    c.set_result(static_cast<etcdpb::Compare::CompareResult>(uniform(0, 3)));
    // Mostly the union field that matches the target; sometimes another one.
    const int field = chance(85) ? static_cast<int>(c.target()) : uniform(0, 4);
    const int rev = uniform(0, static_cast<int>(current) + 1);
    switch (field) {
      case 0:
        c.set_version(uniform(0, 4));
        break;
      case 1:
        c.set_create_revision(rev);
        break;
      case 2:
        c.set_mod_revision(rev);
        break;
      case 3:
        c.set_value(value());
        break;
      default:
        c.set_lease(chance(80) ? 0 : 7);
        break;
    }
    return c;
  }

  etcdpb::TxnRequest txn_request(int64_t compacted, int64_t current, int depth) {
    etcdpb::TxnRequest t;
    for (int i = uniform(0, 3); i > 0; --i) *t.add_compare() = compare(current);
    for (auto* ops : {t.mutable_success(), t.mutable_failure()}) {
      for (int i = uniform(0, 4); i > 0; --i) {
        etcdpb::RequestOp& op = *ops->Add();
        const int kind = uniform(0, 99);
        if (kind < 30) {
          *op.mutable_request_range() = range_request(compacted, current);
          // Mostly the txn's own revision (reads its writes).
          if (chance(70)) op.mutable_request_range()->set_revision(0);
        } else if (kind < 65) {
          *op.mutable_request_put() = put_request();
          if (chance(90)) op.mutable_request_put()->set_lease(0);
        } else if (kind < 85 || depth >= 2) {
          *op.mutable_request_delete_range() = delete_request();
        } else {
          *op.mutable_request_txn() = txn_request(compacted, current, depth + 1);
        }
      }
    }
    return t;
  }

 private:
  std::mt19937 rng_;
};

class ModelTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  ModelTest() : gen_(GetParam()) {
    dirs_.push_back(std::make_unique<TempDir>());
    open();
  }

  void open() {
    store_ = testing::open_store(dirs_.back()->path());
    store_->set_listener(&listener_);
  }

  raft::Index next_index() { return raft::Index{++index_}; }

  // The listener must have received exactly the model's events, if the write
  // changed something.
  void expect_events(int64_t rev_before) {
    const auto batches = listener_.batches();
    if (model_.revision() == rev_before) {
      EXPECT_EQ(batches.size(), batches_seen_) << "a write that changed nothing sent events";
      return;
    }
    ASSERT_EQ(batches.size(), batches_seen_ + 1);
    batches_seen_ = batches.size();
    const auto& b = batches.back();
    EXPECT_EQ(b.revision, model_.revision());
    ASSERT_EQ(b.events.size(), model_.last_events().size());
    for (size_t i = 0; i < b.events.size(); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals(b.events[i], model_.last_events()[i]))
          << b.events[i].ShortDebugString() << "\nvs model\n"
          << model_.last_events()[i].ShortDebugString();
    }
  }

  template <class Req, class Resp, class StoreFn, class ModelFn>
  void write(const Req& req, StoreFn store_fn, ModelFn model_fn) {
    Resp got;
    Resp want;
    const int64_t before = model_.revision();
    const Errc g = store_fn(req, &got);
    const Errc w = model_fn(req, &want);
    ASSERT_EQ(g, w) << req.ShortDebugString();
    if (g == Errc::kOk) {
      ASSERT_TRUE(MessageDifferencer::Equals(got, want))
          << req.ShortDebugString() << "\nstore: " << got.ShortDebugString()
          << "\nmodel: " << want.ShortDebugString();
    }
    ASSERT_EQ(store_->revision(), model_.revision());
    ASSERT_EQ(store_->applied_index(), raft::Index{index_});
    expect_events(before);
  }

  void check_range(const etcdpb::RangeRequest& req) {
    etcdpb::RangeResponse got;
    etcdpb::RangeResponse want;
    const Errc g = store_->range(req, &got);
    const Errc w = model_.range(req, &want);
    ASSERT_EQ(g, w) << req.ShortDebugString();
    if (g == Errc::kOk) {
      ASSERT_TRUE(MessageDifferencer::Equals(got, want))
          << req.ShortDebugString() << "\nstore: " << got.ShortDebugString()
          << "\nmodel: " << want.ShortDebugString();
      if (got.kvs_size() > 1) ++ranges_with_kvs_;
    }
    ++ranges_checked_;
  }

  void check_history() {
    auto [k, e] = gen_.range();
    const int64_t from = gen_.uniform(static_cast<int>(model_.compact_revision()),
                                      static_cast<int>(model_.revision()));
    const int64_t to = gen_.uniform(static_cast<int>(from), static_cast<int>(model_.revision()));
    const bool prev = gen_.chance(50);
    const auto want = model_.history(k, e, from, to, prev);
    // Read in pages of a few events; whole revisions per page.
    std::vector<mvccpb::Event> got;
    int64_t at = from;
    const size_t page = gen_.uniform(1, 6);
    for (int guard = 0; at <= to; ++guard) {
      ASSERT_LT(guard, 10000);
      std::vector<mvccpb::Event> part;
      int64_t next = 0;
      ASSERT_EQ(store_->history(k, e, at, to, prev, page, &part, &next), Errc::kOk);
      ASSERT_GT(next, at);
      if (part.size() > page) {
        // Only one revision alone may pass the page size.
        for (const auto& ev : part) ASSERT_EQ(ev.kv().mod_revision(), part[0].kv().mod_revision());
      }
      for (auto& ev : part) got.push_back(std::move(ev));
      at = next;
    }
    ASSERT_EQ(got.size(), want.size()) << "history " << from << ".." << to;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(MessageDifferencer::Equals(got[i], want[i]))
          << got[i].ShortDebugString() << "\nvs model\n"
          << want[i].ShortDebugString();
    }
    if (model_.compact_revision() > 1) {
      std::vector<mvccpb::Event> out;
      int64_t next = 0;
      EXPECT_EQ(store_->history(k, e, model_.compact_revision() - 1, to, prev, 0, &out, &next),
                Errc::kCompacted);
    }
  }

  void step() {
    const int64_t cur = model_.revision();
    const int64_t compacted = model_.compact_revision();
    const int kind = gen_.uniform(0, 999);
    const raft::Index index = next_index();
    if (kind < 330) {
      write<etcdpb::PutRequest, etcdpb::PutResponse>(
          gen_.put_request(), [&](auto& r, auto* o) { return store_->put(index, r, o); },
          [&](auto& r, auto* o) { return model_.put(r, o); });
    } else if (kind < 420) {
      write<etcdpb::DeleteRangeRequest, etcdpb::DeleteRangeResponse>(
          gen_.delete_request(),
          [&](auto& r, auto* o) { return store_->delete_range(index, r, o); },
          [&](auto& r, auto* o) { return model_.delete_range(r, o); });
    } else if (kind < 650) {
      const etcdpb::TxnRequest t = gen_.txn_request(compacted, cur, 0);
      if (validate_txn(t, Limits{}) != Errc::kOk) {
        ++txns_refused_;
        store_->mark_applied(index);
        return;
      }
      ++txns_applied_;
      write<etcdpb::TxnRequest, etcdpb::TxnResponse>(
          t, [&](auto& r, auto* o) { return store_->txn(index, r, o); },
          [&](auto& r, auto* o) { return model_.txn(r, o); });
      if (is_read_only(t)) {
        etcdpb::TxnResponse got;
        etcdpb::TxnResponse want;
        const Errc g = store_->read_txn(t, &got);
        ASSERT_EQ(g, model_.txn(t, &want));
        if (g == Errc::kOk) {
          ASSERT_TRUE(MessageDifferencer::Equals(got, want));
        }
      }
    } else if (kind < 665) {
      // Mostly a little way past the last compaction, so that plenty of history
      // stays readable; sometimes at or below it, or in the future (refused).
      etcdpb::CompactionRequest c;
      const int lo = static_cast<int>(compacted);
      const int choice = gen_.uniform(0, 9);
      if (choice == 0) {
        c.set_revision(gen_.uniform(lo - 1, lo));  // refused: compacted
      } else if (choice == 1) {
        c.set_revision(cur + 1);  // refused: future
      } else {
        // Keep the last few hundred revisions readable.
        c.set_revision(gen_.uniform(lo + 1, std::max(lo + 1, static_cast<int>(cur) - 300)));
      }
      c.set_physical(gen_.chance(30));
      const int64_t before = model_.compact_revision();
      write<etcdpb::CompactionRequest, etcdpb::CompactionResponse>(
          c, [&](auto& r, auto* o) { return store_->compact(index, r, o); },
          [&](auto& r, auto* o) { return model_.compact(r, o); });
      if (c.physical()) store_->wait_for_compaction();
      ASSERT_EQ(store_->compact_revision(), model_.compact_revision());
      if (model_.compact_revision() != before) {
        ASSERT_FALSE(listener_.compacted().empty());
        EXPECT_EQ(listener_.compacted().back(), model_.compact_revision());
      }
    } else if (kind < 960) {
      store_->mark_applied(index);
      check_range(gen_.range_request(compacted, cur));
    } else if (kind < 990) {
      store_->mark_applied(index);
      check_history();
    } else if (kind < 996) {
      store_.reset();
      open();
      ASSERT_EQ(store_->applied_index(), raft::Index{index_ - 1});
      store_->mark_applied(index);
      ++restarts_;
    } else {
      // Move to a fresh store through a snapshot.
      const std::string snap = store_->snapshot();
      dirs_.push_back(std::make_unique<TempDir>());
      auto fresh = testing::open_store(dirs_.back()->path());
      RecordingListener fresh_listener;
      fresh->set_listener(&fresh_listener);
      ASSERT_TRUE(fresh->restore(snap).is_ok());
      ASSERT_EQ(fresh_listener.resets(), std::vector<int64_t>{model_.revision()});
      fresh->set_listener(nullptr);
      ASSERT_EQ(fresh->applied_index(), raft::Index{index_ - 1});
      ASSERT_EQ(fresh->revision(), model_.revision());
      ASSERT_EQ(fresh->compact_revision(), model_.compact_revision());
      store_ = std::move(fresh);
      store_->set_listener(&listener_);
      store_->mark_applied(index);
      ++restores_;
    }
  }

  // Every revision from the compacted one on, read whole; then the files.
  void final_checks() {
    store_->wait_for_compaction();
    for (int64_t rev = std::max<int64_t>(1, model_.compact_revision()); rev <= model_.revision();
         ++rev) {
      check_range(testing::range_request(kZero, kZero, rev));
    }
    const auto kept = model_.kept_versions();
    const int index_entries = model_.kept_index_entries();
    store_.reset();
    const testing::RawContents raw = testing::raw_contents(dirs_.back()->path());
    EXPECT_EQ(raw.versions, kept);
    EXPECT_EQ(static_cast<int>(raw.index.size()), index_entries);
  }

  Generator gen_;
  EtcdModel model_;
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::unique_ptr<MvccStore> store_;
  RecordingListener listener_;
  size_t batches_seen_ = 0;
  uint64_t index_ = 0;
  int ranges_checked_ = 0;
  int ranges_with_kvs_ = 0;  // answered with two kvs or more
  int txns_applied_ = 0;
  int txns_refused_ = 0;
  int restarts_ = 0;
  int restores_ = 0;
};

TEST_P(ModelTest, RandomOperationsMatchEtcdSemantics) {
  constexpr int kSteps = 4000;
  for (int i = 0; i < kSteps; ++i) {
    ASSERT_NO_FATAL_FAILURE(step()) << "step " << i;
    if (HasFailure()) FAIL() << "step " << i;
  }
  // Plenty of history stayed readable.
  EXPECT_GT(model_.revision() - model_.compact_revision(), 200);
  // One last compaction to the middle, physical, so the files can be checked.
  etcdpb::CompactionRequest c;
  c.set_revision((model_.compact_revision() + model_.revision()) / 2 + 1);
  etcdpb::CompactionResponse a;
  etcdpb::CompactionResponse b;
  ASSERT_EQ(store_->compact(next_index(), c, &a), model_.compact(c, &b));
  store_->wait_for_compaction();
  final_checks();
  // The run must have exercised what it claims to.
  EXPECT_GT(model_.revision(), 1000);
  EXPECT_GT(ranges_checked_, 800);
  EXPECT_GT(ranges_with_kvs_, 300);
  EXPECT_GT(txns_applied_, 400);
  std::cout << "seed " << GetParam() << ": revision " << model_.revision() << ", compacted "
            << model_.compact_revision() << ", ranges " << ranges_checked_ << " ("
            << ranges_with_kvs_ << " with kvs)"
            << ", txns " << txns_applied_ << " (+" << txns_refused_ << " refused), restarts "
            << restarts_ << ", restores " << restores_ << "\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest, ::testing::Values(1u, 2u, 3u, 20240607u));

}  // namespace
}  // namespace meridian::kv
