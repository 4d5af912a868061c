#include "node/request_codec.h"

namespace meridian::node {

namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 17;

void put_u64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

uint64_t get_u64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * i);
  return v;
}

}  // namespace

std::string encode_request(const RequestHeader& h, std::string_view command) {
  std::string out;
  out.reserve(kHeaderBytes + command.size());
  out.push_back(static_cast<char>(kVersion));
  put_u64(&out, h.origin.value());
  put_u64(&out, h.request_id);
  out.append(command);
  return out;
}

std::optional<std::pair<RequestHeader, std::string_view>> decode_request(std::string_view data) {
  if (data.size() < kHeaderBytes || static_cast<uint8_t>(data[0]) != kVersion) return std::nullopt;
  RequestHeader h{raft::NodeId{get_u64(data.substr(1))}, get_u64(data.substr(9))};
  return std::make_pair(h, data.substr(kHeaderBytes));
}

std::string encode_read_context(uint64_t request_id) {
  std::string out;
  put_u64(&out, request_id);
  return out;
}

std::optional<uint64_t> decode_read_context(std::string_view ctx) {
  if (ctx.size() != 8) return std::nullopt;
  return get_u64(ctx);
}

}  // namespace meridian::node
