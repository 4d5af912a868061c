#include "kv/command.h"

namespace meridian::kv {

namespace {
constexpr uint8_t kCommandVersion = 1;
constexpr uint8_t kLastErrc = static_cast<uint8_t>(Errc::kCorrupt);
}  // namespace

std::string encode_command(CommandType type, std::string_view serialized_request) {
  std::string out;
  out.reserve(2 + serialized_request.size());
  out.push_back(static_cast<char>(kCommandVersion));
  out.push_back(static_cast<char>(type));
  out.append(serialized_request);
  return out;
}

std::optional<Command> decode_command(std::string_view data) {
  if (data.size() < 2 || static_cast<uint8_t>(data[0]) != kCommandVersion) return std::nullopt;
  const auto type = static_cast<uint8_t>(data[1]);
  if (type < static_cast<uint8_t>(CommandType::kPut) ||
      type > static_cast<uint8_t>(CommandType::kMemberPeerUrls)) {
    return std::nullopt;
  }
  return Command{static_cast<CommandType>(type), data.substr(2)};
}

std::string encode_result(Errc errc, std::string_view serialized_response) {
  std::string out;
  out.reserve(1 + serialized_response.size());
  out.push_back(static_cast<char>(errc));
  if (errc == Errc::kOk) out.append(serialized_response);
  return out;
}

std::optional<CommandResult> decode_result(std::string_view data) {
  if (data.empty() || static_cast<uint8_t>(data[0]) > kLastErrc) return std::nullopt;
  return CommandResult{static_cast<Errc>(data[0]), data.substr(1)};
}

}  // namespace meridian::kv
