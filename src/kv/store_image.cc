// MvccStore::image() and the images it makes (store_image.h).
#include "kv/store_image.h"

#include "base/assert.h"
#include "base/strings.h"
#include "kv/mvcc_store.h"
#include "kv/rocksdb_options.h"
#include "kv/snapshot_codec.h"
#include "kv/store_impl.h"

namespace meridian::kv {

class StoreImage final : public base::ByteSource {
 public:
  StoreImage(std::shared_ptr<ImageRegistry> registry, std::unique_ptr<rocksdb::Iterator> it)
      : registry_(std::move(registry)) {
    std::lock_guard lock(registry_->mu_);
    if (registry_->closed_) {  // not for a live store's image(); for completeness
      it.reset();
      error_ = closed();
      return;
    }
    it_ = std::move(it);
    registry_->live_.insert(this);
  }

  ~StoreImage() override {
    std::lock_guard lock(registry_->mu_);
    it_.reset();
    registry_->live_.erase(this);
  }

  StoreImage(const StoreImage&) = delete;
  StoreImage& operator=(const StoreImage&) = delete;

  base::Result<std::string> read(size_t max_bytes) override {
    MERIDIAN_ASSERT(max_bytes >= 1, "a read of 0 bytes");
    std::lock_guard lock(registry_->mu_);
    // Records are produced until a piece is full: memory is about one piece and
    // one record (the encoder drops what was taken).
    while (error_.is_ok() && enc_.pending_bytes() < max_bytes && !enc_.ended()) produce_locked();
    if (!error_.is_ok()) return error_;
    return enc_.take(max_bytes);
  }

  // The registry closes: the store is going away.
  void close_locked() {
    if (it_ == nullptr) return;  // every byte produced already (or never opened)
    it_.reset();
    error_ = closed();
  }

 private:
  static base::Status closed() { return base::Status(base::Code::kUnavailable, "kv store closed"); }

  // Adds the next record, or the end once the iterator is done.
  void produce_locked() {
    if (!started_) {
      it_->SeekToFirst();  // here rather than in image(): off the apply thread
      started_ = true;
    } else {
      it_->Next();
    }
    if (it_->Valid()) {
      enc_.add(it_->key().ToStringView(), it_->value().ToStringView());
      return;
    }
    if (!it_->status().ok()) {
      error_ = base::Status(base::Code::kIoError,
                            base::cat("kv store image: ", it_->status().ToString()));
      it_.reset();
      return;
    }
    enc_.end();
    it_.reset();  // the store is no longer needed
  }

  const std::shared_ptr<ImageRegistry> registry_;
  // Guarded by registry_->mu_:
  std::unique_ptr<rocksdb::Iterator> it_;
  bool started_ = false;
  SnapshotEncoder enc_;
  base::Status error_;  // sticky: an error ends the source
};

void ImageRegistry::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (StoreImage* image : live_) image->close_locked();
}

std::unique_ptr<base::ByteSource> make_image(std::shared_ptr<ImageRegistry> registry,
                                             std::unique_ptr<rocksdb::Iterator> it) {
  return std::make_unique<StoreImage>(std::move(registry), std::move(it));
}

std::unique_ptr<base::ByteSource> MvccStore::image() const {
  // Creating the iterator fixes its point in time; as with snapshot(), the
  // apply thread (ours) writes nothing meanwhile and compaction chunks are
  // atomic, so data, meta and compaction progress agree. A whole-store scan
  // would evict the readers' working set: its blocks stay out of the cache.
  rocksdb::ReadOptions ro = total_order_read_options();
  ro.fill_cache = false;
  return make_image(impl_->images, std::unique_ptr<rocksdb::Iterator>(impl_->db->NewIterator(ro)));
}

}  // namespace meridian::kv
