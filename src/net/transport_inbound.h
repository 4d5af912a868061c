// Inbound: one connection a peer dialed to our listener. It runs the listener's
// side of the handshake (TLS if configured, then Hello -> HelloAck) and, once the
// dialer is accepted, only receives: frames are decoded, batches and reassembled
// snapshots go to the handler in arrival order. Any protocol error, a refused
// handshake or a handshake that takes longer than dial_timeout_ms closes the
// connection with a log line; nothing of a refused connection is delivered. A
// dialer must wait for the HelloAck before sending frames (one that does not is
// refused), which bounds what an unauthenticated client can make us buffer.
//
// Threads: created by the listener; everything after start() runs on the
// connection's own strand (its socket's executor). close() may be called from any
// thread. Lives as long as a handler of it is pending (shared_ptr captured).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "net/frame.h"
#include "net/transport_core.h"
#include "net/transport_stream.h"
#include "net/wire.h"

namespace meridian::net::detail {

class Inbound : public std::enable_shared_from_this<Inbound> {
 public:
  // `socket` was accepted with a strand of its own as executor.
  Inbound(std::shared_ptr<TransportCore> core, Tcp::socket socket);

  void start();
  // Closes the connection on its strand, then calls `done` there (null: nothing).
  void close(std::function<void()> done);

 private:
  // Partial snapshots kept at once per connection: the sender sends one snapshot
  // at a time, so more than a few means a broken sender.
  static constexpr size_t kPartialSnapshotsMax = 16;
  // Read size: large enough that a 1 MiB snapshot chunk takes few reads.
  static constexpr size_t kReadBytes = 64 * 1024;
  // Frame limit before the dialer is accepted: a Hello is a few dozen bytes, and
  // a peer not yet accepted must not make us buffer max_frame_bytes. The dialer
  // sends nothing more until it has the HelloAck.
  static constexpr uint32_t kHelloFrameBytesMax = 4096;

  void on_tls_handshake(const boost::system::error_code& ec);
  void read_hello();
  void on_hello_frame(const Frame& frame);
  // Logs and counts the refusal, tells the dialer `why_there`, then closes.
  void refuse(std::optional<raft::NodeId> from, const std::string& why_here,
              const std::string& why_there);
  void accept(const Hello& hello);
  void read_loop();
  void on_read(const boost::system::error_code& ec, size_t n);
  // Decodes and delivers every whole frame buffered; false if the connection closed.
  bool drain_frames();
  bool handle_frame(Frame frame);
  // Closes with a log line (no log when stopping).
  void fail(const std::string& why);
  void shut();

  const std::shared_ptr<TransportCore> core_;
  std::shared_ptr<Stream> stream_;   // strand only, like everything below
  boost::asio::steady_timer timer_;  // handshake deadline
  std::string remote_;
  FrameDecoder hello_decoder_;  // until accepted: a small limit for unauthenticated bytes
  FrameDecoder decoder_;
  SnapshotAssembler assembler_;
  std::array<char, kReadBytes> buf_;
  std::string ack_;           // the HelloAck being written
  bool handshaken_ = false;   // Hello answered (accepted or refused)
  bool established_ = false;  // accepted: frames are delivered
  bool closed_ = false;
  raft::NodeId from_;  // the dialer, once accepted
  std::shared_ptr<PeerCounters> counters_;
};

}  // namespace meridian::net::detail
