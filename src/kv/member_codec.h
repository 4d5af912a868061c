// The store's member records: what each member of the cluster says of itself
// (docs/formats/kv.md has the bytes):
//
//   member key    := 'c' be64(member id)
//   member record := etcdserverpb.Member, serialized (ID, name, peerURLs,
//                    clientURLs; isLearner is not kept: the Raft configuration
//                    says who learns)
//
// A member publishes its record through the log when its client port starts
// (api/member_publisher.h), as etcd's members publish their attributes, so that
// every member can list every other's client URLs. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::kv {

inline constexpr char kMemberTag = 'c';

std::string member_key(uint64_t id);
// False if `rocksdb_key` is not a member key.
bool decode_member_key(std::string_view rocksdb_key, uint64_t* id);

}  // namespace meridian::kv
