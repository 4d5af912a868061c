// Images of the MVCC store (MvccStore::image()): the store's snapshot bytes
// (snapshot_codec.h) produced lazily from one RocksDB iterator, which fixes the
// point in time when it is created. The bytes are read later, in pieces, by the
// peer transport, on its own thread and possibly after the store is gone (an
// image queued for a peer when the node stops).
//
// RocksDB must not be closed while an iterator is open, so each store keeps an
// ImageRegistry of its live images, owned jointly by the store and the images:
// closing the store first closes the registry, which destroys every image's
// iterator; a later read of such an image fails with kUnavailable. An image
// whose bytes were all produced no longer needs the store and finishes normally.
//
// Threads: an image is read by one thread at a time, any thread. The registry's
// mutex guards every image's iterator and encoder: a read holds it while it
// produces bytes, close() and an image's destruction while they destroy an
// iterator. Images of one store are therefore read one at a time; there are
// only as many as lagging peers, and each read is a bounded piece.
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <mutex>
#include <set>

#include "base/byte_source.h"

namespace meridian::kv {

class StoreImage;

class ImageRegistry {
 public:
  ImageRegistry() = default;
  ImageRegistry(const ImageRegistry&) = delete;
  ImageRegistry& operator=(const ImageRegistry&) = delete;

  // Destroys every live image's iterator; the images being produced then fail
  // with kUnavailable, and images made later fail at once. Any thread; idempotent.
  void close();

 private:
  friend class StoreImage;
  std::mutex mu_;
  bool closed_ = false;         // guarded by mu_
  std::set<StoreImage*> live_;  // guarded by mu_
};

// An image of what `it` sees (an iterator over the whole store, just created).
std::unique_ptr<base::ByteSource> make_image(std::shared_ptr<ImageRegistry> registry,
                                             std::unique_ptr<rocksdb::Iterator> it);

}  // namespace meridian::kv
