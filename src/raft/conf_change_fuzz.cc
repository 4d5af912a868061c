// libFuzzer target for the ConfChange decoder: arbitrary bytes must either be
// rejected with a Status or decode to a change whose encoding is exactly those
// bytes (the format is canonical), never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/assert.h"
#include "raft/types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto decoded = meridian::raft::decode_conf_change(input);
  if (!decoded.is_ok()) return 0;
  std::string again = meridian::raft::encode_conf_change(decoded.value());
  MERIDIAN_ASSERT(again == input, "a decoded conf change re-encodes differently");
  return 0;
}
