// Reading an etcd WatchResponse from its protobuf wire bytes without building
// the message: only the fields the watch workload checks (watch id, created,
// canceled and its reason, and each event's mod_revision and value), with the
// values left in place as views. The lean watch client (h2_watch_client.h)
// uses it because a full parse allocates every key and value of every event,
// a cost the load generator pays per event received.
//
// Field numbers are etcd's rpc.proto and kv.proto (WatchResponse, Event,
// KeyValue); fields it does not know are skipped, as any protobuf reader does.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace meridian::bench::etcd_load {

struct WatchEventView {
  int64_t mod_revision = 0;
  std::string_view value;  // views the parsed bytes
};

struct WatchResponseView {
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string_view cancel_reason;
  std::vector<WatchEventView> events;  // cleared and refilled by each parse
};

// False if `wire` is not a well-formed message (a truncated field, a bad wire
// type); *out is then unspecified.
bool parse_watch_response(std::string_view wire, WatchResponseView* out);

}  // namespace meridian::bench::etcd_load
