#include "rpc/grpc_framing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace meridian::rpc {
namespace {

using State = MessageDeframer::State;
using std::chrono::nanoseconds;

std::string framed(const std::string& body, uint8_t flag = 0) {
  auto prefix = encode_message_prefix(static_cast<uint32_t>(body.size()));
  prefix[0] = flag;
  return std::string(prefix.begin(), prefix.end()) + body;
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Feeds `wire` in pieces of `piece` bytes; returns the messages, and the error
// state if one was reached.
struct Fed {
  std::vector<std::string> messages;
  State end = State::kNeedMore;
};
Fed feed_in_pieces(MessageDeframer& d, const std::string& wire, size_t piece) {
  Fed out;
  for (size_t pos = 0; pos < wire.size();) {
    const size_t n = std::min(piece, wire.size() - pos);
    const uint8_t* data = bytes(wire) + pos;
    size_t left = n;
    while (left > 0) {
      const size_t used = d.feed(data, left);
      data += used;
      left -= used;
      if (d.state() == State::kMessage) {
        out.messages.push_back(d.take());
      } else if (d.state() != State::kNeedMore) {
        out.end = d.state();
        return out;
      }
    }
    pos += n;
  }
  return out;
}

TEST(MessagePrefix, IsAZeroFlagAndABigEndianLength) {
  const auto p = encode_message_prefix(0x01020304);
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[1], 1);
  EXPECT_EQ(p[2], 2);
  EXPECT_EQ(p[3], 3);
  EXPECT_EQ(p[4], 4);
}

TEST(MessageDeframer, YieldsTheSameMessagesHoweverTheBytesAreCut) {
  const std::vector<std::string> bodies = {"", "a", std::string(300, 'x'), "hello", ""};
  std::string wire;
  for (const auto& b : bodies) wire += framed(b);
  for (size_t piece = 1; piece <= wire.size(); ++piece) {
    MessageDeframer d(1024);
    const Fed fed = feed_in_pieces(d, wire, piece);
    EXPECT_EQ(fed.end, State::kNeedMore) << "piece " << piece;
    EXPECT_EQ(fed.messages, bodies) << "piece " << piece;
    EXPECT_FALSE(d.mid_message());
  }
}

TEST(MessageDeframer, TakesOnlyUpToTheEndOfTheNextMessage) {
  const std::string wire = framed("ab") + framed("cde");
  MessageDeframer d(16);
  EXPECT_EQ(d.feed(bytes(wire), wire.size()), 7u);
  ASSERT_EQ(d.state(), State::kMessage);
  EXPECT_EQ(d.feed(bytes(wire) + 7, wire.size() - 7), 0u) << "nothing until take()";
  EXPECT_EQ(d.take(), "ab");
  EXPECT_EQ(d.feed(bytes(wire) + 7, wire.size() - 7), 8u);
  EXPECT_EQ(d.take(), "cde");
}

TEST(MessageDeframer, ReportsTooLargeFromThePrefixBeforeAnyBody) {
  MessageDeframer d(10);
  const std::string wire = framed(std::string(11, 'z'));
  EXPECT_EQ(d.feed(bytes(wire), wire.size()), kMessagePrefixBytes);
  EXPECT_EQ(d.state(), State::kTooLarge);
  EXPECT_EQ(d.announced_bytes(), 11u);
  EXPECT_EQ(d.feed(bytes(wire) + 5, 6), 0u);

  MessageDeframer exact(10);
  const Fed fed = feed_in_pieces(exact, framed(std::string(10, 'z')), 3);
  EXPECT_EQ(fed.end, State::kNeedMore);
  EXPECT_EQ(fed.messages.size(), 1u);
}

TEST(MessageDeframer, AHugeAnnouncedLengthIsRefusedNotReserved) {
  MessageDeframer d(4u << 20);
  const std::string prefix("\x00\xff\xff\xff\xff", 5);
  EXPECT_EQ(d.feed(bytes(prefix), 5), 5u);
  EXPECT_EQ(d.state(), State::kTooLarge);
  EXPECT_EQ(d.announced_bytes(), 0xffffffffu);
}

TEST(MessageDeframer, ReportsCompressedAndBadFlags) {
  MessageDeframer compressed(100);
  EXPECT_EQ(feed_in_pieces(compressed, framed("x", 1), 2).end, State::kCompressed);
  MessageDeframer bad(100);
  EXPECT_EQ(feed_in_pieces(bad, framed("x", 2), 2).end, State::kBadFlag);
}

TEST(MessageDeframer, KnowsWhenItIsInsideAMessage) {
  MessageDeframer d(100);
  EXPECT_FALSE(d.mid_message());
  const std::string wire = framed("abc");
  d.feed(bytes(wire), 2);
  EXPECT_TRUE(d.mid_message()) << "inside the prefix";
  d.feed(bytes(wire) + 2, 4);
  EXPECT_TRUE(d.mid_message()) << "inside the body";
  d.feed(bytes(wire) + 6, 2);
  ASSERT_EQ(d.state(), State::kMessage);
  d.take();
  EXPECT_FALSE(d.mid_message());
}

TEST(OutgoingMessage, HandsOutThePrefixThenTheBodyInAnyPieces) {
  const std::string body(100, 'q');
  const std::string expected = framed(body);
  for (size_t piece : {1, 3, 5, 6, 64, 1000}) {
    OutgoingMessage m;
    EXPECT_TRUE(m.empty());
    m.set(body);
    std::string got;
    while (!m.empty()) {
      std::string buf(piece, '\0');
      const size_t n = m.take(reinterpret_cast<uint8_t*>(buf.data()), piece);
      ASSERT_GT(n, 0u);
      got.append(buf.data(), n);
    }
    EXPECT_EQ(got, expected) << "piece " << piece;
  }
}

TEST(OutgoingMessage, AnEmptyMessageIsItsPrefix) {
  OutgoingMessage m;
  m.set("");
  uint8_t buf[16];
  EXPECT_EQ(m.take(buf, sizeof buf), kMessagePrefixBytes);
  EXPECT_TRUE(m.empty());
  m.set("ab");
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.take(buf, sizeof buf), 0u);
}

// Framed messages go out as they are, and deframe into the same messages.
TEST(OutgoingMessage, FramedMessagesGoOutUnchangedAndDeframeWhole) {
  std::string wire;
  append_framed(&wire, "first");
  append_framed(&wire, "");
  append_framed(&wire, std::string(300, 'x'));
  ASSERT_EQ(wire.size(), 3 * kMessagePrefixBytes + 5 + 300);
  OutgoingMessage m;
  m.set_framed(wire);
  std::string out;
  uint8_t buf[7];
  while (!m.empty()) out.append(reinterpret_cast<const char*>(buf), m.take(buf, sizeof buf));
  EXPECT_EQ(out, wire);
  MessageDeframer d(1024);
  std::vector<std::string> got;
  const auto* data = reinterpret_cast<const uint8_t*>(out.data());
  size_t at = 0;
  while (at < out.size()) {
    at += d.feed(data + at, out.size() - at);
    if (d.state() == MessageDeframer::State::kMessage) got.push_back(d.take());
    ASSERT_NE(d.state(), MessageDeframer::State::kTooLarge);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "", std::string(300, 'x')}));
}

TEST(GrpcTimeout, ParsesEveryUnit) {
  EXPECT_EQ(parse_grpc_timeout("1H"), nanoseconds(std::chrono::hours(1)));
  EXPECT_EQ(parse_grpc_timeout("2M"), nanoseconds(std::chrono::minutes(2)));
  EXPECT_EQ(parse_grpc_timeout("3S"), nanoseconds(std::chrono::seconds(3)));
  EXPECT_EQ(parse_grpc_timeout("200m"), nanoseconds(std::chrono::milliseconds(200)));
  EXPECT_EQ(parse_grpc_timeout("99999999u"), nanoseconds(std::chrono::microseconds(99999999)));
  EXPECT_EQ(parse_grpc_timeout("7n"), nanoseconds(7));
  EXPECT_EQ(parse_grpc_timeout("0m"), nanoseconds(0));
}

TEST(GrpcTimeout, RejectsMalformedValues) {
  for (const char* v :
       {"", "S", "10", "123456789S", "1s", "1x", "-1S", " 1S", "1S ", "1.5S", "+1S", "1SS"}) {
    EXPECT_EQ(parse_grpc_timeout(v), std::nullopt) << "'" << v << "'";
  }
}

TEST(GrpcTimeout, SaturatesBeyondTheRangeOfNanoseconds) {
  EXPECT_EQ(parse_grpc_timeout("99999999H"), nanoseconds::max());
  const auto now = Clock::now();
  EXPECT_EQ(deadline_after(now, nanoseconds::max()), Clock::time_point::max());
  EXPECT_EQ(deadline_after(now, nanoseconds(5)), now + nanoseconds(5));
}

TEST(GrpcMessage, PercentEncodesControlsNonAsciiAndPercent) {
  EXPECT_EQ(percent_encode_grpc_message("plain text ~!"), "plain text ~!");
  EXPECT_EQ(percent_encode_grpc_message("50% off"), "50%25 off");
  EXPECT_EQ(percent_encode_grpc_message("caf\xc3\xa9\n"), "caf%C3%A9%0A");
  EXPECT_EQ(percent_encode_grpc_message(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(percent_encode_grpc_message("\x7f"), "%7F");
}

TEST(StatusCodes, HaveGrpcsNamesAndNumbers) {
  EXPECT_STREQ(code_name(StatusCode::kOk), "OK");
  EXPECT_STREQ(code_name(StatusCode::kOutOfRange), "OUT_OF_RANGE");
  EXPECT_STREQ(code_name(StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(code_number(StatusCode::kOk), "0");
  EXPECT_EQ(code_number(StatusCode::kUnavailable), "14");
  EXPECT_EQ(code_number(StatusCode::kUnauthenticated), "16");
  EXPECT_EQ(code_number(static_cast<StatusCode>(99)), "2");
}

}  // namespace
}  // namespace meridian::rpc
