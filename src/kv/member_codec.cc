#include "kv/member_codec.h"

#include "kv/key_codec.h"

namespace meridian::kv {

std::string member_key(uint64_t id) {
  std::string out(1, kMemberTag);
  append_be64(&out, id);
  return out;
}

bool decode_member_key(std::string_view rocksdb_key, uint64_t* id) {
  if (rocksdb_key.size() != 9 || rocksdb_key[0] != kMemberTag) return false;
  *id = read_be64(rocksdb_key.data() + 1);
  return true;
}

}  // namespace meridian::kv
