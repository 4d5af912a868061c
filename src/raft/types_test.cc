#include "raft/types.h"

#include <gtest/gtest.h>

#include <sstream>

namespace meridian::raft {
namespace {

ConfChange sample() {
  ConfChange cc;
  cc.transition = ConfChangeTransition::kJointExplicit;
  cc.changes = {{ConfChangeType::kAddVoter, NodeId{4}},
                {ConfChangeType::kAddLearner, NodeId{5}},
                {ConfChangeType::kRemoveNode, NodeId{1}}};
  cc.context = "ctx";
  return cc;
}

TEST(ConfChangeCodec, RoundTrips) {
  ConfChange cc = sample();
  auto decoded = decode_conf_change(encode_conf_change(cc));
  ASSERT_TRUE(decoded.is_ok()) << decoded.status();
  EXPECT_EQ(decoded.value(), cc);

  auto leave = decode_conf_change(encode_conf_change(ConfChange{}));
  ASSERT_TRUE(leave.is_ok());
  EXPECT_TRUE(leave.value().leave_joint());
}

TEST(ConfChangeCodec, RejectsEveryTruncation) {
  std::string data = encode_conf_change(sample());
  for (size_t n = 0; n < data.size(); n++) {
    auto r = decode_conf_change(data.substr(0, n));
    EXPECT_FALSE(r.is_ok()) << "prefix of " << n << " bytes decoded";
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorruption);
    }
  }
}

TEST(ConfChangeCodec, RejectsBadFields) {
  std::string good = encode_conf_change(sample());
  auto corrupt = [&](size_t at, char v) {
    std::string d = good;
    d[at] = v;
    return decode_conf_change(d).is_ok();
  };
  EXPECT_FALSE(corrupt(0, 2));                           // version
  EXPECT_FALSE(corrupt(1, 9));                           // transition
  EXPECT_FALSE(corrupt(6, 7));                           // change type
  EXPECT_FALSE(decode_conf_change(good + "x").is_ok());  // trailing bytes
  ConfChange zero;
  zero.changes = {{ConfChangeType::kAddVoter, NodeId{0}}};
  EXPECT_FALSE(decode_conf_change(encode_conf_change(zero)).is_ok());
}

TEST(Printing, MessagesAndConfStatesAreReadable) {
  Message m;
  m.type = MessageType::kAppend;
  m.from = NodeId{1};
  m.to = NodeId{2};
  m.term = Term{3};
  m.index = Index{7};
  m.log_term = Term{2};
  m.commit = Index{6};
  m.entries.resize(2);
  std::ostringstream os;
  os << m;
  EXPECT_EQ(os.str(), "1->2 Append term=3 prev=2/7 entries=2 commit=6");

  ConfState cs{{NodeId{1}, NodeId{2}}, {NodeId{1}}, {NodeId{3}}, {}, true};
  std::ostringstream os2;
  os2 << cs;
  EXPECT_EQ(os2.str(), "voters=(1 2)&&(1) learners=(3) autoleave");
}

}  // namespace
}  // namespace meridian::raft
