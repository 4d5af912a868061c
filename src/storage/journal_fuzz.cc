// libFuzzer target for the journal's decoders. Arbitrary bytes are
//   1. decoded as a record payload: either rejected with a Status, or decoded to
//      a record whose encoding is exactly those bytes (the format is canonical),
//      with each entry's data where its offset says;
//   2. scanned as a segment file, as recovery does: every frame the scanner
//      accepts must lie inside the file and hold a well-formed payload length,
//      and the search for a valid frame after a bad one must finish.
// Never a crash, an assertion or a read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "storage/file_system.h"
#include "storage/journal_format.h"
#include "storage/segment.h"
#include "storage/write_batch.h"

namespace {

using meridian::storage::DecodedOp;
using meridian::storage::OpPlan;
using meridian::storage::Record;
using meridian::storage::RecordKind;
using meridian::storage::WriteBatch;

// A read-only File over a string.
class StringFile final : public meridian::storage::File {
 public:
  explicit StringFile(std::string data) : data_(std::move(data)) {}
  meridian::base::Status append(std::string_view) override { return unsupported(); }
  meridian::base::Result<std::string> read_at(uint64_t offset, size_t n) const override {
    if (offset >= data_.size()) return std::string();
    return data_.substr(static_cast<size_t>(offset), n);
  }
  meridian::base::Status sync() override { return unsupported(); }
  meridian::base::Status truncate(uint64_t) override { return unsupported(); }
  uint64_t size() const override { return data_.size(); }

 private:
  static meridian::base::Status unsupported() {
    return meridian::base::Status(meridian::base::Code::kIoError, "read-only");
  }
  std::string data_;
};

void check_record(const std::string& input) {
  auto decoded = meridian::storage::decode_record(input);
  if (!decoded.is_ok()) return;
  const Record& rec = decoded.value();
  std::string again;
  if (rec.kind == RecordKind::kCheckpoint) {
    meridian::storage::encode_checkpoint(rec.time_ms, rec.groups, again);
    MERIDIAN_ASSERT(again == input, "a decoded checkpoint re-encodes differently");
    return;
  }
  WriteBatch batch;
  batch.set_time_ms(rec.time_ms);
  std::vector<OpPlan> plans;
  std::vector<uint32_t> offsets;
  for (const DecodedOp& d : rec.ops) {
    switch (d.op.type) {
      case WriteBatch::OpType::kAppend:
        batch.append(d.op.group, d.op.entries);
        break;
      case WriteBatch::OpType::kHardState:
        batch.set_hard_state(d.op.group, d.op.hard_state);
        break;
      case WriteBatch::OpType::kSnapshot:
        batch.install_snapshot(d.op.group, d.op.snapshot);
        break;
      case WriteBatch::OpType::kCompact:
        batch.compact(d.op.group, d.op.index);
        break;
      case WriteBatch::OpType::kRemoveGroup:
        batch.remove_group(d.op.group);
        break;
    }
    plans.push_back(d.plan);
    MERIDIAN_ASSERT(d.data_offsets.size() == d.op.entries.size(), "offsets per entry");
    for (size_t k = 0; k < d.data_offsets.size(); k++) {
      const std::string& data = d.op.entries[k].data;
      MERIDIAN_ASSERT(input.compare(d.data_offsets[k], data.size(), data) == 0,
                      "entry data is not where its offset says");
      offsets.push_back(d.data_offsets[k]);
    }
  }
  std::vector<uint32_t> positions;
  meridian::storage::encode_batch(batch, plans, again, positions);
  MERIDIAN_ASSERT(again == input, "a decoded batch re-encodes differently");
  MERIDIAN_ASSERT(positions == offsets, "re-encoded data offsets differ");
}

void check_scan(const std::string& input) {
  StringFile file(input);
  meridian::storage::FrameScanner scanner(file, 1, input.size());
  uint64_t end = 0;
  for (;;) {
    auto frame = scanner.next();
    MERIDIAN_ASSERT(frame.is_ok(), "scanning a string cannot fail: ", frame.status());
    if (!frame.value().has_value()) break;
    const auto& f = *frame.value();
    MERIDIAN_ASSERT(f.offset == end, "frames must follow each other");
    end = f.offset + meridian::storage::kFrameHeaderBytes + f.payload.size();
    MERIDIAN_ASSERT(end <= input.size(), "a frame past the end of the file");
    (void)meridian::storage::decode_record(f.payload);
  }
  if (!scanner.bad_reason().empty()) (void)scanner.valid_frame_follows();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_record(input);
  check_scan(input);
  return 0;
}
