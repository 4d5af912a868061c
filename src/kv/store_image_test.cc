// MvccStore::image(): the bytes of snapshot() at the moment it is called, read
// later in pieces of any size, on any thread, even after the store is gone.
#include <gtest/gtest.h>

#include <thread>

#include "kv/mvcc_store.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::read_in_pieces;
using testing::StoreTest;

// A store with history, deletes and a compaction.
class ImageTest : public StoreTest {
 protected:
  ImageTest() {
    write_compacted_history();
    put("after", "compaction");
  }

  std::string read_image(size_t max_bytes) {
    auto image = store_->image();
    auto bytes = read_in_pieces(*image, max_bytes);
    EXPECT_TRUE(bytes.is_ok()) << bytes.status();
    return bytes.is_ok() ? bytes.value() : std::string();
  }
};

TEST_F(ImageTest, BytesEqualTheSnapshotAtAnyPieceSize) {
  const std::string snap = store_->snapshot();
  for (size_t max : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    EXPECT_EQ(read_image(max), snap) << max;
  }
}

TEST_F(ImageTest, WritesAfterTheImageAreNotInIt) {
  const std::string snap = store_->snapshot();
  auto image = store_->image();
  auto first = image->read(7);  // partly read before the writes, partly after
  ASSERT_TRUE(first.is_ok());
  for (int i = 0; i < 100; ++i) put("later" + std::to_string(i), std::string(100, 'x'));
  del("k", "l");
  compact(store_->revision());
  auto rest = read_in_pieces(*image, 13);
  ASSERT_TRUE(rest.is_ok()) << rest.status();
  EXPECT_EQ(first.value() + rest.value(), snap);
  EXPECT_NE(store_->snapshot(), snap);
}

TEST_F(ImageTest, ARecordLargerThanAPieceIsSplit) {
  constexpr size_t kPiece = 1 << 20;
  put("big", std::string(kPiece * 3 / 2, 'b'));
  const std::string snap = store_->snapshot();
  auto image = store_->image();
  std::string bytes;
  size_t pieces = 0;
  while (true) {
    auto piece = image->read(kPiece);
    ASSERT_TRUE(piece.is_ok()) << piece.status();
    if (piece.value().empty()) break;
    ASSERT_LE(piece.value().size(), kPiece);
    bytes += piece.value();
    ++pieces;
  }
  EXPECT_GE(pieces, 2u);
  EXPECT_EQ(bytes, snap);
}

TEST_F(ImageTest, ReadAfterItsStoreIsDestroyedIsUnavailable) {
  auto started = store_->image();
  auto unread = store_->image();
  ASSERT_TRUE(started->read(7).is_ok());
  store_.reset();
  for (auto* image : {started.get(), unread.get()}) {
    for (int i = 0; i < 2; ++i) {  // and again: an error ends the source
      auto r = image->read(1 << 20);
      ASSERT_FALSE(r.is_ok());
      EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
    }
  }
  reopen();  // the database closed cleanly under the images
  EXPECT_EQ(value_at("after"), "compaction");
}

TEST_F(ImageTest, AnImageProducedWholeFinishesAfterItsStoreIsGone) {
  const std::string snap = store_->snapshot();
  auto image = store_->image();
  auto first = image->read(snap.size() - 1);  // every record produced, one byte left
  ASSERT_TRUE(first.is_ok());
  store_.reset();
  auto rest = read_in_pieces(*image, 100);
  ASSERT_TRUE(rest.is_ok()) << rest.status();
  EXPECT_EQ(first.value() + rest.value(), snap);
}

TEST_F(ImageTest, ReadOnAnotherThreadWhileWritesGoOn) {
  const std::string snap = store_->snapshot();
  auto image = store_->image();
  std::string bytes;
  std::thread reader([&] {
    auto r = read_in_pieces(*image, 5);
    ASSERT_TRUE(r.is_ok()) << r.status();
    bytes = r.value();
  });
  for (int i = 0; i < 200; ++i) put("w" + std::to_string(i % 17), std::to_string(i));
  reader.join();
  EXPECT_EQ(bytes, snap);
}

TEST_F(ImageTest, StoreDestroyedWhileAnotherThreadReads) {
  // Whichever comes first, the reader gets the whole image or kUnavailable
  // (and the sanitizers see no race and no use after free).
  for (int i = 0; i < 300; ++i) put("pad" + std::to_string(i), std::string(50, 'p'));
  const std::string snap = store_->snapshot();
  auto image = store_->image();
  base::Result<std::string> result = std::string();
  std::thread reader([&] { result = read_in_pieces(*image, 3); });
  store_.reset();
  reader.join();
  if (result.is_ok()) {
    EXPECT_EQ(result.value(), snap);
  } else {
    EXPECT_EQ(result.status().code(), base::Code::kUnavailable);
  }
}

}  // namespace
}  // namespace meridian::kv
