// key_codec.h: the order-preserving layout everything else relies on.
#include "kv/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "kv/record_codec.h"

namespace meridian::kv {
namespace {

// Short keys over the bytes that matter to the escape (0x00, 0x01, 0x02, 0xff)
// and a plain one.
std::vector<std::string> awkward_keys() {
  const char bytes[] = {'\x00', '\x01', '\x02', '\xff', 'a'};
  std::vector<std::string> keys = {""};
  for (size_t len = 1; len <= 3; ++len) {
    const size_t before = keys.size();
    for (size_t i = 0; i < before; ++i) {
      if (keys[i].size() != len - 1) continue;
      for (char b : bytes) keys.push_back(keys[i] + b);
    }
  }
  keys.erase(keys.begin());  // etcd keys are never empty
  return keys;
}

TEST(KeyCodecTest, EncodedKeysSortLikeKeys) {
  const auto keys = awkward_keys();
  ASSERT_GT(keys.size(), 150u);
  for (const auto& a : keys) {
    for (const auto& b : keys) {
      EXPECT_EQ(a < b, encoded_key(a) < encoded_key(b))
          << testing::PrintToString(a) << " " << testing::PrintToString(b);
      // Prefix free: no encoded key starts another.
      if (a != b) {
        EXPECT_FALSE(encoded_key(b).starts_with(encoded_key(a)));
      }
    }
  }
}

TEST(KeyCodecTest, VersionKeysSortByKeyThenNewestFirst) {
  std::mt19937 rng(7);
  const auto keys = awkward_keys();
  struct Item {
    std::string key;
    Revision rev;
  };
  std::vector<Item> items;
  for (int i = 0; i < 3000; ++i) {
    items.push_back({keys[rng() % keys.size()],
                     Revision{static_cast<int64_t>(rng() % 300), static_cast<int64_t>(rng() % 3)}});
  }
  std::vector<Item> by_encoding = items;
  std::sort(by_encoding.begin(), by_encoding.end(), [](const Item& a, const Item& b) {
    return version_key(a.key, a.rev) < version_key(b.key, b.rev);
  });
  std::vector<Item> by_meaning = items;
  std::sort(by_meaning.begin(), by_meaning.end(), [](const Item& a, const Item& b) {
    if (a.key != b.key) return a.key < b.key;
    return a.rev > b.rev;
  });
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(by_encoding[i].key, by_meaning[i].key) << i;
    ASSERT_EQ(by_encoding[i].rev, by_meaning[i].rev) << i;
  }
}

TEST(KeyCodecTest, DecodesWhatItEncodes) {
  std::string scratch;
  for (const auto& key : awkward_keys()) {
    const Revision rev{123456789012, 7};
    const std::string vk = version_key(key, rev);
    EXPECT_TRUE(is_version_key(vk));
    EXPECT_EQ(version_key_revision(vk), rev);
    EXPECT_EQ(decode_user_key(encoded_part(vk), &scratch), key);
    // After every version of the key, before any other key's.
    const std::string after = after_versions(encoded_part(vk));
    EXPECT_LT(version_key(key, Revision{0, 0}), after);
    EXPECT_LT(after, encoded_key(key + '\0'));
  }
  EXPECT_FALSE(is_version_key("k"));
  EXPECT_FALSE(is_version_key(std::string("ka\x00\x07", 4) + std::string(16, 'x')));
  EXPECT_FALSE(is_version_key(std::string("ka\x00\x01z", 5) + std::string(16, 'x')));
  EXPECT_FALSE(is_version_key("r" + std::string(18, 'x')));
}

TEST(KeyCodecTest, RangeBounds) {
  const std::string zero(1, '\0');
  auto inside = [](const VersionKeyBounds& b, std::string_view key) {
    const std::string vk = version_key(key, Revision{5, 0});
    return b.begin <= vk && vk < b.end;
  };
  const auto single = version_key_bounds("ab", "");
  EXPECT_TRUE(inside(single, "ab"));
  EXPECT_FALSE(inside(single, "abc"));
  EXPECT_FALSE(inside(single, std::string("ab\0", 3)));
  const auto from = version_key_bounds("b", zero);
  EXPECT_FALSE(inside(from, "a\xff"));
  EXPECT_TRUE(inside(from, "b"));
  EXPECT_TRUE(inside(from, "\xff\xff\xff"));
  EXPECT_LT(from.end, std::string(1, kMetaTag));
  const auto span = version_key_bounds("b", "d");
  EXPECT_TRUE(inside(span, "c\xff"));
  EXPECT_FALSE(inside(span, "d"));
  const auto empty = version_key_bounds("d", "b");
  EXPECT_GE(empty.begin, empty.end);
  EXPECT_TRUE(key_in_range("c", "b", "d"));
  EXPECT_FALSE(key_in_range("d", "b", "d"));
  EXPECT_TRUE(key_in_range("zz", "b", zero));
  EXPECT_TRUE(key_in_range("b", "b", ""));
  EXPECT_FALSE(key_in_range("bb", "b", ""));
}

TEST(KeyCodecTest, RevisionKeysSortByRevision) {
  Revision r;
  EXPECT_LT(revision_key(Revision{2, 9}), revision_key(Revision{3, 0}));
  EXPECT_LT(revision_key(Revision{3, 0}), revision_key(Revision{3, 1}));
  EXPECT_LT(revision_key(Revision{255, 0}), revision_key(Revision{256, 0}));
  ASSERT_TRUE(decode_revision_key(revision_key(Revision{1ll << 40, 3}), &r));
  EXPECT_EQ(r, (Revision{1ll << 40, 3}));
  EXPECT_FALSE(decode_revision_key("r123", &r));
}

TEST(RecordCodecTest, RoundTripAndRejects) {
  std::string rec;
  append_put_record(&rec, 5, 3, -2, std::string("v\0x", 3));
  VersionRecord r;
  ASSERT_TRUE(decode_record(rec, &r));
  EXPECT_FALSE(r.tombstone);
  EXPECT_EQ(r.create_revision, 5);
  EXPECT_EQ(r.version, 3);
  EXPECT_EQ(r.lease, -2);
  EXPECT_EQ(r.value, std::string("v\0x", 3));
  ASSERT_TRUE(decode_record(tombstone_record(), &r));
  EXPECT_TRUE(r.tombstone);
  EXPECT_FALSE(decode_record("", &r));
  EXPECT_FALSE(decode_record("\x02\x01", &r));                              // format
  EXPECT_FALSE(decode_record(std::string("\x01\x01\x00\x01\x00", 5), &r));  // create 0
  EXPECT_FALSE(decode_record("\x01\x01\x05", &r));                          // truncated
  EXPECT_FALSE(decode_record(std::string(tombstone_record()) + "x", &r));
}

}  // namespace
}  // namespace meridian::kv
