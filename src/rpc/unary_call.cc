#include "rpc/unary_call.h"

#include <exception>
#include <utility>

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "observe/log.h"
#include "rpc/h2_connection.h"
#include "rpc/op_queue.h"

namespace meridian::rpc {

UnaryCallImpl::UnaryCallImpl(H2Connection* conn, int32_t stream_id, const UnaryHandler* handler,
                             std::shared_ptr<OpQueue> ops, Clock::time_point deadline,
                             uint32_t max_message_bytes)
    : Call(conn, stream_id),
      ops_(std::move(ops)),
      deadline_(deadline),
      handler_(handler),
      deframer_(max_message_bytes) {}

void UnaryCallImpl::finish(const Status& status, std::string response) {
  if (answered_.exchange(true, std::memory_order_acq_rel)) return;
  ops_->push(Op{Op::Kind::kFinishUnary, shared_from_this(), status, std::move(response)});
}

void UnaryCallImpl::apply(Op& op) {
  MERIDIAN_ASSERT(op.kind == Op::Kind::kFinishUnary, "a stream op for a unary call");
  if (!attached()) return;  // the client went away first: the answer is dropped
  timer_.reset();
  if (op.status.ok()) {
    response_.set(std::move(op.message));
    conn_->respond(*this);
  } else {
    conn_->respond_trailers_only(stream_id_, op.status);
  }
  conn_->schedule_flush();
}

void UnaryCallImpl::on_data(const uint8_t* data, size_t size) {
  // Consumed at once: what a unary call buffers is bounded by the message limit.
  conn_->consume(stream_id_, size);
  while (size > 0 && !failed_) {
    const size_t used = deframer_.feed(data, size);
    data += used;
    size -= used;
    switch (deframer_.state()) {
      case MessageDeframer::State::kNeedMore:
        break;
      case MessageDeframer::State::kMessage:
        if (have_request_) {
          answer_early({StatusCode::kInternal, "more than one request message for a unary method"});
          break;
        }
        request_ = deframer_.take();
        have_request_ = true;
        break;
      case MessageDeframer::State::kTooLarge:
        // gRPC's own wording, which clients and people recognise.
        answer_early(
            {StatusCode::kResourceExhausted,
             fmt::format("Received message larger than max ({} vs. {})",
                         deframer_.announced_bytes(), conn_->max_receive_message_bytes())});
        break;
      case MessageDeframer::State::kCompressed:
        answer_early({StatusCode::kUnimplemented,
                      "compressed messages are not supported (no grpc-accept-encoding offered)"});
        break;
      case MessageDeframer::State::kBadFlag:
        answer_early({StatusCode::kInternal, "a message's compressed flag is neither 0 nor 1"});
        break;
    }
  }
}

void UnaryCallImpl::on_remote_closed() {
  if (failed_) return;
  if (deframer_.mid_message()) {
    answer_early({StatusCode::kInternal, "the request ended inside a message"});
  } else if (!have_request_) {
    answer_early({StatusCode::kInternal, "no request message for a unary method"});
  } else {
    dispatch();
  }
}

void UnaryCallImpl::answer_early(const Status& status) {
  failed_ = true;
  if (answered_.exchange(true, std::memory_order_acq_rel)) return;
  // The connection resets the stream after these trailers if the client is
  // still sending (see H2Connection::on_frame_send).
  conn_->respond_trailers_only(stream_id_, status);
  conn_->schedule_flush();
}

void UnaryCallImpl::dispatch() {
  const UnaryHandler* handler = handler_;
  handler_ = nullptr;
  if (handler == nullptr) return;
  if (deadline_ != Clock::time_point::max()) {
    if (Clock::now() >= deadline_) {
      // Expired while the request arrived: the client has given up already.
      return answer_early({StatusCode::kDeadlineExceeded, "Deadline Exceeded"});
    }
    timer_.emplace(conn_->io());
    timer_->expires_at(deadline_);
    timer_->async_wait([self = std::static_pointer_cast<UnaryCallImpl>(shared_from_this())](
                           const boost::system::error_code& ec) {
      if (!ec) self->on_deadline();
    });
  }
  auto self = std::static_pointer_cast<UnaryCallImpl>(shared_from_this());
  try {
    (*handler)(std::move(self));
  } catch (const std::exception& e) {
    // Handlers should not throw (no exception crosses a module boundary), but a
    // stray one must not unwind through nghttp2 (C) or take the I/O thread down.
    observe::log_error("rpc: a unary handler threw: {}", e.what());
    finish({StatusCode::kInternal, "the handler failed"}, {});
  }
}

void UnaryCallImpl::on_deadline() {
  if (!attached() || answered_.exchange(true, std::memory_order_acq_rel)) return;
  conn_->respond_trailers_only(stream_id_, {StatusCode::kDeadlineExceeded, "Deadline Exceeded"});
  conn_->schedule_flush();
  cancelled();
}

void UnaryCallImpl::cancelled() {
  // Moved out first: the function may drop the last other reference to this call.
  std::function<void()> fn = std::move(on_cancel_);
  on_cancel_ = nullptr;
  if (fn) fn();
}

ssize_t UnaryCallImpl::read_data(uint8_t* out, size_t size, uint32_t* flags) {
  const size_t n = response_.take(out, size);
  if (response_.empty()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    conn_->send_trailers(stream_id_, Status{});
  }
  return static_cast<ssize_t>(n);
}

void UnaryCallImpl::on_closed(uint32_t) { detach(); }

void UnaryCallImpl::abort(bool stopping) {
  if (answered_.exchange(true, std::memory_order_acq_rel)) {
    on_cancel_ = nullptr;  // answered: nothing the function holds is needed
    return;
  }
  if (stopping) {
    conn_->respond_trailers_only(stream_id_, {StatusCode::kUnavailable, "the server is stopping"});
  }
  cancelled();
}

void UnaryCallImpl::detach() {
  // A later finish() posts nothing.
  const bool unanswered = !answered_.exchange(true, std::memory_order_acq_rel);
  conn_ = nullptr;
  handler_ = nullptr;
  timer_.reset();  // cancels the wait; the io_context is not touched after this
  response_.clear();
  if (unanswered) {
    cancelled();
  } else {
    on_cancel_ = nullptr;  // the call is over: nothing it holds is needed
  }
}

}  // namespace meridian::rpc
