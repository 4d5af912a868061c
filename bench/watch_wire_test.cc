#include "watch_wire.h"

#include <gtest/gtest.h>

#include <string>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"

namespace meridian::bench::etcd_load {
namespace {

etcdserverpb::WatchResponse sample() {
  etcdserverpb::WatchResponse r;
  r.mutable_header()->set_revision(99);
  r.mutable_header()->set_cluster_id(0xfeedfacecafebeefULL);
  r.set_watch_id(-1);  // negative: ten bytes of varint
  for (int i = 0; i < 3; ++i) {
    mvccpb::Event* ev = r.add_events();
    ev->set_type(i == 1 ? mvccpb::Event::DELETE : mvccpb::Event::PUT);
    ev->mutable_kv()->set_key("watch/" + std::to_string(i));
    ev->mutable_kv()->set_create_revision(5);
    ev->mutable_kv()->set_mod_revision(40 + i);
    ev->mutable_kv()->set_version(2);
    ev->mutable_kv()->set_value(std::string(300 + i, static_cast<char>('a' + i)));
    ev->mutable_prev_kv()->set_mod_revision(7);  // must not be taken for the kv's
    ev->mutable_prev_kv()->set_value("old");
  }
  return r;
}

TEST(WatchWireTest, ReadsWhatTheWorkloadChecksAsTheGeneratedParserDoes) {
  const etcdserverpb::WatchResponse r = sample();
  const std::string wire = r.SerializeAsString();
  WatchResponseView view;
  ASSERT_TRUE(parse_watch_response(wire, &view));
  EXPECT_EQ(view.watch_id, -1);
  EXPECT_FALSE(view.created);
  EXPECT_FALSE(view.canceled);
  ASSERT_EQ(view.events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(view.events[i].mod_revision, r.events(i).kv().mod_revision());
    EXPECT_EQ(view.events[i].value, r.events(i).kv().value());
  }

  // The next parse starts afresh.
  etcdserverpb::WatchResponse control;
  control.set_watch_id(12);
  control.set_created(true);
  control.set_canceled(true);
  control.set_compact_revision(31);
  control.set_cancel_reason("mvcc: required revision has been compacted");
  const std::string control_wire = control.SerializeAsString();  // the view points into it
  ASSERT_TRUE(parse_watch_response(control_wire, &view));
  EXPECT_EQ(view.watch_id, 12);
  EXPECT_TRUE(view.created);
  EXPECT_TRUE(view.canceled);
  EXPECT_EQ(view.compact_revision, 31);
  EXPECT_EQ(view.cancel_reason, control.cancel_reason());
  EXPECT_TRUE(view.events.empty());
}

TEST(WatchWireTest, RefusesEveryTruncation) {
  const std::string wire = sample().SerializeAsString();
  WatchResponseView view;
  // Cutting inside a field breaks it; the whole message and the empty one parse.
  int refused = 0;
  for (size_t n = 1; n < wire.size(); ++n) {
    if (!parse_watch_response(std::string_view(wire).substr(0, n), &view)) ++refused;
  }
  EXPECT_TRUE(parse_watch_response("", &view));
  // Fields go out in number order: header, watch_id, three events. A prefix
  // parses only if it ends right after one of the first four.
  EXPECT_EQ(refused, static_cast<int>(wire.size()) - 1 - 4);
}

}  // namespace
}  // namespace meridian::bench::etcd_load
