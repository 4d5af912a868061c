#include "base/status.h"

#include <gtest/gtest.h>

#include "base/strong_int.h"

namespace meridian::base {
namespace {

TEST(Status, OkAndErrorsPrintTheirCodeAndMessage) {
  EXPECT_TRUE(Status::ok().is_ok());
  EXPECT_EQ(Status::ok().to_string(), "ok");
  Status s(Code::kNotLeader, "leader is 3");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kNotLeader);
  EXPECT_EQ(s.to_string(), "not leader: leader is 3");
}

TEST(Result, HoldsAValueOrAnError) {
  Result<int> good(7);
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(good.value(), 7);
  Result<int> bad(Status(Code::kCompacted, "index 3"));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), Code::kCompacted);
}

TEST(ResultDeathTest, ValueOfAnErrorStopsTheProcess) {
  Result<int> bad(Status(Code::kCompacted, "index 3"));
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of a failed Result");
}

TEST(ResultDeathTest, AnOkStatusIsNotAnError) {
  EXPECT_DEATH((void)Result<int>{Status::ok()}, "must hold an error");
}

struct ATag;
struct BTag;
using A = StrongInt<ATag>;

TEST(StrongInt, ArithmeticAndOrdering) {
  A a{5};
  EXPECT_EQ((a + 3).value(), 8u);
  EXPECT_EQ((a - 2).value(), 3u);
  EXPECT_EQ(A{9} - a, 4u);
  EXPECT_LT(a, A{6});
  ++a;
  EXPECT_EQ(a, A{6});
  static_assert(!std::is_convertible_v<StrongInt<BTag>, A>, "distinct tags must not mix");
  static_assert(!std::is_convertible_v<uint64_t, A>, "construction must be explicit");
}

}  // namespace
}  // namespace meridian::base
