#include "rpc/stream_call.h"

#include <exception>
#include <utility>

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "base/assert.h"
#include "observe/log.h"
#include "rpc/h2_connection.h"
#include "rpc/op_queue.h"

namespace meridian::rpc {

StreamCall::StreamCall(H2Connection* conn, int32_t stream_id, std::shared_ptr<OpQueue> ops,
                       uint32_t max_message_bytes)
    : Call(conn, stream_id), ops_(std::move(ops)), deframer_(max_message_bytes) {}

void StreamCall::begin(const StreamHandler& handler) {
  StreamReactor* reactor = nullptr;
  try {
    reactor = handler(this);
  } catch (const std::exception& e) {
    // As for unary handlers: nothing may unwind through nghttp2.
    observe::log_error("rpc: a stream handler threw: {}", e.what());
  }
  if (reactor == nullptr) {
    end_with({StatusCode::kUnavailable, "the service refused the stream"});
    return;
  }
  reactor_ = reactor;
}

void StreamCall::push(Op::Kind kind, Status status, std::string message) {
  ops_->push(Op{kind, shared_from_this(), std::move(status), std::move(message)});
}

void StreamCall::start_read() { push(Op::Kind::kStartRead); }
void StreamCall::start_write(std::string message) {
  push(Op::Kind::kStartWrite, {}, std::move(message));
}
void StreamCall::start_write_many(std::vector<std::string> messages) {
  size_t bytes = 0;
  for (const std::string& m : messages) bytes += kMessagePrefixBytes + m.size();
  std::string wire;
  wire.reserve(bytes);
  for (const std::string& m : messages) append_framed(&wire, m);
  push(Op::Kind::kStartWriteFramed, {}, std::move(wire));
}
void StreamCall::finish(const Status& status) { push(Op::Kind::kFinishStream, status); }
void StreamCall::cancel() { push(Op::Kind::kCancelStream); }

void StreamCall::apply(Op& op) {
  // A stream that ended first has had on_done(); what the reactor asked for in
  // the meantime is dropped.
  if (reactor_ == nullptr || !attached()) return;
  switch (op.kind) {
    case Op::Kind::kStartRead:
      MERIDIAN_ASSERT(!read_pending_, "start_read() while a read is pending");
      read_pending_ = true;
      deliver();
      break;
    case Op::Kind::kStartWrite:
    case Op::Kind::kStartWriteFramed:
      MERIDIAN_ASSERT(!write_pending_, "start_write() while a write is pending");
      MERIDIAN_ASSERT(!ending_, "start_write() after finish()");
      write_pending_ = true;
      if (op.kind == Op::Kind::kStartWrite) {
        out_.set(std::move(op.message));
      } else {
        out_.set_framed(std::move(op.message));
      }
      if (!headers_sent_) {
        headers_sent_ = true;
        conn_->respond(*this);
      } else {
        conn_->resume(stream_id_);
      }
      break;
    case Op::Kind::kFinishStream:
      if (!ending_) end_with(op.status);  // later calls do nothing
      break;
    case Op::Kind::kCancelStream:
      conn_->reset(stream_id_, NGHTTP2_CANCEL);
      out_.clear();
      ready_.clear();
      consume_to(received_bytes_);
      end_reactor(/*cancelled=*/false);
      break;
    case Op::Kind::kFinishUnary:
      MERIDIAN_ASSERT(false, "a unary op for a stream");
  }
  conn_->schedule_flush();
}

void StreamCall::deliver() {
  while (reactor_ != nullptr && read_pending_) {
    if (!ready_.empty()) {
      const std::string message = std::move(ready_.front());
      ready_.pop_front();
      read_bytes_ += kMessagePrefixBytes + message.size();
      consume_to(read_bytes_);
      read_pending_ = false;
      reactor_->on_read(message);
    } else if (remote_closed_) {
      read_pending_ = false;
      reactor_->on_read_done();
    } else {
      // The next message has not arrived whole: let the client send the rest.
      consume_to(received_bytes_);
      return;
    }
  }
}

void StreamCall::consume_to(uint64_t position) {
  if (position <= consumed_bytes_) return;
  conn_->consume(stream_id_, position - consumed_bytes_);
  consumed_bytes_ = position;
}

void StreamCall::on_data(const uint8_t* data, size_t size) {
  received_bytes_ += size;
  if (reactor_ == nullptr || ending_) {
    consume_to(received_bytes_);  // nobody reads this stream any more
    return;
  }
  Status error;
  while (size > 0 && error.ok()) {
    const size_t used = deframer_.feed(data, size);
    data += used;
    size -= used;
    switch (deframer_.state()) {
      case MessageDeframer::State::kNeedMore:
        break;
      case MessageDeframer::State::kMessage:
        ready_.push_back(deframer_.take());
        break;
      case MessageDeframer::State::kTooLarge:
        error = {StatusCode::kResourceExhausted,
                 fmt::format("Received message larger than max ({} vs. {})",
                             deframer_.announced_bytes(), conn_->max_receive_message_bytes())};
        break;
      case MessageDeframer::State::kCompressed:
        error = {StatusCode::kUnimplemented,
                 "compressed messages are not supported (no grpc-accept-encoding offered)"};
        break;
      case MessageDeframer::State::kBadFlag:
        error = {StatusCode::kInternal, "a message's compressed flag is neither 0 nor 1"};
        break;
    }
  }
  if (!error.ok()) {
    ready_.clear();
    consume_to(received_bytes_);
    end_with(error);
    end_reactor(/*cancelled=*/true);
    return;
  }
  deliver();
}

void StreamCall::on_remote_closed() {
  remote_closed_ = true;
  if (reactor_ == nullptr || ending_) return;
  if (deframer_.mid_message()) {
    ready_.clear();
    end_with({StatusCode::kInternal, "the stream ended inside a message"});
    end_reactor(/*cancelled=*/true);
    return;
  }
  deliver();
}

void StreamCall::end_with(const Status& status) {
  ending_ = true;
  final_status_ = status;
  if (!headers_sent_) {
    headers_sent_ = true;
    trailers_sent_ = true;
    conn_->respond_trailers_only(stream_id_, status);
  } else {
    conn_->resume(stream_id_);  // read_data() sends the trailers once out_ is empty
  }
  conn_->schedule_flush();
}

ssize_t StreamCall::read_data(uint8_t* out, size_t size, uint32_t* flags) {
  const size_t n = out_.take(out, size);
  if (write_pending_ && out_.empty()) {
    write_pending_ = false;
    if (reactor_ != nullptr) reactor_->on_write_done(true);
  }
  if (ending_ && out_.empty() && !trailers_sent_) {
    trailers_sent_ = true;
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    conn_->send_trailers(stream_id_, final_status_);
    return static_cast<ssize_t>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;  // resumed by the next write or the finish
  return static_cast<ssize_t>(n);
}

void StreamCall::end_reactor(bool cancelled) {
  StreamReactor* reactor = reactor_;
  if (reactor == nullptr) return;
  reactor_ = nullptr;  // what it asks for from here on is dropped (see apply)
  read_pending_ = false;
  if (cancelled) reactor->on_cancel();
  if (write_pending_) {
    write_pending_ = false;
    reactor->on_write_done(false);
  }
  reactor->on_done();
}

void StreamCall::on_closed(uint32_t) {
  // Bytes received but never read still count against the connection's window.
  consume_to(received_bytes_);
  end_reactor(/*cancelled=*/!ending_);
  detach();
}

void StreamCall::abort(bool stopping) {
  const bool finished_by_reactor = ending_;
  if (stopping && reactor_ != nullptr && !ending_) {
    end_with({StatusCode::kUnavailable, "the server is stopping"});
  }
  end_reactor(/*cancelled=*/!finished_by_reactor);
}

void StreamCall::detach() {
  end_reactor(/*cancelled=*/true);  // (already done on every path that detaches)
  conn_ = nullptr;
  ready_.clear();
  out_.clear();
}

}  // namespace meridian::rpc
