// Call: the server's side of one HTTP/2 stream that carries a gRPC call, as its
// connection drives it (UnaryCallImpl and StreamCall implement it), and Op, an
// action a handler asked for from some thread, applied to its call on the I/O
// thread (see OpQueue).
//
// Ownership: the connection holds each open call in its table until nghttp2
// closes the stream or the connection closes; handlers may hold unary calls
// longer (shared_ptr), and queued Ops hold theirs. A call is "attached" while
// its connection may be reached through it; detach() (on the stream's close, or
// the connection's) ends that for good, after which the call only drops what it
// is asked to do.
//
// Threads: everything here runs on the I/O thread, except what the public
// interfaces (UnaryCall, ServerStream) allow from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <sys/types.h>  // ssize_t, as nghttp2's callbacks use it

#include "rpc/server.h"

namespace meridian::rpc {

class H2Connection;
class Call;

struct Op {
  enum class Kind : uint8_t {
    kFinishUnary,       // UnaryCall::finish: `status`, `message` the response
    kStartRead,         // ServerStream::start_read
    kStartWrite,        // ServerStream::start_write: `message`
    kStartWriteFramed,  // ServerStream::start_write_many: `message`, already framed
    kFinishStream,      // ServerStream::finish: `status`
    kCancelStream,      // ServerStream::cancel
  };
  Kind kind;
  std::shared_ptr<Call> call;
  Status status;
  std::string message;
};

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(H2Connection* conn, int32_t stream_id) : conn_(conn), stream_id_(stream_id) {}
  virtual ~Call() = default;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  int32_t stream_id() const { return stream_id_; }
  bool attached() const { return conn_ != nullptr; }

  // DATA bytes of the stream (flow-controlled: the call consumes them).
  virtual void on_data(const uint8_t* data, size_t size) = 0;
  // The client ended its side (END_STREAM).
  virtual void on_remote_closed() = 0;
  // nghttp2's data source for the response: copies up to `size` bytes to `out`
  // and returns how many, sets flags at the end, or returns
  // NGHTTP2_ERR_DEFERRED while there is nothing to send yet.
  virtual ssize_t read_data(uint8_t* out, size_t size, uint32_t* flags) = 0;
  // The stream is closed (nghttp2 closed it: both sides ended, or a reset);
  // ends the call's business with its handler and detaches it.
  virtual void on_closed(uint32_t h2_error_code) = 0;
  // The connection is closing; `stopping` if by stop(), when the client is told
  // UNAVAILABLE (best effort: the connection writes it before the socket
  // closes). Ends the call's business with its handler; detach() follows.
  virtual void abort(bool stopping) = 0;
  // The connection is going: nothing may reach it through this call again.
  virtual void detach() = 0;
  // Applies what a handler asked for (see Op).
  virtual void apply(Op& op) = 0;

  uint32_t slot = 0;  // the connection's table index while open

 protected:
  H2Connection* conn_;  // null once detached
  const int32_t stream_id_;
};

}  // namespace meridian::rpc
