// H2WatchClient: the watch workload's watchers, speaking gRPC over cleartext
// HTTP/2 directly with libnghttp2 and reading each WatchResponse with
// watch_wire.h's scan instead of a full protobuf parse.
//
// Why not gRPC's C++ client, which the rest of etcd_load uses: at the watch
// workload's full write rate (10,000 watchers, one writer as fast as it can) it
// cost 1.3-1.5 µs of CPU per event received, more than the three server nodes
// together spent delivering it, so on this 2-core machine the load generator's
// own backlog set the event latency it reported. The same client serves both
// systems, so it favours neither; it only stops measuring itself.
//
// What it speaks is what gRPC clients send: one POST per stream to
// /etcdserverpb.Watch/Watch with content-type application/grpc and te:
// trailers, length-prefixed uncompressed messages, the status in trailers.
// Stream windows are 1 MiB and the connection's 16 MiB, with window updates as
// data is consumed (nghttp2's default).
//
// Threads: connect() and open_stream() before start(), from one thread; then
// each connection belongs to one of the client's threads (connection i to
// thread i % threads), which alone calls its streams' handlers. stop() from the
// thread that called start().
#pragma once

#include <nghttp2/nghttp2.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "watch_wire.h"

namespace meridian::bench::etcd_load {

class WatchStreamHandler {
 public:
  virtual ~WatchStreamHandler() = default;
  // One response, read at `received`; `response` views bytes valid only during the call.
  virtual void on_response(const WatchResponseView& response, Clock::time_point received) = 0;
  // The stream is over: its grpc-status (-1 if it was reset or its connection
  // lost before trailers) and grpc-message. Called once.
  virtual void on_end(int status, const std::string& message) = 0;
};

class H2WatchClient {
 public:
  explicit H2WatchClient(uint64_t threads);
  ~H2WatchClient();
  H2WatchClient(const H2WatchClient&) = delete;
  H2WatchClient& operator=(const H2WatchClient&) = delete;

  // A connection to "host:port" (an IPv4 address); false with *error if the
  // connect fails. Returns through *index the number to give open_stream.
  bool connect(const std::string& endpoint, size_t* index, std::string* error);
  // A Watch stream on connection `conn` that sends `requests` (serialized etcd
  // WatchRequests) and then stays open until stop().
  void open_stream(size_t conn, WatchStreamHandler* handler, std::vector<std::string> requests);
  void start();
  // Cancels every stream still open (RST_STREAM CANCEL, as a client that
  // cancels its call), closes the connections and joins the threads.
  void stop();

 private:
  struct Stream;
  struct Connection;

  void run(size_t thread);
  // Reads what the socket has, writes what nghttp2 has; false once the
  // connection is unusable (each open stream is then ended with status -1).
  static bool pump(Connection& c, bool readable);
  static void fail(Connection& c);

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                       void* user_data);
  static int on_data(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                     size_t len, void* user_data);
  static int on_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data);
  static ssize_t read_requests(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                               uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  const uint64_t threads_count_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace meridian::bench::etcd_load
