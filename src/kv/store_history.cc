#include "kv/store_history.h"

#include "base/assert.h"
#include "kv/record_codec.h"

namespace meridian::kv {

namespace {

// The event of the change of `key` at `rev`, read through `versions`.
void read_event(rocksdb::Iterator* versions, std::string_view key, Revision rev, bool with_prev_kv,
                int64_t compacted, mvccpb::Event* ev) {
  const std::string seek = version_key(key, rev);
  versions->Seek(seek);
  VersionRecord record;
  const bool found = versions->Valid() && versions->key().ToStringView() == seek;
  if (found) {
    MERIDIAN_ASSERT(decode_record(versions->value().ToStringView(), &record),
                    "corrupt version record at ", rev.main, ".", rev.sub);
  } else {
    // Only compaction removes a version at or above the compacted revision: a
    // tombstone exactly at it.
    MERIDIAN_ASSERT(rev.main == compacted, "version ", rev.main, ".", rev.sub, " missing");
    record.tombstone = true;
  }
  mvccpb::KeyValue* kv = ev->mutable_kv();
  kv->set_key(key.data(), key.size());
  kv->set_mod_revision(rev.main);
  if (record.tombstone) {
    ev->set_type(mvccpb::Event::DELETE);
  } else {
    ev->set_type(mvccpb::Event::PUT);
    kv->set_value(record.value.data(), record.value.size());
    kv->set_create_revision(record.create_revision);
    kv->set_version(record.version);
    kv->set_lease(record.lease);
  }
  if (!with_prev_kv || !found || rev.main <= compacted) return;
  versions->Next();
  if (!versions->Valid()) return;
  const std::string_view older = versions->key().ToStringView();
  if (encoded_part(older) != std::string_view(seek).substr(0, seek.size() - kRevisionBytes)) return;
  VersionRecord prev;
  MERIDIAN_ASSERT(decode_record(versions->value().ToStringView(), &prev), "corrupt version record");
  if (prev.tombstone) return;
  mvccpb::KeyValue* p = ev->mutable_prev_kv();
  p->set_key(key.data(), key.size());
  p->set_value(prev.value.data(), prev.value.size());
  p->set_create_revision(prev.create_revision);
  p->set_mod_revision(version_key_revision(older).main);
  p->set_version(prev.version);
  p->set_lease(prev.lease);
}

}  // namespace

Errc read_history(const MvccStore::Impl& impl, std::string_view key, std::string_view range_end,
                  int64_t from, int64_t to, bool with_prev_kv, size_t max_events,
                  std::vector<mvccpb::Event>* out, int64_t* next) {
  const int64_t current = impl.revision->load(std::memory_order_acquire);
  from = std::max<int64_t>(from, 1);
  to = std::min(to, current);
  *next = from;
  if (from > to) {
    if (from < impl.compact_revision->load(std::memory_order_acquire)) return Errc::kCompacted;
    return Errc::kOk;
  }
  const std::string upper = revision_key(Revision{to + 1, 0});
  const rocksdb::Slice upper_slice(upper);
  std::unique_ptr<rocksdb::Iterator> index = impl.iterator(&upper_slice);
  std::unique_ptr<rocksdb::Iterator> versions = impl.iterator(nullptr);
  // After the iterators pinned the data (see MvccStore::range).
  const int64_t compacted = impl.compact_revision->load(std::memory_order_acquire);
  if (from < compacted) return Errc::kCompacted;

  std::vector<mvccpb::Event> group;  // the events of one revision
  int64_t group_rev = 0;
  // Adds the group unless it would pass max_events (and is not the first).
  auto flush = [&]() -> bool {
    if (group.empty()) return true;
    if (max_events > 0 && !out->empty() && out->size() + group.size() > max_events) {
      *next = group_rev;
      return false;
    }
    for (auto& ev : group) out->push_back(std::move(ev));
    group.clear();
    *next = group_rev + 1;
    return true;
  };
  for (index->Seek(revision_key(Revision{from, 0})); index->Valid(); index->Next()) {
    Revision rev;
    MERIDIAN_ASSERT(decode_revision_key(index->key().ToStringView(), &rev), "bad revision key");
    const std::string_view k = index->value().ToStringView();
    if (!key_in_range(k, key, range_end)) continue;
    if (rev.main != group_rev) {
      if (!flush()) return Errc::kOk;
      // Full: whatever comes next would pass the limit.
      if (max_events > 0 && out->size() >= max_events) return Errc::kOk;
      group_rev = rev.main;
    }
    read_event(versions.get(), k, rev, with_prev_kv, compacted, &group.emplace_back());
  }
  MERIDIAN_ASSERT(index->status().ok(), "history read: ", index->status().ToString());
  if (!flush()) return Errc::kOk;
  *next = to + 1;
  return Errc::kOk;
}

}  // namespace meridian::kv
