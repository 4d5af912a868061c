// H2Connection: one accepted TCP connection speaking gRPC over cleartext HTTP/2
// (prior knowledge), with one nghttp2 server session doing the framing, HPACK
// and flow control. It reads into a 64 KiB buffer and feeds nghttp2; it turns a
// request's headers into a call (UnaryCallImpl or StreamCall) by the handler
// tables of its server, or answers at once (unknown path, not gRPC); and it
// writes whatever nghttp2 has to send, without blocking: what the socket takes
// at once is done with, and if it is full the rest waits for it to become
// writable, with nghttp2 keeping what is produced meanwhile for the next write
// (so one write is in flight at most, and answers coalesce behind it).
//
// Flow control: the session is made with automatic WINDOW_UPDATE off, so the
// client may send a stream only as much as its call has consumed (see Call);
// the connection's own window is raised to kConnectionWindowBytes so that it
// never holds back a stream that its own window would let through.
//
// Ownership: the server's connection set holds each open connection, and the
// handlers of its pending socket operations hold it too (shared_ptr); close()
// removes it from the set, so it goes once its last operation has completed.
//
// Threads: the I/O thread only. Its calls reach it through a raw pointer while
// attached; close() detaches every one of them first.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nghttp2/nghttp2.h>
#include <boost/asio/ip/tcp.hpp>

#include "rpc/call.h"
#include "rpc/server.h"

namespace meridian::rpc {

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  // Per stream (SETTINGS_INITIAL_WINDOW_SIZE): what a client may send a stream
  // whose reader is not reading. 1 MiB lets a large request arrive at full speed.
  static constexpr int32_t kStreamWindowBytes = 1 << 20;
  // For the whole connection: several streams' windows, so that one stalled
  // stream does not stall the others.
  static constexpr int32_t kConnectionWindowBytes = 16 << 20;
  // Socket reads: large enough that a burst of requests is one read.
  static constexpr size_t kReadBytes = 64 << 10;
  // One socket write carries at most this much (more stays queued in nghttp2),
  // which bounds the connection's own output buffer.
  static constexpr size_t kWriteBytesMax = 1 << 20;
  // An output buffer grown past this by a large answer is given back after
  // the write, so that an idle connection holds no more than this.
  static constexpr size_t kOutputKeepBytesMax = 64 << 10;

  H2Connection(std::shared_ptr<Server::Impl> server, boost::asio::ip::tcp::socket socket);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Queues the server's SETTINGS and starts reading.
  void start();
  // Ends the connection: every call is aborted (see Call::abort) and detached,
  // the session freed and the socket closed. `stopping` (stop()): a GOAWAY and
  // the calls' UNAVAILABLE go first, written without blocking if the socket
  // takes them at once (best effort: the client sees the connection close
  // either way).
  void close(bool stopping);

  // For attached calls. Response HEADERS (:status 200, gRPC's content-type),
  // then DATA from the call's read_data().
  void respond(Call& call);
  // A response that is only trailers (one HEADERS frame with END_STREAM), for a
  // call that ends before anything was sent. `http_status` 200 but for requests
  // that are not gRPC at all.
  void respond_trailers_only(int32_t stream_id, const Status& status, int http_status = 200);
  // Trailers after the DATA (from read_data(), with NGHTTP2_DATA_FLAG_EOF and
  // NGHTTP2_DATA_FLAG_NO_END_STREAM set).
  void send_trailers(int32_t stream_id, const Status& status);
  // A call that returned NGHTTP2_ERR_DEFERRED has something to send.
  void resume(int32_t stream_id);
  void reset(int32_t stream_id, uint32_t h2_error_code);
  // Received DATA bytes the call is done with: the client may send as many more.
  void consume(int32_t stream_id, size_t bytes);
  // Writes what nghttp2 has to send, in a handler posted now, so that all that
  // happens in this turn of the loop leaves in one write. Idempotent per turn.
  void schedule_flush();

  uint32_t max_receive_message_bytes() const;
  boost::asio::io_context& io();

 private:
  // What a request's header block said (header blocks are never interleaved in
  // HTTP/2, so one suffices).
  struct RequestHead {
    int32_t stream_id = 0;
    bool post = false;
    bool grpc_content_type = false;
    const UnaryHandler* unary = nullptr;
    const StreamHandler* stream = nullptr;
    std::string unknown_path;  // neither table has it (kept for the error message)
    std::optional<std::chrono::nanoseconds> timeout;
  };

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data);
  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                       void* user_data);
  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int on_data_chunk_recv(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                                const uint8_t* data, size_t len, void* user_data);
  static int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                             void* user_data);
  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static ssize_t read_call_data(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                                size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                                void* user_data);

  void header(std::string_view name, std::string_view value);
  void start_call(int32_t stream_id);
  Call* call_of(int32_t stream_id);
  // Enters a new call in the table and makes it the stream's user data.
  void adopt(const std::shared_ptr<Call>& call);
  // Takes a closed stream's call out of the table (the table's reference goes).
  std::shared_ptr<Call> release(Call* call);

  void read();
  void on_read(const boost::system::error_code& ec, size_t n);
  // Collects nghttp2's output into out_ (up to kWriteBytesMax); false on a
  // fatal session error (the connection is then closed).
  bool produce();
  void flush();
  void send();
  void write_now_for_stop();

  const std::shared_ptr<Server::Impl> server_;
  boost::asio::ip::tcp::socket socket_;
  nghttp2_session* session_ = nullptr;  // null once closed
  RequestHead head_;
  // Open calls by slot (Call::slot); the stream's user data in nghttp2 is the
  // Call*. Free slots are reused, so a busy connection allocates no table entries.
  std::vector<std::shared_ptr<Call>> calls_;
  std::vector<uint32_t> free_slots_;
  std::array<uint8_t, kReadBytes> in_;
  std::string out_;       // filled by produce(), written by send()
  size_t out_sent_ = 0;   // how much of out_ the socket has taken
  bool writing_ = false;  // waiting for the socket to take the rest of out_
  bool flush_posted_ = false;
  bool closed_ = false;
};

}  // namespace meridian::rpc
