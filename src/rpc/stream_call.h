// StreamCall: a bidirectional stream; the ServerStream its reactor drives.
//
// Reads: whole messages wait in `ready_` until the reactor asks (start_read), one
// per request. Received DATA is given back to HTTP/2 flow control only as the
// reactor takes it: the bytes of the messages it has read, and, while a read is
// waiting, whatever part of the next message has arrived (so a message larger
// than the window still gets through). A reactor that stops reading therefore
// stops the client once the stream's window (1 MiB) is used.
//
// Writes: one message at a time is served to nghttp2's data provider, and
// on_write_done(true) comes when its last byte has been taken into a DATA frame,
// which the client's window may hold back; a client that stops reading keeps the
// write in flight.
//
// The end: finish() sends trailers after the pending write (or trailers only if
// nothing was sent); cancel() resets the stream at once; a bad message from the
// client (too large, compressed) ends the stream with its status. The reactor's
// last callbacks are then on_cancel() (unless the reactor finished or cancelled
// the stream itself), on_write_done(false) for a write not yet taken, and
// on_done(), exactly once, after which the reactor is never called again.
// Response headers go with the first message (or trailers), as gRPC does.
//
// Threads: the ServerStream methods from any thread (each becomes an Op); the
// rest, and every reactor callback, on the I/O thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "rpc/call.h"
#include "rpc/grpc_framing.h"
#include "rpc/server.h"

namespace meridian::rpc {

class OpQueue;

class StreamCall final : public ServerStream, public Call {
 public:
  StreamCall(H2Connection* conn, int32_t stream_id, std::shared_ptr<OpQueue> ops,
             uint32_t max_message_bytes);

  // Makes the reactor with `handler`. A handler that returns null (or throws)
  // refuses the stream: the client gets UNAVAILABLE.
  void begin(const StreamHandler& handler);

  // ServerStream, any thread.
  void start_read() override;
  void start_write(std::string message) override;
  void start_write_many(std::vector<std::string> messages) override;
  void finish(const Status& status) override;
  void cancel() override;

  // Call, I/O thread.
  void on_data(const uint8_t* data, size_t size) override;
  void on_remote_closed() override;
  ssize_t read_data(uint8_t* out, size_t size, uint32_t* flags) override;
  void on_closed(uint32_t h2_error_code) override;
  void abort(bool stopping) override;
  void detach() override;
  void apply(Op& op) override;

 private:
  void push(Op::Kind kind, Status status = {}, std::string message = {});
  // Hands ready messages (or the end of the client's side) to a waiting read.
  void deliver();
  // Gives received bytes up to `position` (counted from the stream's first DATA
  // byte) back to flow control.
  void consume_to(uint64_t position);
  // Ends the stream from the server's side with `status`: trailers after what
  // is pending, or trailers only.
  void end_with(const Status& status);
  // The reactor's last callbacks (see the header comment).
  void end_reactor(bool cancelled);

  const std::shared_ptr<OpQueue> ops_;

  // I/O thread only.
  StreamReactor* reactor_ = nullptr;  // null before begin() and after on_done()
  MessageDeframer deframer_;
  std::deque<std::string> ready_;  // whole messages not yet read; bounded by the window
  uint64_t received_bytes_ = 0;    // DATA bytes so far
  uint64_t read_bytes_ = 0;        // wire bytes (prefix and body) of the messages read
  uint64_t consumed_bytes_ = 0;    // given back to flow control
  bool read_pending_ = false;
  bool remote_closed_ = false;
  bool headers_sent_ = false;  // response HEADERS (or trailers only) submitted
  bool write_pending_ = false;
  bool ending_ = false;         // trailers go once out_ is empty
  bool trailers_sent_ = false;  // (or trailers only)
  Status final_status_;
  OutgoingMessage out_;
};

}  // namespace meridian::rpc
