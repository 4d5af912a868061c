#include "kv/key_codec.h"

#include "base/assert.h"

namespace meridian::kv {

namespace {
constexpr char kEscape = '\x00';
constexpr char kEscapedZero = '\xff';  // 0x00 0xff: a zero byte of the key
constexpr char kTerminator = '\x01';   // 0x00 0x01: end of the key
constexpr char kPastVersions = '\x02';

// Smallest encoded-key prefix that sorts after every version key of keys >= any
// key: the next tag.
constexpr char kAfterVersionTag = kVersionTag + 1;
}  // namespace

void append_be64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, sizeof buf);
}

uint64_t read_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void append_encoded_key(std::string* out, std::string_view key) {
  out->push_back(kVersionTag);
  size_t start = 0;
  while (true) {
    const size_t zero = key.find(kEscape, start);
    if (zero == std::string_view::npos) {
      out->append(key.substr(start));
      break;
    }
    out->append(key.substr(start, zero - start));
    out->push_back(kEscape);
    out->push_back(kEscapedZero);
    start = zero + 1;
  }
  out->push_back(kEscape);
  out->push_back(kTerminator);
}

std::string encoded_key(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 3 + kRevisionBytes);
  append_encoded_key(&out, key);
  return out;
}

void append_inverted_revision(std::string* out, Revision rev) {
  MERIDIAN_ASSERT(rev.main >= 0 && rev.sub >= 0, "negative revision ", rev.main, ".", rev.sub);
  append_be64(out, ~static_cast<uint64_t>(rev.main));
  append_be64(out, ~static_cast<uint64_t>(rev.sub));
}

std::string version_key(std::string_view key, Revision rev) {
  std::string out = encoded_key(key);
  append_inverted_revision(&out, rev);
  return out;
}

Revision version_key_revision(std::string_view version_key) {
  MERIDIAN_ASSERT(version_key.size() >= 3 + kRevisionBytes, "short version key");
  const char* p = version_key.data() + version_key.size() - kRevisionBytes;
  return Revision{static_cast<int64_t>(~read_be64(p)), static_cast<int64_t>(~read_be64(p + 8))};
}

bool is_version_key(std::string_view k) {
  if (k.size() < 3 + kRevisionBytes || k[0] != kVersionTag) return false;
  const std::string_view enc = encoded_part(k);
  // Every zero byte of the escaped key is followed by 0xff, except the
  // terminator, which must come last.
  for (size_t i = 1; i < enc.size(); ++i) {
    if (enc[i] != kEscape) continue;
    if (i + 1 >= enc.size()) return false;
    if (enc[i + 1] == kTerminator) return i + 2 == enc.size();
    if (enc[i + 1] != kEscapedZero) return false;
    ++i;
  }
  return false;
}

std::string_view decode_user_key(std::string_view encoded, std::string* scratch) {
  // Drop the tag and the terminator.
  const std::string_view body = encoded.substr(1, encoded.size() - 3);
  if (body.find(kEscape) == std::string_view::npos) return body;
  scratch->clear();
  for (size_t i = 0; i < body.size(); ++i) {
    scratch->push_back(body[i]);
    if (body[i] == kEscape) ++i;  // skip the 0xff of the escape
  }
  return *scratch;
}

std::string after_versions(std::string_view encoded) {
  std::string out(encoded);
  MERIDIAN_ASSERT(!out.empty() && out.back() == kTerminator, "not an encoded key");
  out.back() = kPastVersions;
  return out;
}

VersionKeyBounds version_key_bounds(std::string_view key, std::string_view range_end) {
  VersionKeyBounds b;
  b.begin = encoded_key(key);
  if (range_end.empty()) {
    b.end = after_versions(b.begin);
  } else if (range_end.size() == 1 && range_end[0] == '\0') {
    b.end = std::string(1, kAfterVersionTag);
  } else if (range_end <= key) {
    b.end = b.begin;  // empty
  } else {
    // encoded() is order preserving and prefix free, so every version key of a
    // user key below range_end sorts below encoded(range_end).
    b.end = encoded_key(range_end);
  }
  return b;
}

bool key_in_range(std::string_view k, std::string_view key, std::string_view range_end) {
  if (range_end.empty()) return k == key;
  if (k < key) return false;
  if (range_end.size() == 1 && range_end[0] == '\0') return true;
  return k < range_end;
}

std::string revision_key(Revision rev) {
  std::string out;
  out.reserve(1 + kRevisionBytes);
  out.push_back(kRevisionTag);
  append_be64(&out, static_cast<uint64_t>(rev.main));
  append_be64(&out, static_cast<uint64_t>(rev.sub));
  return out;
}

bool decode_revision_key(std::string_view k, Revision* rev) {
  if (k.size() != 1 + kRevisionBytes || k[0] != kRevisionTag) return false;
  rev->main = static_cast<int64_t>(read_be64(k.data() + 1));
  rev->sub = static_cast<int64_t>(read_be64(k.data() + 9));
  return rev->main >= 0 && rev->sub >= 0;
}

}  // namespace meridian::kv
