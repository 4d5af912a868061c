#include "watch_wire.h"

namespace meridian::bench::etcd_load {

namespace {

// Protobuf wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

// WatchResponse fields (rpc.proto).
constexpr uint32_t kWatchId = 2;
constexpr uint32_t kCreated = 3;
constexpr uint32_t kCanceled = 4;
constexpr uint32_t kCompactRevision = 5;
constexpr uint32_t kCancelReason = 6;
constexpr uint32_t kEvents = 11;
// Event (kv.proto).
constexpr uint32_t kEventKv = 2;
// KeyValue (kv.proto).
constexpr uint32_t kModRevision = 3;
constexpr uint32_t kValue = 5;

class Reader {
 public:
  explicit Reader(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  bool done() const { return p_ == end_; }

  bool varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const auto byte = static_cast<uint8_t>(*p_++);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;  // more than 10 bytes
  }

  // The next field's number and wire type.
  bool tag(uint32_t* field, uint32_t* type) {
    uint64_t t = 0;
    if (!varint(&t) || (t >> 3) == 0 || (t >> 3) > UINT32_MAX) return false;
    *field = static_cast<uint32_t>(t >> 3);
    *type = static_cast<uint32_t>(t & 7);
    return true;
  }

  bool bytes(std::string_view* out) {
    uint64_t n = 0;
    if (!varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  bool skip(uint32_t type) {
    uint64_t ignored = 0;
    std::string_view view;
    switch (type) {
      case kVarint:
        return varint(&ignored);
      case kFixed64:
        return advance(8);
      case kLengthDelimited:
        return bytes(&view);
      case kFixed32:
        return advance(4);
      default:
        return false;  // groups (3, 4) are not in etcd's messages
    }
  }

 private:
  bool advance(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) return false;
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
};

bool parse_key_value(std::string_view wire, WatchEventView* ev) {
  Reader r(wire);
  while (!r.done()) {
    uint32_t field = 0;
    uint32_t type = 0;
    if (!r.tag(&field, &type)) return false;
    if (field == kModRevision && type == kVarint) {
      uint64_t v = 0;
      if (!r.varint(&v)) return false;
      ev->mod_revision = static_cast<int64_t>(v);
    } else if (field == kValue && type == kLengthDelimited) {
      if (!r.bytes(&ev->value)) return false;
    } else if (!r.skip(type)) {
      return false;
    }
  }
  return true;
}

bool parse_event(std::string_view wire, WatchEventView* ev) {
  Reader r(wire);
  while (!r.done()) {
    uint32_t field = 0;
    uint32_t type = 0;
    if (!r.tag(&field, &type)) return false;
    if (field == kEventKv && type == kLengthDelimited) {
      std::string_view kv;
      if (!r.bytes(&kv) || !parse_key_value(kv, ev)) return false;
    } else if (!r.skip(type)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool parse_watch_response(std::string_view wire, WatchResponseView* out) {
  out->watch_id = 0;
  out->created = false;
  out->canceled = false;
  out->compact_revision = 0;
  out->cancel_reason = {};
  out->events.clear();  // keeps its capacity for the next response
  Reader r(wire);
  while (!r.done()) {
    uint32_t field = 0;
    uint32_t type = 0;
    if (!r.tag(&field, &type)) return false;
    uint64_t v = 0;
    if (type == kVarint && (field == kWatchId || field == kCreated || field == kCanceled ||
                            field == kCompactRevision)) {
      if (!r.varint(&v)) return false;
      if (field == kWatchId) out->watch_id = static_cast<int64_t>(v);
      if (field == kCreated) out->created = v != 0;
      if (field == kCanceled) out->canceled = v != 0;
      if (field == kCompactRevision) out->compact_revision = static_cast<int64_t>(v);
    } else if (field == kCancelReason && type == kLengthDelimited) {
      if (!r.bytes(&out->cancel_reason)) return false;
    } else if (field == kEvents && type == kLengthDelimited) {
      std::string_view event;
      if (!r.bytes(&event) || !parse_event(event, &out->events.emplace_back())) return false;
    } else if (!r.skip(type)) {
      return false;
    }
  }
  return true;
}

}  // namespace meridian::bench::etcd_load
