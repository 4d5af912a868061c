#include "rpc/grpc_framing.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "base/assert.h"

namespace meridian::rpc {

std::array<uint8_t, kMessagePrefixBytes> encode_message_prefix(uint32_t length) {
  return {0, static_cast<uint8_t>(length >> 24), static_cast<uint8_t>(length >> 16),
          static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
}

size_t MessageDeframer::feed(const uint8_t* data, size_t size) {
  if (state_ != State::kNeedMore) return 0;
  size_t used = 0;
  if (prefix_have_ < kMessagePrefixBytes) {
    const size_t n = std::min(kMessagePrefixBytes - prefix_have_, size);
    std::memcpy(prefix_.data() + prefix_have_, data, n);
    prefix_have_ += n;
    used = n;
    if (prefix_have_ < kMessagePrefixBytes) return used;
    length_ = (uint32_t{prefix_[1]} << 24) | (uint32_t{prefix_[2]} << 16) |
              (uint32_t{prefix_[3]} << 8) | uint32_t{prefix_[4]};
    if (prefix_[0] == 1) {
      state_ = State::kCompressed;
      return used;
    }
    if (prefix_[0] != 0) {
      state_ = State::kBadFlag;
      return used;
    }
    if (length_ > max_message_bytes_) {
      state_ = State::kTooLarge;
      return used;
    }
    body_.clear();
    body_.reserve(std::min<size_t>(length_, kEagerReserveBytesMax));
  }
  const size_t n = std::min<size_t>(length_ - body_.size(), size - used);
  body_.append(reinterpret_cast<const char*>(data) + used, n);
  used += n;
  if (body_.size() == length_) state_ = State::kMessage;
  return used;
}

std::string MessageDeframer::take() {
  MERIDIAN_ASSERT(state_ == State::kMessage, "take() without a whole message");
  state_ = State::kNeedMore;
  prefix_have_ = 0;
  std::string message = std::move(body_);
  body_ = std::string();  // a moved-from string is valid but unspecified
  return message;
}

void OutgoingMessage::set(std::string message) {
  MERIDIAN_ASSERT(empty(), "a message is set while ", total_ - offset_, " bytes of one remain");
  MERIDIAN_ASSERT(message.size() <= std::numeric_limits<uint32_t>::max(), "a message of ",
                  message.size(), " bytes does not fit gRPC's length prefix");
  prefix_ = encode_message_prefix(static_cast<uint32_t>(message.size()));
  body_ = std::move(message);
  offset_ = 0;
  total_ = kMessagePrefixBytes + body_.size();
}

void OutgoingMessage::set_framed(std::string wire) {
  MERIDIAN_ASSERT(empty(), "a message is set while ", total_ - offset_, " bytes of one remain");
  body_ = std::move(wire);
  offset_ = kMessagePrefixBytes;  // no prefix of its own: the messages carry theirs
  total_ = kMessagePrefixBytes + body_.size();
}

void append_framed(std::string* out, std::string_view message) {
  MERIDIAN_ASSERT(message.size() <= std::numeric_limits<uint32_t>::max(), "a message of ",
                  message.size(), " bytes does not fit gRPC's length prefix");
  const auto prefix = encode_message_prefix(static_cast<uint32_t>(message.size()));
  out->append(reinterpret_cast<const char*>(prefix.data()), prefix.size());
  out->append(message);
}

size_t OutgoingMessage::take(uint8_t* out, size_t size) {
  if (empty()) return 0;
  size_t copied = 0;
  if (offset_ < kMessagePrefixBytes && size > 0) {
    const size_t n = std::min(kMessagePrefixBytes - offset_, size);
    std::memcpy(out, prefix_.data() + offset_, n);
    offset_ += n;
    copied = n;
  }
  if (offset_ >= kMessagePrefixBytes && copied < size) {
    const size_t at = offset_ - kMessagePrefixBytes;
    const size_t n = std::min(body_.size() - at, size - copied);
    std::memcpy(out + copied, body_.data() + at, n);
    offset_ += n;
    copied += n;
  }
  if (empty()) body_ = std::string();  // a large message's memory goes now, not at the next one
  return copied;
}

void OutgoingMessage::clear() {
  body_ = std::string();
  offset_ = 0;
  total_ = 0;
}

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value) {
  // TimeoutValue is at most 8 digits (PROTOCOL-HTTP2.md), so it fits in 27 bits.
  constexpr size_t kDigitsMax = 8;
  if (value.size() < 2 || value.size() > kDigitsMax + 1) return std::nullopt;
  int64_t amount = 0;
  for (const char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    amount = amount * 10 + (c - '0');
  }
  int64_t unit_ns = 0;
  switch (value.back()) {
    case 'H':
      unit_ns = int64_t{3600} * 1000 * 1000 * 1000;
      break;
    case 'M':
      unit_ns = int64_t{60} * 1000 * 1000 * 1000;
      break;
    case 'S':
      unit_ns = 1000 * 1000 * 1000;
      break;
    case 'm':
      unit_ns = 1000 * 1000;
      break;
    case 'u':
      unit_ns = 1000;
      break;
    case 'n':
      unit_ns = 1;
      break;
    default:
      return std::nullopt;
  }
  if (amount > std::numeric_limits<int64_t>::max() / unit_ns) {
    return std::chrono::nanoseconds::max();
  }
  return std::chrono::nanoseconds(amount * unit_ns);
}

Clock::time_point deadline_after(Clock::time_point now, std::chrono::nanoseconds timeout) {
  const auto room = Clock::time_point::max() - now;
  if (timeout >= room) return Clock::time_point::max();
  return now + std::chrono::duration_cast<Clock::duration>(timeout);
}

std::string percent_encode_grpc_message(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (const char c : message) {
    const auto b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b <= 0x7E && b != '%') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
  }
  return out;
}

std::string_view code_number(StatusCode code) {
  static constexpr std::string_view kNumbers[] = {"0", "1",  "2",  "3",  "4",  "5",  "6",  "7", "8",
                                                  "9", "10", "11", "12", "13", "14", "15", "16"};
  const int n = static_cast<int>(code);
  if (n < 0 || n >= static_cast<int>(std::size(kNumbers))) return kNumbers[2];
  return kNumbers[n];
}

const char* code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kDataLoss:
      return "DATA_LOSS";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

}  // namespace meridian::rpc
