#include "sim/kv_state_machine.h"

#include <utility>

namespace meridian::sim {

namespace {

constexpr uint8_t kFormatVersion = 1;

template <class T>
void put_int(std::string& out, T v) {
  for (size_t k = 0; k < sizeof(T); ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

void put_str(std::string& out, std::string_view s) {
  put_int<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked reader: every get fails (and stays failed) past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  template <class T>
  bool get_int(T& v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    v = 0;
    for (size_t k = 0; k < sizeof(T); ++k) {
      v |= static_cast<T>(static_cast<T>(static_cast<uint8_t>(data_[pos_ + k])) << (8 * k));
    }
    pos_ += sizeof(T);
    return true;
  }

  bool get_str(std::string& s) {
    uint32_t n = 0;
    if (!get_int(n) || data_.size() - pos_ < n) return false;
    s.assign(data_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  bool at_end() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_command(const Command& c) {
  std::string out;
  put_int<uint8_t>(out, kFormatVersion);
  put_int<uint32_t>(out, c.client);
  put_int<uint64_t>(out, c.request);
  put_int<uint8_t>(out, static_cast<uint8_t>(c.op));
  put_str(out, c.key);
  put_str(out, c.value);
  put_str(out, c.expected);
  return out;
}

std::optional<Command> decode_command(std::string_view data) {
  Reader r(data);
  Command c;
  uint8_t version = 0;
  uint8_t op = 0;
  if (!r.get_int(version) || version != kFormatVersion) return std::nullopt;
  if (!r.get_int(c.client) || !r.get_int(c.request) || !r.get_int(op)) return std::nullopt;
  if (op != static_cast<uint8_t>(CommandOp::kPut) && op != static_cast<uint8_t>(CommandOp::kCas)) {
    return std::nullopt;
  }
  c.op = static_cast<CommandOp>(op);
  if (!r.get_str(c.key) || !r.get_str(c.value) || !r.get_str(c.expected)) return std::nullopt;
  if (!r.at_end()) return std::nullopt;
  return c;
}

ApplyResult KvStateMachine::apply(const Command& c) {
  uint64_t& last = last_request_[c.client];
  if (c.request <= last) return ApplyResult{};
  last = c.request;
  if (c.op == CommandOp::kPut) {
    map_[c.key] = c.value;
    return ApplyResult{.applied = true, .ok = true};
  }
  const bool match = get(c.key) == c.expected;
  if (match) map_[c.key] = c.value;
  return ApplyResult{.applied = true, .ok = match};
}

std::string KvStateMachine::get(const std::string& key) const {
  auto it = map_.find(key);
  return it == map_.end() ? std::string() : it->second;
}

std::string KvStateMachine::snapshot(uint64_t applied_index) const {
  std::string out;
  put_int<uint8_t>(out, kFormatVersion);
  put_int<uint64_t>(out, applied_index);
  put_int<uint32_t>(out, static_cast<uint32_t>(map_.size()));
  for (const auto& [k, v] : map_) {
    put_str(out, k);
    put_str(out, v);
  }
  put_int<uint32_t>(out, static_cast<uint32_t>(last_request_.size()));
  for (const auto& [client, request] : last_request_) {
    put_int<uint32_t>(out, client);
    put_int<uint64_t>(out, request);
  }
  return out;
}

bool KvStateMachine::restore(std::string_view data, uint64_t applied_index) {
  Reader r(data);
  uint8_t version = 0;
  uint64_t index = 0;
  uint32_t n = 0;
  if (!r.get_int(version) || version != kFormatVersion) return false;
  if (!r.get_int(index) || index != applied_index || !r.get_int(n)) return false;
  std::map<std::string, std::string> map;
  for (uint32_t k = 0; k < n; ++k) {
    std::string key;
    std::string value;
    if (!r.get_str(key) || !r.get_str(value)) return false;
    map.emplace(std::move(key), std::move(value));
  }
  uint32_t m = 0;
  if (!r.get_int(m)) return false;
  std::map<uint32_t, uint64_t> last_request;
  for (uint32_t k = 0; k < m; ++k) {
    uint32_t client = 0;
    uint64_t request = 0;
    if (!r.get_int(client) || !r.get_int(request)) return false;
    last_request.emplace(client, request);
  }
  if (!r.at_end()) return false;
  map_ = std::move(map);
  last_request_ = std::move(last_request);
  return true;
}

}  // namespace meridian::sim
