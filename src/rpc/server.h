// rpc::Server: gRPC over HTTP/2 (cleartext, prior knowledge, as etcd's clients
// speak it on an http:// endpoint), on Boost.Asio with libnghttp2 doing the
// HTTP/2 framing, HPACK and flow control. It serves unary methods and
// bidirectional streams by their full path ("/etcdserverpb.KV/Put"); message
// bodies are handed over serialized, so the layer knows nothing of protobuf.
//
// Why not gRPC's own server: measured on this project's 2-core machine with the
// same 100-client put load at 7,000 requests/s and a null handler answering from
// another thread, gRPC's callback server used 59-61 us of CPU per request and
// 2.5-2.9 context switches, its async completion-queue server 42 us, and this
// design 24-28 us with about one context switch (docs/architecture.md, "The
// client port"). The etcd API's whole cost per request is about 200 us summed
// over three nodes, so the RPC layer is the largest single part of it.
//
// Threads: every connection lives on the one io_context given to start(),
// which must be run by exactly one thread (its "I/O thread"); handlers and the
// stream callbacks run there and must not block. Answers (UnaryCall::finish,
// ServerStream's writes and finish) may come from any thread: they are posted
// to the I/O thread, and all answers ready in one turn of the loop leave in one
// socket write per connection.
//
// What a client sees, as from a gRPC server:
//   - an unknown path: UNIMPLEMENTED; a request message larger than
//     max_receive_message_bytes: RESOURCE_EXHAUSTED (and the stream is reset);
//     a compressed message (this server announces no compression):
//     UNIMPLEMENTED; a unary call with no message or more than one: INTERNAL;
//   - grpc-timeout is honoured: a unary call still unanswered at its deadline
//     gets DEADLINE_EXCEEDED, and the handler's later finish() does nothing;
//   - keepalive PINGs are answered (by nghttp2);
//   - stop() sends GOAWAY, fails calls still open with UNAVAILABLE, closes the
//     connections, and returns once the I/O thread no longer touches them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/status.h"

namespace meridian::rpc {

using Clock = std::chrono::steady_clock;

// gRPC's status codes (the numbers are on the wire).
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;
  bool ok() const { return code == StatusCode::kOk; }
};

// The code's name as gRPC spells it ("OUT_OF_RANGE"), for metrics labels.
const char* code_name(StatusCode code);

// One unary call. The handler receives it on the I/O thread and may keep the
// shared_ptr as long as it likes; the first finish() answers, later ones (and
// any after the client went away or the deadline passed) do nothing.
class UnaryCall {
 public:
  virtual ~UnaryCall() = default;
  // The request message, serialized.
  virtual std::string_view request() const = 0;
  // The client's deadline (grpc-timeout), or Clock::time_point::max().
  virtual Clock::time_point deadline() const = 0;
  // Answers with `response` (a serialized message) if `status` is OK, else with
  // the status alone. Any thread.
  virtual void finish(const Status& status, std::string response) = 0;
  // Registers `fn`, run once on the I/O thread if the call ends before the
  // handler's finish() claimed the answer: the client cancelled or went away,
  // the deadline passed, or the server stopped. For a handler that goes on
  // working for the client (a lock request waiting its turn) and must undo
  // that work when nobody will receive the answer (etcd cancels the request's
  // context). Only from the handler itself, on the I/O thread; the call holds
  // `fn` until it ends, so `fn` may own what holds the call.
  virtual void set_on_cancel(std::function<void()> fn) = 0;
};

// The server's end of one bidirectional stream, implemented by the server and
// given to the StreamReactor its handler makes. Any thread.
class ServerStream {
 public:
  virtual ~ServerStream() = default;
  // Asks for the next request message: the reactor's on_read() gets it, or
  // on_read_done() once the client has closed its side. One read at a time; a
  // stream that never asks receives nothing more (the client is held by HTTP/2
  // flow control).
  virtual void start_read() = 0;
  // Sends one message. One write at a time: on_write_done(true) once the server
  // has taken the bytes for sending (the client's flow-control window allowing),
  // false if the stream ended first.
  virtual void start_write(std::string message) = 0;
  // Sends `messages` in order as one write: on_write_done once the last is
  // taken. A batch crosses to the I/O thread once and leaves in as few DATA
  // frames as the window allows, where one write per message would cost a
  // round of the loop each.
  virtual void start_write_many(std::vector<std::string> messages) = 0;
  // Ends the stream with `status` after the write in flight, if any, has been
  // taken; then on_done(). Later calls do nothing.
  virtual void finish(const Status& status) = 0;
  // Ends the stream at once (RST_STREAM CANCEL), with a write in flight failed:
  // for a client that stopped reading. Then on_done().
  virtual void cancel() = 0;
};

// The service's end of one bidirectional stream. Its callbacks run on the I/O
// thread, one at a time.
class StreamReactor {
 public:
  virtual ~StreamReactor() = default;
  virtual void on_read(std::string_view message) = 0;
  virtual void on_read_done() = 0;  // the client closed its side
  virtual void on_write_done(bool ok) = 0;
  // The stream ended other than by the reactor's finish() or cancel(): the
  // client cancelled, the connection broke, the server stopped, or the client
  // sent a message the server refuses (too large, compressed), which the
  // client is told. on_done() follows.
  virtual void on_cancel() = 0;
  // Last callback: the stream is over and `stream` must not be used again. The
  // reactor may delete itself here.
  virtual void on_done() = 0;
};

using UnaryHandler = std::function<void(std::shared_ptr<UnaryCall>)>;
// Makes the reactor of a new stream, which the server calls until on_done().
// Null refuses the stream: the client gets UNAVAILABLE (and no on_done()).
using StreamHandler = std::function<StreamReactor*(ServerStream* stream)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  uint32_t max_receive_message_bytes = 4u << 20;
  uint32_t max_concurrent_streams = 1000;  // per connection (SETTINGS)
};

class Server {
 public:
  // Listens and serves on `io` (run by one thread, see above). Register every
  // method before the first call can arrive: before `io` runs, or on its thread.
  // `io` must outlive the Server.
  static base::Result<std::unique_ptr<Server>> start(const ServerOptions& options,
                                                     boost::asio::io_context& io);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void add_unary(std::string path, UnaryHandler handler);
  void add_stream(std::string path, StreamHandler handler);

  uint16_t port() const;
  // See the header comment. Any thread but the I/O thread; idempotent. It waits
  // for the I/O thread, so `io` must be run until it returns, or be stopped
  // (run() has returned for good): then the work, the reactors' last callbacks
  // included, is done on the calling thread.
  void stop();

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace meridian::rpc
