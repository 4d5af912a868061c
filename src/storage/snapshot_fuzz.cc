// libFuzzer target for the snapshot file reader. The first input byte picks a mode:
//
//   even: the rest of the input is a snapshot file, placed where the store expects
//         group 1's snapshot at index 12 (term 3); reading it must end in a value
//         or kCorruption, never a crash, an out-of-bounds read or a huge allocation.
//   odd:  the rest describes a snapshot (meta and a list of appends) that is
//         written through the store and must read back exactly; then one edit
//         from the input (a byte flipped or the file cut) is applied and reading
//         must still end in a value or kCorruption.
//
// Everything runs on a FaultyFileSystem, so no real files are touched.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "storage/faulty_file_system.h"
#include "storage/snapshot_store.h"

namespace meridian::storage {
namespace {

constexpr char kDir[] = "/snap";
constexpr char kPath[] = "/snap/1/00000000000000000012-00000000000000000003.snap";
// Bounds the work per input: appends are generated from a few input bytes, so
// that chunks past the 1 MiB record bound are reached without megabyte inputs.
constexpr uint64_t kSnapshotBytesMax = 3ull << 20;

class Input {
 public:
  explicit Input(std::string_view s) : s_(s) {}
  bool empty() const { return s_.empty(); }
  uint64_t take(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes && !s_.empty(); i++) {
      v |= uint64_t{static_cast<uint8_t>(s_[0])} << (8 * i);
      s_.remove_prefix(1);
    }
    return v;
  }

 private:
  std::string_view s_;
};

void put_file(FileSystem& fs, std::string_view bytes) {
  MERIDIAN_ASSERT(fs.create_dir(kDir).is_ok(), "create_dir");
  MERIDIAN_ASSERT(fs.create_dir(std::string(kDir) + "/1").is_ok(), "create_dir");
  auto file = fs.open(kPath, OpenMode::kCreate);
  MERIDIAN_ASSERT(file.is_ok(), file.status());
  MERIDIAN_ASSERT(file.value()->append(bytes).is_ok(), "append");
}

// Reads group 1's snapshot at `index`, streamed and whole. Any failure must be
// kCorruption (there are no injected faults); both ways must agree.
void read_back(const SnapshotStore& store, raft::Index index) {
  auto whole = store.read_all(GroupId{1}, index);
  std::string streamed;
  bool ok = false;
  if (auto reader = store.read(GroupId{1}, index); reader.is_ok()) {
    for (;;) {
      auto chunk = reader.value()->next_chunk();
      if (!chunk.is_ok()) {
        MERIDIAN_ASSERT(chunk.status().code() == Code::kCorruption, chunk.status());
        break;
      }
      if (!chunk.value()) {
        ok = true;
        break;
      }
      MERIDIAN_ASSERT(!chunk.value()->empty(), "an empty chunk");
      streamed += *chunk.value();
    }
  } else {
    MERIDIAN_ASSERT(reader.status().code() == Code::kCorruption, reader.status());
  }
  MERIDIAN_ASSERT(ok == whole.is_ok(), "read and read_all disagree");
  if (!whole.is_ok()) {
    MERIDIAN_ASSERT(whole.status().code() == Code::kCorruption, whole.status());
    return;
  }
  MERIDIAN_ASSERT(whole.value().data == streamed, "read and read_all disagree on the data");
}

void raw_file(std::string_view bytes) {
  FaultyFileSystem fs(1);
  put_file(fs, bytes);
  auto store = SnapshotStore::open(&fs, kDir);
  MERIDIAN_ASSERT(store.is_ok(), store.status());
  read_back(*store.value(), raft::Index{12});
}

raft::SnapshotMeta take_meta(Input& in) {
  raft::SnapshotMeta meta;
  meta.index = raft::Index{in.take(2) + 1};
  meta.term = raft::Term{in.take(1)};
  raft::ConfState& cs = meta.conf_state;
  for (auto* list : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
    for (uint64_t n = in.take(1) % 4; n > 0; n--) list->push_back(raft::NodeId{in.take(8)});
  }
  cs.auto_leave = in.take(1) % 2 == 1;
  return meta;
}

void round_trip(std::string_view bytes) {
  Input in(bytes);
  raft::SnapshotMeta meta = take_meta(in);
  FaultyFileSystem fs(1);
  auto opened = SnapshotStore::open(&fs, kDir);
  MERIDIAN_ASSERT(opened.is_ok(), opened.status());
  SnapshotStore& store = *opened.value();
  std::string data;
  {
    auto writer = store.begin(GroupId{1}, meta);
    MERIDIAN_ASSERT(writer.is_ok(), writer.status());
    for (uint64_t appends = in.take(1) % 8; appends > 0; appends--) {
      uint64_t len = std::min(in.take(3), kSnapshotBytesMax - data.size());
      char fill = static_cast<char>(in.take(1));
      std::string piece(len, fill);
      for (size_t i = 0; i < piece.size(); i += 4096) piece[i] = static_cast<char>(i >> 12);
      MERIDIAN_ASSERT(writer.value()->append(piece).is_ok(), "append");
      data += piece;
    }
    MERIDIAN_ASSERT(writer.value()->finish().is_ok(), "finish");
  }
  auto back = store.read_all(GroupId{1}, meta.index);
  MERIDIAN_ASSERT(back.is_ok(), back.status());
  MERIDIAN_ASSERT(back.value().meta == meta, "meta changed in a round trip");
  MERIDIAN_ASSERT(back.value().data == data, "data changed in a round trip");

  // One edit of the file, then read again.
  std::string path = std::string(kDir) + "/1/" +
                     std::string(20 - std::to_string(meta.index.value()).size(), '0') +
                     std::to_string(meta.index.value()) + "-" +
                     std::string(20 - std::to_string(meta.term.value()).size(), '0') +
                     std::to_string(meta.term.value()) + ".snap";
  auto file = fs.open(path, OpenMode::kAppend);
  MERIDIAN_ASSERT(file.is_ok(), file.status());
  uint64_t size = file.value()->size();
  uint64_t where = in.take(3) % (size + 1);
  uint8_t flip = static_cast<uint8_t>(in.take(1));
  if (flip == 0 || where == size) {
    MERIDIAN_ASSERT(file.value()->truncate(where).is_ok(), "truncate");
  } else {
    auto all = file.value()->read_at(0, size);
    MERIDIAN_ASSERT(all.is_ok(), all.status());
    std::string edited = std::move(all).value();
    edited[where] = static_cast<char>(edited[where] ^ flip);
    MERIDIAN_ASSERT(file.value()->truncate(0).is_ok(), "truncate");
    MERIDIAN_ASSERT(file.value()->append(edited).is_ok(), "append");
  }
  file.value().reset();
  read_back(store, meta.index);
}

}  // namespace
}  // namespace meridian::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    meridian::storage::raw_file(input);
  } else {
    meridian::storage::round_trip(input);
  }
  return 0;
}
