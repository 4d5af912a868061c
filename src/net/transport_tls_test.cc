// Transport over TLS with mutual authentication, on certificates made at test
// time (tls_testing.h): members of one CA talk; a certificate from another CA and
// a plain-TCP dialer are refused, and nothing of theirs is delivered.
#include <gtest/gtest.h>

#include "net/tls_testing.h"
#include "net/transport.h"
#include "net/transport_testing.h"

namespace meridian::net {
namespace {

using raft::NodeId;
using testing::eventually;
using testing::IoThreads;
using testing::LogCapture;
using testing::make_append;
using testing::start_node;
using testing::test_options;
using testing::TestCa;

TransportOptions tls_options(uint64_t id, TlsOptions tls) {
  TransportOptions o = test_options(id);
  o.tls = std::move(tls);
  return o;
}

TEST(TransportTlsTest, MembersOfOneCaTalk) {
  TestCa ca("meridian test ca");
  IoThreads io;
  auto a = start_node(io.io(), tls_options(1, ca.issue("node1")));
  auto b = start_node(io.io(), tls_options(2, ca.issue("node2")));
  ASSERT_TRUE(a && b);
  testing::link_all({a.get(), b.get()});
  ASSERT_TRUE(testing::all_connected({a.get(), b.get()}));
  std::vector<Envelope> batch;
  for (uint64_t g = 1; g <= 100; ++g) batch.push_back(make_append(1, 2, g, 1, "secret"));
  a->send(2, batch);
  b->send(1, {make_append(2, 1, 1, 1, "reply")});
  ASSERT_TRUE(eventually(
      [&] { return b->handler.received_count() == 100 && a->handler.received_count() == 1; }));
  EXPECT_EQ(b->handler.received()[99].env.message.entries[0].data, "secret");
  EXPECT_EQ(a->stats(2).refused + b->stats(1).refused, 0u);
}

TEST(TransportTlsTest, CertificateFromAnotherCaIsRefused) {
  LogCapture logs;
  TestCa ca("meridian test ca");
  TestCa rogue("rogue ca");
  IoThreads io;
  auto a = start_node(io.io(), tls_options(1, ca.issue("node1")));
  // Trusts the cluster's CA, but its own certificate is the rogue CA's.
  TlsOptions rogue_tls = rogue.issue("node3");
  rogue_tls.ca_file = ca.ca_file();
  auto c = start_node(io.io(), tls_options(3, rogue_tls));
  ASSERT_TRUE(a && c);
  testing::link_all({a.get(), c.get()});

  // a refuses c's certificate whether c dials (as a TLS client) or is dialed.
  ASSERT_TRUE(eventually([&] { return c->stats(1).refused >= 2 && a->stats(3).refused >= 2; }));
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"refused peer connection from 127.0.0.1:", "TLS handshake failed"});
  }));
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"connection to peer 3 at", "TLS handshake failed"});
  }));
  EXPECT_FALSE(c->stats(1).connected);
  EXPECT_FALSE(a->stats(3).connected);
  c->send(1, {make_append(3, 1, 1, 1, "let me in")});
  ASSERT_TRUE(eventually([&] { return c->handler.dropped_count() == 1; }));
  EXPECT_EQ(a->handler.received_count(), 0u);
  EXPECT_EQ(c->handler.received_count(), 0u);
}

TEST(TransportTlsTest, PlainDialerToTlsListenerIsRefused) {
  LogCapture logs;
  TestCa ca("meridian test ca");
  IoThreads io;
  auto a = start_node(io.io(), tls_options(1, ca.issue("node1")));
  auto d = start_node(io.io(), test_options(4));
  ASSERT_TRUE(a && d);
  d->transport->set_peer(NodeId{1}, a->address());
  ASSERT_TRUE(eventually([&] { return d->stats(1).refused >= 1; }));
  EXPECT_TRUE(eventually([&] {
    return logs.contains({"refused peer connection from 127.0.0.1:", "TLS handshake failed"});
  }));
  EXPECT_FALSE(d->stats(1).connected);
  d->send(1, {make_append(4, 1, 1, 1, "plain")});
  ASSERT_TRUE(eventually([&] { return d->handler.dropped_count() == 1; }));
  EXPECT_EQ(a->handler.received_count(), 0u);
}

}  // namespace
}  // namespace meridian::net
