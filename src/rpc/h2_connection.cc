#include "rpc/h2_connection.h"

#include <memory>
#include <string_view>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "base/assert.h"
#include "observe/log.h"
#include "rpc/grpc_framing.h"
#include "rpc/op_queue.h"
#include "rpc/server_impl.h"
#include "rpc/stream_call.h"
#include "rpc/unary_call.h"

namespace meridian::rpc {
namespace {

namespace asio = boost::asio;
using ErrorCode = boost::system::error_code;

// At stop(), what the client sent and we never read is read and dropped (up to
// this much) before the socket closes, so that closing does not answer with a
// TCP reset, which may make the client's kernel discard the GOAWAY and the
// statuses just written (RFC 1122 4.2.2.13, as Linux implements it).
constexpr size_t kStopDrainBytesMax = 256 << 10;

// The callbacks and options every session shares, made once.
struct SessionSetup {
  SessionSetup() = default;
  SessionSetup(const SessionSetup&) = delete;
  SessionSetup& operator=(const SessionSetup&) = delete;
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
  ~SessionSetup() {
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_option_del(option);
  }
};

// A header field; names and the values flagged `static_value` are string
// literals or tables, which nghttp2 then does not copy.
nghttp2_nv field(std::string_view name, std::string_view value, bool static_value) {
  auto bytes = [](std::string_view s) {
    return const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(s.data()));
  };
  uint8_t flags = NGHTTP2_NV_FLAG_NO_COPY_NAME;
  if (static_value) flags |= NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  return {bytes(name), bytes(value), name.size(), value.size(), flags};
}

std::string_view http_status_text(int status) {
  switch (status) {
    case 405:
      return "405";
    case 415:
      return "415";
    default:
      MERIDIAN_ASSERT(status == 200, "unexpected HTTP status ", status);
      return "200";
  }
}

// gRPC's content-type is "application/grpc", optionally followed by "+proto"
// or the like, or by parameters (PROTOCOL-HTTP2.md, "Content-Type").
bool is_grpc_content_type(std::string_view v) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (v.substr(0, kGrpc.size()) != kGrpc) return false;
  return v.size() == kGrpc.size() || v[kGrpc.size()] == '+' || v[kGrpc.size()] == ';';
}

std::string_view as_view(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

H2Connection* self_of(void* user_data) { return static_cast<H2Connection*>(user_data); }

}  // namespace

H2Connection::H2Connection(std::shared_ptr<Server::Impl> server, asio::ip::tcp::socket socket)
    : server_(std::move(server)), socket_(std::move(socket)) {
  static const std::unique_ptr<SessionSetup> kSetup = [] {
    auto s = std::make_unique<SessionSetup>();
    MERIDIAN_ASSERT(nghttp2_session_callbacks_new(&s->callbacks) == 0, "out of memory");
    nghttp2_session_callbacks_set_on_begin_headers_callback(s->callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(s->callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(s->callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->callbacks, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(s->callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(s->callbacks, on_frame_send);
    MERIDIAN_ASSERT(nghttp2_option_new(&s->option) == 0, "out of memory");
    // Flow control follows what calls consume (see Call::on_data).
    nghttp2_option_set_no_auto_window_update(s->option, 1);
    return s;
  }();
  const int rv = nghttp2_session_server_new2(&session_, kSetup->callbacks, this, kSetup->option);
  MERIDIAN_ASSERT(rv == 0, "nghttp2_session_server_new2: ", nghttp2_strerror(rv));
}

H2Connection::~H2Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

void H2Connection::start() {
  ErrorCode ec;
  socket_.non_blocking(true, ec);  // see send()
  if (ec) return close(false);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, server_->options.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindowBytes},
  };
  int rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  MERIDIAN_ASSERT(rv == 0, "nghttp2_submit_settings: ", nghttp2_strerror(rv));
  rv =
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindowBytes);
  MERIDIAN_ASSERT(rv == 0, "nghttp2_session_set_local_window_size: ", nghttp2_strerror(rv));
  read();
  schedule_flush();
}

uint32_t H2Connection::max_receive_message_bytes() const {
  return server_->options.max_receive_message_bytes;
}
asio::io_context& H2Connection::io() { return server_->io; }

// --- reading -------------------------------------------------------------

void H2Connection::read() {
  socket_.async_read_some(
      asio::buffer(in_),
      [self = shared_from_this()](const ErrorCode& ec, size_t n) { self->on_read(ec, n); });
}

void H2Connection::on_read(const ErrorCode& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::eof && ec != asio::error::connection_reset) {
      observe::log_debug("rpc: connection read failed: {}", ec.message());
    }
    close(false);
    return;
  }
  const ssize_t rv = nghttp2_session_mem_recv(session_, in_.data(), n);
  if (rv < 0) {
    // Fatal: not HTTP/2 (a bad client preface), or out of memory. Protocol
    // errors that are not fatal make nghttp2 queue a GOAWAY instead.
    observe::log_debug("rpc: closing a connection: {}", nghttp2_strerror(static_cast<int>(rv)));
    close(false);
    return;
  }
  schedule_flush();
  read();
}

int H2Connection::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    RequestHead& head = self_of(user_data)->head_;
    head = RequestHead();
    head.stream_id = frame->hd.stream_id;
  }
  return 0;
}

int H2Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                            size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                            void* user_data) {
  H2Connection* self = self_of(user_data);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
      frame->hd.stream_id == self->head_.stream_id) {
    self->header(as_view(name, namelen), as_view(value, valuelen));
  }
  return 0;
}

void H2Connection::header(std::string_view name, std::string_view value) {
  if (name == ":method") {
    head_.post = value == "POST";
  } else if (name == ":path") {
    if (auto u = server_->unary.find(value); u != server_->unary.end()) {
      head_.unary = &u->second;
    } else if (auto s = server_->streams.find(value); s != server_->streams.end()) {
      head_.stream = &s->second;
    } else {
      head_.unknown_path = std::string(value);  // for the error message only
    }
  } else if (name == "content-type") {
    head_.grpc_content_type = is_grpc_content_type(value);
  } else if (name == "grpc-timeout") {
    head_.timeout = parse_grpc_timeout(value);  // malformed: no deadline (see grpc_framing.h)
  }
}

int H2Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  H2Connection* self = self_of(user_data);
  const int32_t id = frame->hd.stream_id;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    self->start_call(id);
  } else if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
    return 0;
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    if (Call* call = self->call_of(id)) call->on_remote_closed();
  }
  return 0;
}

void H2Connection::start_call(int32_t stream_id) {
  MERIDIAN_ASSERT(head_.stream_id == stream_id, "headers of stream ", head_.stream_id,
                  " completed as stream ", stream_id);
  // Not gRPC at all: answered with an HTTP status too, as gRPC servers do, so
  // that a plain HTTP client does not take the answer for a success.
  if (!head_.post) {
    return respond_trailers_only(stream_id, {StatusCode::kInternal, "gRPC requests are POSTs"},
                                 405);
  }
  if (!head_.grpc_content_type) {
    return respond_trailers_only(
        stream_id, {StatusCode::kInternal, "content-type is not application/grpc"}, 415);
  }
  const uint32_t max_message_bytes = server_->options.max_receive_message_bytes;
  if (head_.unary != nullptr) {
    const Clock::time_point deadline =
        head_.timeout ? deadline_after(Clock::now(), *head_.timeout) : Clock::time_point::max();
    adopt(std::make_shared<UnaryCallImpl>(this, stream_id, head_.unary, server_->ops, deadline,
                                          max_message_bytes));
  } else if (head_.stream != nullptr) {
    auto call = std::make_shared<StreamCall>(this, stream_id, server_->ops, max_message_bytes);
    adopt(call);
    call->begin(*head_.stream);
  } else {
    respond_trailers_only(stream_id,
                          {StatusCode::kUnimplemented, "unknown method " + head_.unknown_path});
  }
}

int H2Connection::on_data_chunk_recv(nghttp2_session*, uint8_t, int32_t stream_id,
                                     const uint8_t* data, size_t len, void* user_data) {
  H2Connection* self = self_of(user_data);
  if (Call* call = self->call_of(stream_id)) {
    call->on_data(data, len);
  } else {
    self->consume(stream_id, len);  // a stream answered at once: its DATA is dropped
  }
  return 0;
}

int H2Connection::on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                                  void* user_data) {
  H2Connection* self = self_of(user_data);
  if (Call* call = self->call_of(stream_id)) {
    const std::shared_ptr<Call> keep = self->release(call);
    call->on_closed(error_code);
  }
  return 0;
}

int H2Connection::on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  const bool response = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  if (!response || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
  // The response is complete but the client is still sending (a bidi stream
  // finished first, a request answered early): ask it to stop without error,
  // as RFC 9113 section 8.1 allows and gRPC servers do, so the stream closes.
  if (nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

// --- the call table ------------------------------------------------------

Call* H2Connection::call_of(int32_t stream_id) {
  if (session_ == nullptr) return nullptr;
  return static_cast<Call*>(nghttp2_session_get_stream_user_data(session_, stream_id));
}

void H2Connection::adopt(const std::shared_ptr<Call>& call) {
  if (free_slots_.empty()) {
    call->slot = static_cast<uint32_t>(calls_.size());
    calls_.push_back(call);
  } else {
    call->slot = free_slots_.back();
    free_slots_.pop_back();
    calls_[call->slot] = call;
  }
  const int rv = nghttp2_session_set_stream_user_data(session_, call->stream_id(), call.get());
  MERIDIAN_ASSERT(rv == 0, "the stream of a new call is gone: ", nghttp2_strerror(rv));
}

std::shared_ptr<Call> H2Connection::release(Call* call) {
  MERIDIAN_ASSERT(call->slot < calls_.size() && calls_[call->slot].get() == call,
                  "a call not in its connection's table");
  std::shared_ptr<Call> owned = std::move(calls_[call->slot]);
  free_slots_.push_back(call->slot);
  nghttp2_session_set_stream_user_data(session_, call->stream_id(), nullptr);
  return owned;
}

// --- answering -----------------------------------------------------------

ssize_t H2Connection::read_call_data(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                     uint32_t* data_flags, nghttp2_data_source* source, void*) {
  return static_cast<Call*>(source->ptr)->read_data(buf, length, data_flags);
}

void H2Connection::respond(Call& call) {
  const nghttp2_nv headers[] = {
      field(":status", "200", true),
      field("content-type", "application/grpc", true),
  };
  nghttp2_data_provider provider;
  provider.source.ptr = &call;
  provider.read_callback = read_call_data;
  const int rv =
      nghttp2_submit_response(session_, call.stream_id(), headers, std::size(headers), &provider);
  if (rv != 0) observe::log_debug("rpc: nghttp2_submit_response: {}", nghttp2_strerror(rv));
}

void H2Connection::respond_trailers_only(int32_t stream_id, const Status& status, int http_status) {
  if (session_ == nullptr) return;
  const std::string message = status.ok() ? "" : percent_encode_grpc_message(status.message);
  const nghttp2_nv headers[] = {
      field(":status", http_status_text(http_status), true),
      field("content-type", "application/grpc", true),
      field("grpc-status", code_number(status.code), true),
      field("grpc-message", message, false),
  };
  const size_t count = message.empty() ? 3 : 4;
  const int rv = nghttp2_submit_response(session_, stream_id, headers, count, nullptr);
  if (rv != 0) observe::log_debug("rpc: nghttp2_submit_response: {}", nghttp2_strerror(rv));
}

void H2Connection::send_trailers(int32_t stream_id, const Status& status) {
  const std::string message = status.ok() ? "" : percent_encode_grpc_message(status.message);
  const nghttp2_nv trailers[] = {
      field("grpc-status", code_number(status.code), true),
      field("grpc-message", message, false),
  };
  const size_t count = message.empty() ? 1 : 2;
  const int rv = nghttp2_submit_trailer(session_, stream_id, trailers, count);
  if (rv != 0) observe::log_debug("rpc: nghttp2_submit_trailer: {}", nghttp2_strerror(rv));
}

void H2Connection::resume(int32_t stream_id) {
  // Fails harmlessly when the data is not deferred (nghttp2 will ask anyway).
  if (session_ != nullptr) nghttp2_session_resume_data(session_, stream_id);
}

void H2Connection::reset(int32_t stream_id, uint32_t h2_error_code) {
  if (session_ != nullptr) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, h2_error_code);
  }
}

void H2Connection::consume(int32_t stream_id, size_t bytes) {
  if (session_ == nullptr || bytes == 0) return;
  const int rv = nghttp2_session_consume(session_, stream_id, bytes);
  MERIDIAN_ASSERT(rv == 0 || !nghttp2_is_fatal(rv),
                  "nghttp2_session_consume: ", nghttp2_strerror(rv));
}

// --- writing -------------------------------------------------------------

void H2Connection::schedule_flush() {
  if (closed_ || flush_posted_) return;
  flush_posted_ = true;
  asio::post(server_->io, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

bool H2Connection::produce() {
  while (out_.size() < kWriteBytesMax) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      observe::log_debug("rpc: closing a connection: {}", nghttp2_strerror(static_cast<int>(n)));
      return false;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return true;
}

void H2Connection::flush() {
  if (closed_ || writing_) return;  // waiting for the socket: flushed again when it takes more
  if (!produce()) return close(false);
  if (out_.empty()) {
    // Both sides are done (GOAWAY exchanged, or a fatal protocol error sent).
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      close(false);
    }
    return;
  }
  send();
}

// The socket is non-blocking: a write the kernel takes whole (the usual case)
// completes here, with no handler to wait for; otherwise the rest waits for
// the socket to become writable. Either way the connection always knows how
// much of out_ has left, which lets stop() write after it (write_now_for_stop).
void H2Connection::send() {
  while (out_sent_ < out_.size()) {
    ErrorCode ec;
    const size_t n =
        socket_.write_some(asio::buffer(out_.data() + out_sent_, out_.size() - out_sent_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      writing_ = true;
      socket_.async_wait(asio::ip::tcp::socket::wait_write,
                         [self = shared_from_this()](const ErrorCode& e) {
                           self->writing_ = false;
                           if (self->closed_) return;
                           if (e) return self->close(false);
                           self->send();
                         });
      return;
    }
    if (ec) return close(false);
    out_sent_ += n;
  }
  out_sent_ = 0;
  if (out_.capacity() > kOutputKeepBytesMax) {
    out_ = std::string();
  } else {
    out_.clear();
  }
  // produce() stopped at kWriteBytesMax, or more was queued meanwhile.
  if (nghttp2_session_want_write(session_) != 0) schedule_flush();
}

// --- closing -------------------------------------------------------------

void H2Connection::close(bool stopping) {
  if (closed_) return;
  const std::shared_ptr<H2Connection> keep = shared_from_this();  // forget() may drop the set's
  closed_ = true;
  if (stopping) {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
  }
  // Submitting frames calls no nghttp2 callback, so the table holds still here.
  for (const std::shared_ptr<Call>& call : calls_) {
    if (call) call->abort(stopping);
  }
  if (stopping) write_now_for_stop();
  for (const std::shared_ptr<Call>& call : calls_) {
    if (call) call->detach();
  }
  calls_.clear();
  free_slots_.clear();
  nghttp2_session_del(session_);
  session_ = nullptr;
  ErrorCode ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  out_ = std::string();
  server_->forget(this);
}

void H2Connection::write_now_for_stop() {
  // After what is left of out_ (a write the socket has not taken whole yet).
  if (!produce()) return;
  ErrorCode ec;
  while (!ec && out_sent_ < out_.size()) {
    out_sent_ +=
        socket_.write_some(asio::buffer(out_.data() + out_sent_, out_.size() - out_sent_), ec);
  }
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  for (size_t drained = 0; !ec && drained < kStopDrainBytesMax;) {
    drained += socket_.read_some(asio::buffer(in_), ec);  // stops at would_block or EOF
  }
}

}  // namespace meridian::rpc
