#include "kv/alarm_codec.h"

#include "kv/key_codec.h"

namespace meridian::kv {

std::string alarm_key(const Alarm& alarm) {
  std::string out(1, kAlarmTag);
  append_be64(&out, alarm.member);
  out.push_back(static_cast<char>(alarm.type));
  return out;
}

bool decode_alarm_key(std::string_view rocksdb_key, Alarm* out) {
  if (rocksdb_key.size() != 10 || rocksdb_key[0] != kAlarmTag) return false;
  const int type = static_cast<unsigned char>(rocksdb_key[9]);
  if (type == 0) return false;
  *out = Alarm{read_be64(rocksdb_key.data() + 1), type};
  return true;
}

}  // namespace meridian::kv
