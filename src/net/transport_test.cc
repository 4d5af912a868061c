// Transport over real sockets on 127.0.0.1: delivery and order, coalescing,
// snapshots, refused handshakes, unreachable peers, misbehaving clients, stop().
// TLS cases are in transport_tls_test.cc.
#include "net/transport.h"

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "net/frame.h"
#include "net/transport_peer.h"
#include "net/transport_testing.h"
#include "net/wire.h"
#include "observe/metrics.h"

namespace meridian::net {
namespace {

using namespace std::chrono_literals;
using raft::MessageType;
using raft::NodeId;
using testing::eventually;
using testing::IoThreads;
using testing::LogCapture;
using testing::make_append;
using testing::make_heartbeat;
using testing::make_snapshot;
using testing::RawClient;
using testing::start_node;
using testing::test_options;
using testing::TestNode;

// Sends `rounds` batches of `groups` appends from a to b; returns what was sent.
std::vector<Envelope> send_rounds(TestNode& a, TestNode& b, int rounds, int groups) {
  std::vector<Envelope> sent;
  for (int r = 1; r <= rounds; ++r) {
    std::vector<Envelope> batch;
    for (int g = 1; g <= groups; ++g) {
      batch.push_back(make_append(a.id.value(), b.id.value(), g, r,
                                  "round " + std::to_string(r) + " group " + std::to_string(g)));
    }
    sent.insert(sent.end(), batch.begin(), batch.end());
    a.send(b.id.value(), std::move(batch));
  }
  return sent;
}

// What `to` received from `from`, in order, equals `sent`.
void expect_received_in_order(const TestNode& to, NodeId from, const std::vector<Envelope>& sent) {
  std::vector<Envelope> got;
  for (auto& r : to.handler.received()) {
    if (r.from == from) got.push_back(r.env);
  }
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].group, sent[i].group) << "at " << i;
    EXPECT_TRUE(testing::same_message(got[i].message, sent[i].message))
        << "at " << i << ": " << got[i].message << " vs " << sent[i].message;
  }
}

TEST(TransportTest, TwoTransportsExchangeBatchesInOrder) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  ASSERT_TRUE(a && b);
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));

  auto ab = send_rounds(*a, *b, 50, 20);
  auto ba = send_rounds(*b, *a, 50, 20);
  ASSERT_TRUE(eventually(
      [&] { return b->handler.received_count() == 1000 && a->handler.received_count() == 1000; }));
  expect_received_in_order(*b, NodeId{1}, ab);
  expect_received_in_order(*a, NodeId{2}, ba);

  // The sender counts a write when it completes, which may be after delivery.
  ASSERT_TRUE(eventually([&] { return a->stats(2).messages_out == 1000; }));
  PeerStats out = a->stats(2);
  PeerStats in = b->stats(1);
  EXPECT_EQ(in.messages_in, 1000u);
  EXPECT_EQ(out.dropped, 0u);
  EXPECT_GE(out.frames_out, 1u);
  EXPECT_LE(out.frames_out, 50u);
  EXPECT_EQ(out.frames_out, in.frames_in);
  EXPECT_EQ(out.bytes_out, in.bytes_in);
  EXPECT_EQ(out.queue_bytes, 0u);
  EXPECT_EQ(out.reconnects, 0u);
  EXPECT_EQ(a->handler.dropped_count(), 0u);
}

TEST(TransportTest, ThreeTransportsPreserveOrderPerSender) {
  IoThreads io;
  std::vector<std::unique_ptr<TestNode>> nodes;
  for (uint64_t id = 1; id <= 3; ++id) nodes.push_back(start_node(io.io(), test_options(id)));
  std::vector<TestNode*> all{nodes[0].get(), nodes[1].get(), nodes[2].get()};
  testing::link_all(all);
  ASSERT_TRUE(testing::all_connected(all));

  std::map<std::pair<int, int>, std::vector<Envelope>> sent;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i != j) sent[{i, j}] = send_rounds(*all[i], *all[j], 30, 10);
    }
  }
  ASSERT_TRUE(eventually([&] {
    for (TestNode* n : all) {
      if (n->handler.received_count() != 600) return false;
    }
    return true;
  }));
  for (auto& [ij, msgs] : sent) {
    expect_received_in_order(*all[ij.second], all[ij.first]->id, msgs);
    TestNode* from = all[ij.first];
    NodeId to = all[ij.second]->id;
    EXPECT_TRUE(eventually([&] { return from->stats(to).messages_out == 300; }));
  }
}

TEST(TransportTest, HeartbeatsOfManyGroupsGoInOneFrame) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));

  std::vector<Envelope> beats;
  for (uint64_t g = 1; g <= 1000; ++g) beats.push_back(make_heartbeat(1, 2, g, g * 3));
  a->send(2, beats);
  ASSERT_TRUE(eventually([&] { return b->handler.received_count() == 1000; }));
  expect_received_in_order(*b, NodeId{1}, beats);
  ASSERT_TRUE(eventually([&] { return a->stats(2).messages_out == 1000; }));
  PeerStats s = a->stats(2);
  EXPECT_EQ(s.frames_out, 1u);  // one send, one write, one frame
  // Coalesced heartbeats are a few bytes each, not a message header each.
  EXPECT_LT(s.bytes_out, 1000u * 32);
}

TEST(TransportTest, LargeSnapshotArrivesWholeBesideHeartbeats) {
  IoThreads io;
  TransportOptions oa = test_options(1);
  oa.snapshot_chunk_bytes = 1 << 20;
  auto a = start_node(io.io(), oa);
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));

  std::string data(5 << 20, '\0');
  std::mt19937_64 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  Envelope snap = make_snapshot(1, 2, 9, data);
  // Queued behind the snapshot, the heartbeat still goes with its first chunk
  // rather than after its last (in one send, so that the order is deterministic).
  a->send(2, {snap, make_heartbeat(1, 2, 1, 5)});

  ASSERT_TRUE(eventually([&] { return b->handler.received_count() == 2; }));
  auto got = b->handler.received();
  EXPECT_EQ(got[0].env.message.type, MessageType::kHeartbeat);
  ASSERT_EQ(got[1].env.message.type, MessageType::kSnapshot);
  EXPECT_EQ(got[1].env.group, GroupId{9});
  EXPECT_EQ(got[1].from, NodeId{1});
  EXPECT_TRUE(testing::same_message(got[1].env.message, snap.message));
  ASSERT_TRUE(eventually([&] { return a->handler.snapshots_sent().size() == 1; }));
  EXPECT_EQ(a->handler.snapshots_sent()[0], std::make_pair(NodeId{2}, GroupId{9}));
  PeerStats s = a->stats(2);
  EXPECT_GE(s.frames_out, 6u);  // five chunks and the heartbeat batch
  EXPECT_EQ(s.messages_out, 2u);
  EXPECT_GT(s.bytes_out, 5u << 20);
  EXPECT_EQ(s.queue_bytes, 0u);
}

TEST(TransportTest, AnImageGoesChunkByChunkIntoTheReceiversSink) {
  IoThreads io;
  TransportOptions oa = test_options(1);
  oa.snapshot_chunk_bytes = 64 * 1024;
  testing::MemorySink sink;  // used only on b's connection strand
  TransportOptions ob = test_options(2);
  ob.snapshot_sink = &sink;
  auto a = start_node(io.io(), oa);
  auto b = start_node(io.io(), ob);
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));

  std::string data(1 << 20, '\0');
  std::mt19937_64 rng(43);
  for (char& c : data) c = static_cast<char>(rng());
  // The first image fails a third of the way in: reported dropped, nothing
  // delivered; the second goes whole.
  Envelope broken = make_snapshot(1, 2, 9, "");
  broken.image = std::make_shared<testing::ScriptedImage>(data, data.size() / 3);
  Envelope good = make_snapshot(1, 2, 9, "");
  good.image = std::make_shared<testing::ScriptedImage>(data, UINT64_MAX);
  a->send(2, {broken});
  ASSERT_TRUE(eventually([&] { return a->handler.dropped_count() == 1; }));
  a->send(2, {good});

  ASSERT_TRUE(eventually([&] { return b->handler.received_count() == 1; }));
  auto got = b->handler.received();
  ASSERT_EQ(got[0].env.message.type, MessageType::kSnapshot);
  EXPECT_EQ(got[0].env.message.snapshot->meta, good.message.snapshot->meta);
  EXPECT_TRUE(got[0].env.message.snapshot->data.empty());
  ASSERT_NE(got[0].env.received, nullptr);
  ASSERT_TRUE(got[0].env.received->keep().is_ok());
  ASSERT_EQ(sink.kept.size(), 1u);
  EXPECT_TRUE(sink.kept[0] == data);
  EXPECT_EQ(sink.discarded, 1);  // the broken one's partial data, replaced by the good one
  ASSERT_TRUE(eventually([&] { return a->handler.snapshots_sent().size() == 1; }));
  EXPECT_EQ(a->stats(2).queue_bytes, 0u);
}

TEST(TransportTest, OtherClusterIsRefusedBothWays) {
  LogCapture logs;
  IoThreads io;
  auto a = start_node(io.io(), test_options(1, 0xAAAA));
  auto b = start_node(io.io(), test_options(2, 0xBBBB));
  testing::link_all({a.get(), b.get()});
  // Each side refuses the other's dial and hears the other refuse its own.
  ASSERT_TRUE(eventually([&] { return a->stats(2).refused >= 2 && b->stats(1).refused >= 2; }));
  EXPECT_FALSE(a->stats(2).connected);
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"refused peer connection from 127.0.0.1:",
                          "cluster id mismatch (theirs 0xbbbb, ours 0xaaaa)"});
  }));
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"connection to peer 2 at", "refused: cluster id mismatch"});
  }));

  a->send(2, {make_append(1, 2, 1, 1, "x")});
  ASSERT_TRUE(eventually([&] { return a->handler.dropped_count() == 1; }));
  EXPECT_EQ(a->handler.dropped()[0].group, GroupId{1});
  EXPECT_EQ(a->handler.dropped()[0].type, MessageType::kAppend);
  EXPECT_EQ(a->stats(2).dropped, 1u);
  EXPECT_EQ(b->handler.received_count(), 0u);
  EXPECT_EQ(a->handler.received_count(), 0u);
}

TEST(TransportTest, UnreachablePeerDropsThenReconnects) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));
  a->send(2, {make_append(1, 2, 1, 1, "before")});
  ASSERT_TRUE(eventually([&] { return b->handler.received_count() == 1; }));
  // The peer can read a batch before its writer hears the write completed; a
  // connection lost in between reports the batch dropped. Wait for the writer.
  ASSERT_TRUE(eventually([&] { return a->stats(2).messages_out == 1; }));

  const uint16_t b_port = b->transport->port();
  b.reset();  // stops it
  ASSERT_TRUE(eventually([&] { return !a->stats(2).connected; }));

  // While it is down every send is dropped at once: nothing accumulates.
  const std::string kilobyte(1024, 'k');
  for (uint64_t i = 0; i < 1000; ++i) a->send(2, {make_append(1, 2, 1, i + 2, kilobyte)});
  EXPECT_EQ(a->stats(2).queue_bytes, 0u);
  ASSERT_TRUE(eventually([&] { return a->handler.dropped_count() == 1000; }))
      << "reported dropped: " << a->handler.dropped_count();
  EXPECT_EQ(a->stats(2).dropped, 1000u);

  // It comes back on the same port; the dialer's backoff finds it.
  TransportOptions ob = test_options(2);
  ob.listen_port = b_port;
  b = start_node(io.io(), ob);
  ASSERT_TRUE(b);
  b->transport->set_peer(NodeId{1}, a->address());
  ASSERT_TRUE(eventually([&] { return a->stats(2).connected; }));
  EXPECT_EQ(a->stats(2).reconnects, 1u);
  a->send(2, {make_append(1, 2, 1, 2000, "after")});
  ASSERT_TRUE(eventually([&] { return b->handler.received_count() == 1; }));
  EXPECT_EQ(b->handler.received()[0].env.message.entries[0].data, "after");
}

// A removed peer is forgotten both ways: a no longer dials it, and b, whose
// connection to a closes, is refused with a reason that says it was removed.
TEST(TransportTest, ARemovedPeerIsNoLongerDialedAndLearnsItWasRemoved) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));
  a->transport->remove_peer(NodeId{2});
  a->transport->remove_peer(NodeId{7});  // unknown: ignored
  ASSERT_TRUE(eventually([&] { return !a->stats(2).connected; }));
  a->send(2, {make_append(1, 2, 1, 1, "after removal")});
  ASSERT_TRUE(eventually([&] { return a->handler.dropped_count() == 1; }));
  // Stays gone: no redial brings the connection back.
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(a->stats(2).connected);
  EXPECT_EQ(b->handler.received_count(), 0u);
  ASSERT_TRUE(eventually([&] { return b->handler.removed_by() == 1; }));
  EXPECT_FALSE(b->stats(1).connected);
  EXPECT_GE(b->stats(1).refused, 1u);
  EXPECT_EQ(a->handler.removed_by(), 0u);
  b->send(1, {make_append(2, 1, 1, 1, "b to a")});
  ASSERT_TRUE(eventually([&] { return b->handler.dropped_count() >= 1; }));
  EXPECT_EQ(a->handler.received_count(), 0u);
}

// A peer that moves: set_peer with its new address closes the old connection
// and dials the new one.
TEST(TransportTest, APeerThatMovesIsDialedAtItsNewAddress) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));
  a->send(2, {make_append(1, 2, 1, 1, "before")});
  ASSERT_TRUE(eventually([&] { return b->handler.received_count() == 1; }));
  auto moved = start_node(io.io(), test_options(2));
  moved->transport->set_peer(NodeId{1}, a->address());
  a->transport->set_peer(NodeId{2}, moved->address());
  // Sent until it arrives: the first may go (and be dropped) while the old
  // connection closes.
  ASSERT_TRUE(eventually([&] {
    a->send(2, {make_append(1, 2, 1, 2, "after")});
    return moved->handler.received_count() >= 1;
  }));
  EXPECT_EQ(b->handler.received_count(), 1u);
}

TEST(TransportTest, FullQueueDropsTheExcess) {
  IoThreads io;
  TransportOptions oa = test_options(1);
  oa.queue_bytes_max = 64 * 1024;
  auto a = start_node(io.io(), oa);
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));

  std::vector<Envelope> burst;
  for (uint64_t i = 1; i <= 500; ++i)
    burst.push_back(make_append(1, 2, 1, i, std::string(1024, 'q')));
  a->send(2, burst);  // one call: the bound applies before the writer can drain anything
  EXPECT_LE(a->stats(2).queue_bytes, oa.queue_bytes_max);
  ASSERT_TRUE(eventually([&] {
    return a->handler.dropped_count() + b->handler.received_count() == 500 &&
           a->stats(2).queue_bytes == 0;
  }));
  const size_t fit = oa.queue_bytes_max / detail::Peer::estimate_bytes(burst[0].message);
  EXPECT_EQ(b->handler.received_count(), fit);
  // What got through is the head of the burst, in order.
  auto got = b->handler.received();
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].env.message.entries[0].index, raft::Index{i + 1});
  }
}

// Connects, writes `bytes`, and expects the listener to close the connection.
// Returns what the listener wrote before closing.
std::string expect_closed_after(uint16_t port, const std::string& bytes) {
  RawClient c(port);
  EXPECT_TRUE(c.connected());
  c.write(bytes);
  std::string got;
  EXPECT_TRUE(c.wait_closed(&got)) << "the listener kept the connection open";
  return got;
}

HelloAck decode_ack(const std::string& got) {
  FrameDecoder d(1 << 20);
  d.feed(got.data(), got.size());
  auto f = d.next();
  EXPECT_TRUE(f.is_ok() && f.value().has_value()) << "no HelloAck frame";
  if (!f.is_ok() || !f.value()) return HelloAck{};
  EXPECT_EQ(f.value()->type, FrameType::kHelloAck);
  auto ack = decode_hello_ack(f.value()->payload);
  EXPECT_TRUE(ack.is_ok());
  return ack.is_ok() ? ack.value() : HelloAck{};
}

TEST(TransportTest, MisbehavingClientsAreClosedAndGoodPeersUnaffected) {
  LogCapture logs;
  IoThreads io;
  TransportOptions oa = test_options(1);
  oa.max_frame_bytes = 1 << 20;
  oa.snapshot_chunk_bytes = 256 * 1024;
  oa.dial_timeout_ms = 300;  // also the listener's handshake deadline
  auto a = start_node(io.io(), oa);
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));
  const uint16_t port = a->transport->port();
  const std::string hello = encode_frame(
      FrameType::kHello,
      encode_hello(Hello{kProtocolVersion, testing::kTestCluster, NodeId{7}, NodeId{1}}));

  // Garbage: its "header" announces a frame far beyond the limit.
  expect_closed_after(port, "this is not a frame, just some garbage bytes\n");
  // A header announcing one byte more than the limit: closed on the header alone.
  std::string oversized = encode_frame(FrameType::kHello, "x");
  const uint32_t too_long = oa.max_frame_bytes + 1;
  oversized.replace(0, 4, reinterpret_cast<const char*>(&too_long), 4);
  expect_closed_after(port, oversized.substr(0, kFrameHeaderBytes));
  // A Hello with a bad checksum.
  std::string bad_crc = hello;
  bad_crc[5] = static_cast<char>(bad_crc[5] ^ 0x5a);
  expect_closed_after(port, bad_crc);
  // Messages before any Hello: never delivered.
  expect_closed_after(
      port, encode_frame(FrameType::kMessages, encode_batch({make_append(7, 1, 1, 1, "sneaky")})));
  // Another protocol version: refused with a reason the dialer can log.
  HelloAck ack = decode_ack(expect_closed_after(
      port, encode_frame(FrameType::kHello,
                         encode_hello(Hello{kProtocolVersion + 1, testing::kTestCluster, NodeId{7},
                                            NodeId{1}}))));
  EXPECT_FALSE(ack.accepted);
  EXPECT_NE(ack.reason.find("protocol version mismatch"), std::string::npos) << ack.reason;
  // Addressed to another node.
  ack = decode_ack(expect_closed_after(
      port,
      encode_frame(FrameType::kHello, encode_hello(Hello{kProtocolVersion, testing::kTestCluster,
                                                         NodeId{7}, NodeId{5}}))));
  EXPECT_FALSE(ack.accepted);
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"refused peer connection from", "addressed to node 5"});
  }));
  // Silent after connecting: closed at the handshake deadline.
  {
    RawClient silent(port);
    std::string got;
    EXPECT_TRUE(silent.wait_closed(&got, 2000ms));
    EXPECT_TRUE(eventually([&] {
      return logs.contains({"refused peer connection from", "handshake timed out"});
    }));
  }
  // Frames pipelined behind the Hello, before the HelloAck: refused, not delivered.
  const std::string batch_frame =
      encode_frame(FrameType::kMessages, encode_batch({make_append(7, 1, 4, 1, "welcome")}));
  expect_closed_after(port, hello + batch_frame);
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"refused peer connection from", "data sent before the HelloAck"});
  }));
  // A good handshake and then a good batch from a node not (yet) in our peer list
  // are delivered; then a frame over the limit closes that connection.
  {
    RawClient good(port);
    good.write(hello);
    const size_t ack_bytes =
        encode_frame(FrameType::kHelloAck, encode_hello_ack({true, ""})).size();
    std::string got;
    ASSERT_TRUE(good.read_until(&got, ack_bytes));
    EXPECT_TRUE(decode_ack(got).accepted);
    good.write(batch_frame);
    ASSERT_TRUE(eventually([&] { return a->handler.received_from(NodeId{7}) == 1; }));
    good.write(oversized.substr(0, kFrameHeaderBytes));
    EXPECT_TRUE(good.wait_closed(&got));
    EXPECT_TRUE(eventually([&] {
      return logs.contains({"closing peer connection from node 7", "exceeds the limit of 1048576"});
    }));
  }

  EXPECT_EQ(a->handler.received_count(), 1u);
  // The real peer never noticed.
  b->send(1, {make_append(2, 1, 1, 1, "still here")});
  a->send(2, {make_append(1, 2, 1, 1, "and here")});
  ASSERT_TRUE(eventually([&] {
    return a->handler.received_from(NodeId{2}) == 1 && b->handler.received_count() == 1;
  }));
  EXPECT_TRUE(a->stats(2).connected && b->stats(1).connected);
  EXPECT_EQ(a->stats(2).reconnects + b->stats(1).reconnects, 0u);
}

TEST(TransportTest, StopSilencesTheHandlerAndIsIdempotent) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));

  std::atomic<bool> done{false};
  std::thread traffic([&] {
    for (uint64_t i = 1; !done.load(); ++i) {
      b->send(1, {make_heartbeat(2, 1, i % 50 + 1, i)});
      a->send(2, {make_heartbeat(1, 2, i % 50 + 1, i)});
      if (i % 64 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return a->handler.received_count() > 100; }));
  a->transport->stop();
  a->handler.close();  // any handler call from now on is a violation
  std::this_thread::sleep_for(50ms);
  done.store(true);
  traffic.join();
  a->transport->stop();
  EXPECT_EQ(a->handler.calls_after_close(), 0u);
  // b lost its peer: its sends are dropped and reported, without crashing.
  ASSERT_TRUE(eventually([&] { return !b->stats(1).connected; }));
}

TEST(TransportTest, ReportsPeerMetrics) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  auto b = start_node(io.io(), test_options(2));
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));
  observe::Registry registry;
  a->transport->register_metrics(&registry);
  a->send(2, {make_append(1, 2, 1, 1, "m")});
  ASSERT_TRUE(eventually([&] { return a->stats(2).messages_out == 1; }));
  const std::string text = registry.render();
  for (const char* want :
       {"meridian_peer_connected{peer=\"2\"} 1", "meridian_peer_messages_sent_total{peer=\"2\"} 1",
        "meridian_peer_bytes_sent_total{peer=\"2\"}", "meridian_peer_bytes_received_total",
        "meridian_peer_messages_received_total", "meridian_peer_dropped_total{peer=\"2\"} 0",
        "meridian_peer_reconnects_total", "meridian_peer_handshakes_refused_total",
        "meridian_peer_queue_bytes{peer=\"2\"} 0"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " missing from\n" << text;
  }
  a->transport->stop();
  EXPECT_EQ(registry.render().find("meridian_peer_connected"), std::string::npos);
}

TEST(TransportTest, StartFailsCleanly) {
  IoThreads io;
  auto a = start_node(io.io(), test_options(1));
  TransportOptions taken = test_options(2);
  taken.listen_port = a->transport->port();
  testing::Recorder handler;
  auto t = Transport::start(io.io(), taken, &handler);
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), base::Code::kUnavailable) << t.status();

  TransportOptions bad_tls = test_options(3);
  bad_tls.tls = TlsOptions{"/nonexistent/cert.pem", "/nonexistent/key.pem", "/nonexistent/ca.pem"};
  t = Transport::start(io.io(), bad_tls, &handler);
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), base::Code::kInvalidArgument) << t.status();
  EXPECT_NE(t.status().message().find("/nonexistent/cert.pem"), std::string::npos);
}

}  // namespace
}  // namespace meridian::net
