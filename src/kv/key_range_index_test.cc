#include "kv/key_range_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace meridian::kv {
namespace {

struct Range {
  std::string start, end;
  bool unbounded = false;
  bool contains(const std::string& k) const { return k >= start && (unbounded || k < end); }
};

std::string random_key(std::mt19937& rng) {
  // Short keys over a small alphabet, so that ranges overlap a lot.
  std::string k;
  const int len = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < len; ++i) k.push_back(static_cast<char>('a' + rng() % 4));
  return k;
}

std::set<const Range*> stab(const KeyRangeIndex<Range>& index, const std::string& key) {
  std::set<const Range*> out;
  index.stab(key, [&](Range* r) { EXPECT_TRUE(out.insert(r).second) << "reported twice"; });
  return out;
}

TEST(KeyRangeIndexTest, StabFindsExactlyTheContainingRanges) {
  std::mt19937 rng(7);
  std::vector<std::unique_ptr<Range>> ranges;
  for (int i = 0; i < 400; ++i) {
    auto r = std::make_unique<Range>();
    r->start = random_key(rng);
    r->end = random_key(rng);
    if (r->end <= r->start) std::swap(r->start, r->end);
    if (r->end == r->start) r->end.push_back('z');
    r->unbounded = rng() % 10 == 0;
    ranges.push_back(std::move(r));
  }
  KeyRangeIndex<Range> index;
  std::vector<bool> present(ranges.size(), false);
  for (int round = 0; round < 3000; ++round) {
    const size_t i = rng() % ranges.size();
    Range* r = ranges[i].get();
    if (present[i]) {
      EXPECT_TRUE(index.erase(r, r->start));
    } else {
      index.insert(r, r->start, r->end, r->unbounded);
    }
    present[i] = !present[i];
    if (round % 10 != 0) continue;
    const std::string key = random_key(rng);
    std::set<const Range*> want;
    for (size_t j = 0; j < ranges.size(); ++j) {
      if (present[j] && ranges[j]->contains(key)) want.insert(ranges[j].get());
    }
    ASSERT_EQ(stab(index, key), want) << "key " << key << " round " << round;
  }
  EXPECT_EQ(index.size(), static_cast<size_t>(std::count(present.begin(), present.end(), true)));
}

TEST(KeyRangeIndexTest, EraseOfAnAbsentEntryChangesNothing) {
  Range a{"a", "c"};
  Range b{"a", "d"};
  KeyRangeIndex<Range> index;
  index.insert(&a, a.start, a.end, false);
  EXPECT_FALSE(index.erase(&b, b.start));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(stab(index, "b"), std::set<const Range*>{&a});
  EXPECT_TRUE(index.erase(&a, a.start));
  EXPECT_TRUE(stab(index, "b").empty());
}

TEST(KeyRangeIndexTest, EndIsExclusiveAndUnboundedHasNoEnd) {
  Range half{"b", "d"};
  Range from{"c", "", true};
  KeyRangeIndex<Range> index;
  index.insert(&half, half.start, half.end, false);
  index.insert(&from, from.start, from.end, true);
  EXPECT_EQ(stab(index, "a"), std::set<const Range*>{});
  EXPECT_EQ(stab(index, "b"), std::set<const Range*>{&half});
  EXPECT_EQ(stab(index, "c"), (std::set<const Range*>{&half, &from}));
  EXPECT_EQ(stab(index, "d"), std::set<const Range*>{&from});
  EXPECT_EQ(stab(index, "\xff\xff"), std::set<const Range*>{&from});
}

}  // namespace
}  // namespace meridian::kv
