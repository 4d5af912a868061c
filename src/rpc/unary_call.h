// UnaryCallImpl: a unary call, one request message and one answer; the
// UnaryCall its handler receives. The request's DATA is consumed as it arrives
// (it is bounded by max_receive_message_bytes); once the client has ended its
// side with exactly one whole message, the deadline timer starts (if the client
// sent grpc-timeout) and the handler is called.
//
// Exactly one answer leaves, claimed by an atomic flag: the handler's finish(),
// the deadline (DEADLINE_EXCEEDED), an error found in the request (INTERNAL,
// RESOURCE_EXHAUSTED, UNIMPLEMENTED), stop() (UNAVAILABLE) or the stream's end
// (the client reset it, the connection broke: nothing is sent). A finish() that
// loses does nothing, from whatever thread and however late, without touching
// the connection or the io_context. When the deadline, stop() or the stream's
// end wins after the handler was called, the handler's on_cancel function runs
// (on the I/O thread, where it was set; it is dropped when the call detaches).
//
// Threads: request(), deadline() and finish() from any thread (the first two
// are fixed before the handler sees the call); the rest on the I/O thread.
// Nothing of the io_context is left in the call once it is detached, so a
// handler may drop its last reference anywhere, at any time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/steady_timer.hpp>

#include "rpc/call.h"
#include "rpc/grpc_framing.h"
#include "rpc/server.h"

namespace meridian::rpc {

class OpQueue;

class UnaryCallImpl final : public UnaryCall, public Call {
 public:
  UnaryCallImpl(H2Connection* conn, int32_t stream_id, const UnaryHandler* handler,
                std::shared_ptr<OpQueue> ops, Clock::time_point deadline,
                uint32_t max_message_bytes);

  // UnaryCall, any thread.
  std::string_view request() const override { return request_; }
  Clock::time_point deadline() const override { return deadline_; }
  void finish(const Status& status, std::string response) override;
  // I/O thread (the handler).
  void set_on_cancel(std::function<void()> fn) override { on_cancel_ = std::move(fn); }

  // Call, I/O thread.
  void on_data(const uint8_t* data, size_t size) override;
  void on_remote_closed() override;
  ssize_t read_data(uint8_t* out, size_t size, uint32_t* flags) override;
  void on_closed(uint32_t h2_error_code) override;
  void abort(bool stopping) override;
  void detach() override;
  void apply(Op& op) override;

 private:
  // Answers `status` at once (trailers only) if no answer was claimed yet.
  void answer_early(const Status& status);
  // The whole request is in: starts the deadline and calls the handler.
  void dispatch();
  void on_deadline();
  // The answer was claimed other than by the handler's finish(): runs and
  // drops the handler's on_cancel function.
  void cancelled();

  const std::shared_ptr<OpQueue> ops_;
  const Clock::time_point deadline_;
  // Set once the answer is claimed (see the header comment); any thread.
  std::atomic<bool> answered_{false};

  // I/O thread only.
  const UnaryHandler* handler_;  // null once dispatched or detached
  MessageDeframer deframer_;
  std::string request_;  // fixed once the handler is called
  bool have_request_ = false;
  bool failed_ = false;  // the request was bad and answered; its DATA is ignored
  std::optional<boost::asio::steady_timer> timer_;  // the deadline, while attached
  std::function<void()> on_cancel_;                 // see UnaryCall::set_on_cancel
  OutgoingMessage response_;
};

}  // namespace meridian::rpc
