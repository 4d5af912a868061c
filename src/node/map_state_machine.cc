#include "node/map_state_machine.h"

#include <cstring>

#include "base/strings.h"

namespace meridian::node {

using base::Code;
using base::Status;

namespace {

// Command tags (first byte).
constexpr char kPut = 'P';
constexpr char kDelete = 'D';
constexpr char kNoop = 'N';

void put_u32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

bool get_u32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i)
    *v |= static_cast<uint32_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(4);
  return true;
}

bool get_bytes(std::string_view* in, std::string_view* out) {
  uint32_t n = 0;
  if (!get_u32(in, &n) || in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string encode_put(std::string_view key, std::string_view value) {
  std::string out(1, kPut);
  put_u32(&out, static_cast<uint32_t>(key.size()));
  out.append(key);
  out.append(value);
  return out;
}

std::string encode_delete(std::string_view key) {
  std::string out(1, kDelete);
  out.append(key);
  return out;
}

std::string encode_noop(size_t padding) {
  std::string out(1, kNoop);
  out.append(padding, '\0');
  return out;
}

std::string MapStateMachine::apply(raft::Index /*index*/, std::string_view command) {
  ++applied_commands_;
  if (command.empty()) return "error: empty command";
  const char tag = command.front();
  command.remove_prefix(1);
  switch (tag) {
    case kPut: {
      uint32_t klen = 0;
      if (!get_u32(&command, &klen) || command.size() < klen) return "error: malformed put";
      const std::string_view key = command.substr(0, klen);
      auto it = map_.find(key);
      if (it == map_.end()) {
        map_.emplace(std::string(key), std::string(command.substr(klen)));
      } else {
        it->second.assign(command.substr(klen));
      }
      return "ok";
    }
    case kDelete: {
      auto it = map_.find(command);
      if (it == map_.end()) return "absent";
      map_.erase(it);
      return "deleted";
    }
    case kNoop:
      return "noop";
    default:
      return base::cat("error: unknown command tag ", static_cast<int>(tag));
  }
}

std::string MapStateMachine::snapshot() const {
  std::string out;
  put_u32(&out, static_cast<uint32_t>(map_.size()));
  for (const auto& [k, v] : map_) {
    put_u32(&out, static_cast<uint32_t>(k.size()));
    out.append(k);
    put_u32(&out, static_cast<uint32_t>(v.size()));
    out.append(v);
  }
  return out;
}

Status MapStateMachine::restore(std::string_view data) {
  std::map<std::string, std::string, std::less<>> map;
  uint32_t count = 0;
  if (!data.empty() && !get_u32(&data, &count)) {
    return Status(Code::kCorruption, "map snapshot: truncated count");
  }
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view k;
    std::string_view v;
    if (!get_bytes(&data, &k) || !get_bytes(&data, &v)) {
      return Status(Code::kCorruption, base::cat("map snapshot: truncated at entry ", i));
    }
    map.emplace(std::string(k), std::string(v));
  }
  if (!data.empty()) return Status(Code::kCorruption, "map snapshot: trailing bytes");
  map_ = std::move(map);
  return Status::ok();
}

std::optional<std::string> MapStateMachine::get(const std::string& key) const {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

}  // namespace meridian::node
