#include "net/codec_util.h"

#include <string>

#include "base/assert.h"
#include "base/varint.h"

namespace meridian::net {

void put_u8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

void put_u16(std::string* out, uint16_t v) {
  for (int i = 0; i < 2; i++) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; i++) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; i++) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t varint_bytes(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t load_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

bool WireReader::need(size_t n, const char* field) {
  if (!ok()) return false;
  if (remaining() >= n) return true;
  return fail(std::string("truncated ") + field + " at byte " + std::to_string(pos_) + " (needs " +
              std::to_string(n) + ", " + std::to_string(remaining()) + " left)");
}

uint8_t WireReader::u8(const char* field) {
  if (!need(1, field)) return 0;
  return static_cast<uint8_t>(in_[pos_++]);
}

uint16_t WireReader::u16(const char* field) {
  if (!need(2, field)) return 0;
  auto v = static_cast<uint16_t>(static_cast<uint8_t>(in_[pos_]) |
                                 (static_cast<uint8_t>(in_[pos_ + 1]) << 8));
  pos_ += 2;
  return v;
}

uint32_t WireReader::u32(const char* field) {
  if (!need(4, field)) return 0;
  uint32_t v = load_u32(in_.data() + pos_);
  pos_ += 4;
  return v;
}

uint64_t WireReader::u64(const char* field) {
  if (!need(8, field)) return 0;
  uint64_t v = load_u64(in_.data() + pos_);
  pos_ += 8;
  return v;
}

uint64_t WireReader::varint(const char* field) {
  if (!ok()) return 0;
  const size_t start = pos_;
  uint64_t v = 0;
  if (base::get_varint(in_, &pos_, &v)) return v;
  // Ran out of input inside the varint: report it as truncation, like any field.
  const bool ran_out =
      pos_ >= in_.size() && (pos_ == start || (static_cast<uint8_t>(in_[pos_ - 1]) & 0x80) != 0);
  if (ran_out) {
    (void)need(1, field);
    return 0;
  }
  fail(std::string("malformed varint ") + field + " at byte " + std::to_string(start));
  return 0;
}

bool WireReader::flag(const char* field) {
  const size_t start = pos_;
  const uint8_t v = u8(field);
  if (v > 1) {
    fail(std::string("flag ") + field + " at byte " + std::to_string(start) + " is " +
         std::to_string(v) + " (must be 0 or 1)");
    return false;
  }
  return v == 1;
}

std::string_view WireReader::bytes(uint64_t n, const char* field) {
  if (!ok()) return {};
  if (n > remaining()) {
    fail(std::string("truncated ") + field + " at byte " + std::to_string(pos_) + " (needs " +
         std::to_string(n) + ", " + std::to_string(remaining()) + " left)");
    return {};
  }
  std::string_view v = in_.substr(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return v;
}

uint64_t WireReader::count(const char* field, uint64_t item_bytes_min, uint64_t max) {
  const uint64_t n = varint(field);
  if (!ok()) return 0;
  if (n > max) {
    fail(std::string(field) + " " + std::to_string(n) + " exceeds the limit of " +
         std::to_string(max));
    return 0;
  }
  if (item_bytes_min > 0 && n > remaining() / item_bytes_min) {
    fail(std::string(field) + " " + std::to_string(n) + " cannot fit in the " +
         std::to_string(remaining()) + " bytes left");
    return 0;
  }
  return n;
}

bool WireReader::expect_end() {
  if (!ok()) return false;
  if (remaining() == 0) return true;
  return fail(std::to_string(remaining()) + " trailing bytes at byte " + std::to_string(pos_));
}

bool WireReader::fail(std::string_view why) {
  MERIDIAN_ASSERT(!why.empty(), "a decode error needs a reason");
  if (error_.empty()) error_ = std::string(why);
  return false;
}

base::Status WireReader::status() const {
  MERIDIAN_ASSERT(!ok(), "status() of a reader without an error");
  return base::Status(base::Code::kCorruption, std::string(what_) + ": " + error_);
}

}  // namespace meridian::net
