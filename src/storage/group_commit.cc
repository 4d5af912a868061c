// GroupCommitter: one writer thread that turns every batch queued since its last
// round into one LogEngine::write and one LogEngine::sync.
//
// A round, on the writer thread:
//   1. under mu_, take queued batches in submission order until the next would pass
//      round_bytes_max (always at least one, so a batch larger than the limit still
//      goes, alone);
//   2. without mu_, merge them into one WriteBatch, write it, and sync only if the
//      write succeeded;
//   3. under mu_, count the round and release its bytes (waking blocked submitters);
//   4. without mu_, complete every batch of the round with the round's status, in
//      submission order.
// The next round starts only after the previous sync returned: a write is never
// issued while a sync is in progress, so a crash can tear at most the last record
// of the journal, which is what LogEngine's recovery assumes (it truncates a torn
// tail but treats damage before it as corruption).
//
// Bytes are counted against queued_bytes_max from submit() until their round's
// I/O is done (queued and in-flight together), so memory stays within
// queued_bytes_max plus the one batch admitted into an empty committer. They are
// released before the completions run. A completion must not submit (asserted): under
// back-pressure it would wait for space that only its own thread can free.
#include "storage/group_commit.h"

#include <chrono>
#include <future>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/thread_name.h"

namespace meridian::storage {

namespace {

// One WriteBatch with every operation of `batches`, in order; `op_counts` gets
// each batch's number of operations, so the round can be split again.
// WriteBatch::merge keeps the latest time stamp of the two, so age retention
// never drops an entry earlier than its own stamp asks.
WriteBatch merge_round(std::vector<WriteBatch>& batches, std::vector<size_t>& op_counts) {
  MERIDIAN_ASSERT(!batches.empty(), "a round has at least one batch");
  op_counts.clear();
  for (const WriteBatch& b : batches) op_counts.push_back(b.ops().size());
  WriteBatch merged = std::move(batches.front());
  for (size_t i = 1; i < batches.size(); ++i) merged.merge(std::move(batches[i]));
  return merged;
}

// Batch i of a merged round, rebuilt from its operations (the rare path only).
WriteBatch split_batch(const WriteBatch& merged, const std::vector<size_t>& op_counts, size_t i) {
  size_t first = 0;
  for (size_t k = 0; k < i; ++k) first += op_counts[k];
  WriteBatch b;
  b.set_time_ms(merged.time_ms());
  for (size_t k = first; k < first + op_counts[i]; ++k) {
    const WriteBatch::Op& op = merged.ops()[k];
    switch (op.type) {
      case WriteBatch::OpType::kAppend:
        b.append(op.group, op.entries);
        break;
      case WriteBatch::OpType::kHardState:
        b.set_hard_state(op.group, op.hard_state);
        break;
      case WriteBatch::OpType::kSnapshot:
        b.install_snapshot(op.group, op.snapshot);
        break;
      case WriteBatch::OpType::kCompact:
        b.compact(op.group, op.index);
        break;
      case WriteBatch::OpType::kRemoveGroup:
        b.remove_group(op.group);
        break;
    }
  }
  return b;
}

// Writes and syncs one round; `statuses` gets each batch's result. A failed write
// is not followed by a sync: after kNoSpace the journal is as before the write and
// nothing of the round is there to make durable; after kIoError the engine has
// failed and every later call fails anyway.
struct RoundOutcome {
  std::vector<Status> statuses;
  uint64_t syncs = 0;
};

Status write_and_sync(LogEngine* engine, const WriteBatch& batch, uint64_t& syncs,
                      const GroupCommitOptions::SyncObserver& observe_sync) {
  Status s = engine->write(batch);
  if (!s.is_ok()) return s;
  ++syncs;
  if (!observe_sync) return engine->sync();
  const auto start = std::chrono::steady_clock::now();
  s = engine->sync();
  observe_sync(std::chrono::steady_clock::now() - start);
  return s;
}

// A round is one journal record, so a batch the engine rejects (kInvalidArgument:
// nothing is written) would fail the whole round. The round is then written batch
// by batch, so that only the invalid one fails and the others (often other
// groups') go through. Each write is synced before the next: recovery relies on
// only the last record being torn.
void commit_one_by_one(LogEngine* engine, const WriteBatch& merged,
                       const std::vector<size_t>& op_counts, RoundOutcome& out,
                       const GroupCommitOptions::SyncObserver& observe_sync) {
  for (size_t i = 0; i < op_counts.size(); ++i) {
    out.statuses[i] =
        write_and_sync(engine, split_batch(merged, op_counts, i), out.syncs, observe_sync);
    if (!out.statuses[i].is_ok() && out.statuses[i].code() != Code::kInvalidArgument) {
      // A real failure: it stands for this batch and every later one.
      for (size_t j = i + 1; j < op_counts.size(); ++j) out.statuses[j] = out.statuses[i];
      return;
    }
  }
}

RoundOutcome commit_round(LogEngine* engine, std::vector<WriteBatch>& batches,
                          const GroupCommitOptions::SyncObserver& observe_sync) {
  RoundOutcome out;
  out.statuses.resize(batches.size());
  std::vector<size_t> op_counts;
  WriteBatch merged = merge_round(batches, op_counts);
  if (merged.empty()) {
    // Only empty batches: each earlier round was synced before its batches
    // completed, so there is nothing new to write or make durable.
    return out;
  }
  Status s = write_and_sync(engine, merged, out.syncs, observe_sync);
  if (s.code() == Code::kInvalidArgument && op_counts.size() > 1 && out.syncs == 0) {
    commit_one_by_one(engine, merged, op_counts, out, observe_sync);
    return out;
  }
  for (Status& st : out.statuses) st = s;
  return out;
}

}  // namespace

GroupCommitter::GroupCommitter(LogEngine* engine, GroupCommitOptions options)
    : engine_(engine), options_(options) {
  MERIDIAN_ASSERT(engine_ != nullptr, "GroupCommitter needs an engine");
  MERIDIAN_ASSERT(options_.round_bytes_max > 0, "round_bytes_max must be positive");
  MERIDIAN_ASSERT(options_.queued_bytes_max > 0, "queued_bytes_max must be positive");
  // Started last: run() reads every member initialized above.
  writer_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  writer_.join();  // run() returns only once the queue is empty
  MERIDIAN_ASSERT(queue_.empty(), "GroupCommitter stopped with ", queue_.size(), " batches queued");
  MERIDIAN_ASSERT(queued_bytes_ == 0, "GroupCommitter stopped with ", queued_bytes_,
                  " bytes counted");
}

void GroupCommitter::submit(WriteBatch batch, Done done) {
  MERIDIAN_ASSERT(done != nullptr, "submit() needs a completion");
  MERIDIAN_ASSERT(std::this_thread::get_id() != writer_.get_id(),
                  "submit() from a completion could wait on its own writer thread");
  const uint64_t bytes = batch.size_bytes();
  std::unique_lock lock(mu_);
  // A batch larger than the whole bound is admitted when nothing else is counted,
  // so it cannot wait forever. Waiters are not served in arrival order: a large
  // batch may wait while smaller ones fit; the writer keeps draining, so it only
  // waits longer, never forever, unless submitters never pause.
  space_cv_.wait(lock, [&] {
    return queued_bytes_ == 0 || queued_bytes_ + bytes <= options_.queued_bytes_max;
  });
  MERIDIAN_ASSERT(!stopping_, "submit() on a GroupCommitter being destroyed");
  queue_.push_back(Pending{std::move(batch), std::move(done)});
  queued_bytes_ += bytes;
  lock.unlock();
  work_cv_.notify_one();
}

Status GroupCommitter::write_sync(WriteBatch batch) {
  std::promise<Status> result;
  std::future<Status> ready = result.get_future();
  submit(std::move(batch), [&result](Status s) { result.set_value(std::move(s)); });
  return ready.get();
}

void GroupCommitter::request_garbage_collection() {
  {
    std::lock_guard lock(mu_);
    gc_requested_ = true;
  }
  work_cv_.notify_one();
}

GroupCommitStats GroupCommitter::stats() const {
  std::lock_guard lock(mu_);
  GroupCommitStats s = stats_;
  s.queued = queue_.size();
  return s;
}

void GroupCommitter::run() {
  base::set_thread_name("journal");
  std::vector<WriteBatch> batches;
  std::vector<Done> dones;
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || gc_requested_; });
    if (gc_requested_) {
      // Between rounds: collect_garbage, like write and sync, runs on this thread only.
      gc_requested_ = false;
      lock.unlock();
      Status s = engine_->collect_garbage();
      lock.lock();
      if (!s.is_ok()) ++stats_.gc_failures;
      continue;
    }
    if (queue_.empty()) {
      MERIDIAN_ASSERT(stopping_, "the writer woke with nothing to do");
      return;  // the destructor drains: stop only once everything queued is done
    }
    uint64_t round_bytes = 0;
    do {
      round_bytes += queue_.front().batch.size_bytes();
      batches.push_back(std::move(queue_.front().batch));
      dones.push_back(std::move(queue_.front().done));
      queue_.pop_front();
    } while (!queue_.empty() &&
             round_bytes + queue_.front().batch.size_bytes() <= options_.round_bytes_max);
    lock.unlock();

    const RoundOutcome outcome = commit_round(engine_, batches, options_.observe_sync);
    batches.clear();

    lock.lock();
    MERIDIAN_ASSERT(queued_bytes_ >= round_bytes, "queued bytes ", queued_bytes_,
                    " below the round's ", round_bytes);
    queued_bytes_ -= round_bytes;
    // Counted before the completions run, so a submitter that sees its batch done
    // also sees the round in stats(). rounds counts issued syncs.
    stats_.rounds += outcome.syncs;
    stats_.batches += dones.size();
    stats_.bytes += round_bytes;
    lock.unlock();
    space_cv_.notify_all();

    for (size_t i = 0; i < dones.size(); ++i) {
      dones[i](outcome.statuses[i]);
    }
    dones.clear();
    lock.lock();
  }
}

}  // namespace meridian::storage
