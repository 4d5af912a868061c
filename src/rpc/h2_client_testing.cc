#include "rpc/h2_client_testing.h"

#include <poll.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "base/assert.h"
#include "rpc/grpc_framing.h"

namespace meridian::rpc::testing {

namespace asio = boost::asio;

Headers grpc_request_headers(const std::string& path) {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":authority", "127.0.0.1"},
          {":path", path},
          {"content-type", "application/grpc"},
          {"te", "trailers"}};
}

std::string grpc_message(const std::string& body) {
  const auto prefix = encode_message_prefix(static_cast<uint32_t>(body.size()));
  return std::string(prefix.begin(), prefix.end()) + body;
}

RawH2Client::RawH2Client(uint16_t port) : socket_(io_) {
  socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  socket_.set_option(asio::ip::tcp::no_delay(true));  // frames leave as they are written
  nghttp2_session_callbacks* cbs = nullptr;
  MERIDIAN_ASSERT(nghttp2_session_callbacks_new(&cbs) == 0, "out of memory");
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  MERIDIAN_ASSERT(nghttp2_session_client_new(&session_, cbs, this) == 0, "out of memory");
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
}

RawH2Client::~RawH2Client() { nghttp2_session_del(session_); }

int32_t RawH2Client::open(const Headers& headers, std::string body, bool end_stream) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [name, value] : headers) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  auto out = std::make_unique<Outgoing>(Outgoing{std::move(body), 0, end_stream});
  nghttp2_data_provider provider;
  provider.source.ptr = out.get();
  provider.read_callback = read_body;
  const int32_t id =
      nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, nullptr);
  MERIDIAN_ASSERT(id > 0, "nghttp2_submit_request: ", nghttp2_strerror(id));
  outgoing_[id] = std::move(out);
  responses_[id];
  return id;
}

std::optional<RawH2Client::Response> RawH2Client::wait(int32_t stream_id,
                                                       std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!responses_[stream_id].closed) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !send_all() || !receive(left)) return std::nullopt;
  }
  send_all();
  return responses_[stream_id];
}

bool RawH2Client::wait_for_close(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    send_all();
    receive(left);
  }
  return true;
}

bool RawH2Client::pump_until(const std::function<bool()>& condition,
                             std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !send_all()) return false;
    receive(std::min(left, std::chrono::milliseconds(10)));
  }
  return true;
}

int32_t RawH2Client::send_window(int32_t stream_id) const {
  return nghttp2_session_get_stream_remote_window_size(session_, stream_id);
}

bool RawH2Client::send_all() {
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) return true;
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(data, static_cast<size_t>(n)), ec);
    if (ec) return false;
  }
}

bool RawH2Client::receive(std::chrono::milliseconds timeout) {
  pollfd p{socket_.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;  // nothing yet
  uint8_t buf[16384];
  boost::system::error_code ec;
  const size_t n = socket_.read_some(asio::buffer(buf), ec);
  if (ec) {
    eof_ = true;
    return false;
  }
  return nghttp2_session_mem_recv(session_, buf, n) >= 0;
}

int RawH2Client::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<RawH2Client*>(user_data);
  if (frame->hd.type == NGHTTP2_HEADERS) self->responses_[frame->hd.stream_id].header_blocks++;
  return 0;
}

int RawH2Client::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                           size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                           void* user_data) {
  auto* self = static_cast<RawH2Client*>(user_data);
  self->responses_[frame->hd.stream_id]
      .fields[std::string(reinterpret_cast<const char*>(name), namelen)] =
      std::string(reinterpret_cast<const char*>(value), valuelen);
  return 0;
}

int RawH2Client::on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data) {
  auto* self = static_cast<RawH2Client*>(user_data);
  self->responses_[stream_id].data.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int RawH2Client::on_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                          void* user_data) {
  auto* self = static_cast<RawH2Client*>(user_data);
  Response& r = self->responses_[stream_id];
  r.closed = true;
  r.close_code = error_code;
  return 0;
}

ssize_t RawH2Client::read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                               uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* out = static_cast<Outgoing*>(source->ptr);
  const size_t n = std::min(length, out->body.size() - out->offset);
  std::memcpy(buf, out->body.data() + out->offset, n);
  out->offset += n;
  if (out->offset == out->body.size()) {
    if (!out->end_stream) {
      if (n == 0) return NGHTTP2_ERR_DEFERRED;  // the stream stays open, silent
    } else {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    }
  }
  return static_cast<ssize_t>(n);
}

}  // namespace meridian::rpc::testing
