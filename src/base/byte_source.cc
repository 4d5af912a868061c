#include "base/byte_source.h"

#include <algorithm>

#include "base/assert.h"
#include "base/strings.h"

namespace meridian::base {

Result<std::string> StringSource::read(size_t max_bytes) {
  MERIDIAN_ASSERT(max_bytes >= 1, "a read of 0 bytes");
  const size_t n = std::min(max_bytes, data_.size() - pos_);
  std::string out = data_.substr(pos_, n);
  pos_ += n;
  if (pos_ == data_.size()) std::string().swap(data_);  // all handed out: free it now
  if (data_.empty()) pos_ = 0;
  return out;
}

Result<std::string> read_all(ByteSource& source, size_t max_bytes, size_t piece_bytes) {
  std::string out;
  while (true) {
    auto piece = source.read(piece_bytes);
    if (!piece.is_ok()) return piece.status();
    if (piece.value().empty()) return out;
    if (piece.value().size() > max_bytes - out.size()) {
      return Status(Code::kFailedPrecondition,
                    cat("more than ", max_bytes, " bytes where the whole is read into memory"));
    }
    out.append(piece.value());
  }
}

}  // namespace meridian::base
