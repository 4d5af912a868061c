// The store's alarm records: the alarms raised and not yet disarmed, as etcd
// keeps them (docs/formats/kv.md has the bytes):
//
//   alarm key := 'x' be64(member id) u8(alarm type)     (value: empty)
//
// The type is etcdserverpb.AlarmType (1 NOSPACE, 2 CORRUPT). Alarms are raised
// and disarmed through the log, so every member refuses the same writes while
// one is raised. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::kv {

inline constexpr char kAlarmTag = 'x';

struct Alarm {
  uint64_t member = 0;
  int type = 0;  // etcdserverpb.AlarmType
  auto operator<=>(const Alarm&) const = default;
};

std::string alarm_key(const Alarm& alarm);
// False if `rocksdb_key` is not an alarm key (or names type NONE).
bool decode_alarm_key(std::string_view rocksdb_key, Alarm* out);

}  // namespace meridian::kv
