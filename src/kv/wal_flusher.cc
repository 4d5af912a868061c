#include "kv/wal_flusher.h"

#include <chrono>

#include "base/assert.h"
#include "base/thread_name.h"

namespace meridian::kv {

WalFlusher::WalFlusher(rocksdb::DB& db) : db_(db) {
  thread_ = std::thread([this] { run(); });
}

WalFlusher::~WalFlusher() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
  const rocksdb::Status s = db_.FlushWAL(/*sync=*/true);
  MERIDIAN_ASSERT(s.ok(), "kv store WAL flush: ", s.ToString());
}

void WalFlusher::run() {
  base::set_thread_name("kv-wal-flush");
  std::unique_lock lk(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lk, std::chrono::milliseconds(kWalFlushIntervalMs), [this] { return stop_; });
    if (stop_) break;
    lk.unlock();
    // A failure here is a failing disk: the next write reports it (and stops
    // the process, see MvccStore::Impl::write).
    (void)db_.FlushWAL(/*sync=*/false);
    lk.lock();
  }
}

}  // namespace meridian::kv
