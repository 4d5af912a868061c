#include "h2_watch_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "rpc/grpc_framing.h"

namespace meridian::bench::etcd_load {

namespace {

constexpr int32_t kStreamWindowBytes = 1 << 20;
constexpr int32_t kConnectionWindowBytes = 16 << 20;
constexpr uint32_t kMaxMessageBytes = 64u << 20;
constexpr size_t kReadBytes = 256 << 10;
constexpr int kPollMillis = 10;  // how soon a thread sees stop()
constexpr char kPath[] = "/etcdserverpb.Watch/Watch";

nghttp2_nv header(const char* name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), std::strlen(name),
          value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME};
}

}  // namespace

struct H2WatchClient::Stream {
  WatchStreamHandler* handler = nullptr;
  std::string requests;  // framed
  size_t sent = 0;
  rpc::MessageDeframer deframer{kMaxMessageBytes};
  WatchResponseView view;  // scratch
  int32_t id = -1;
  int status = -1;  // grpc-status, once the trailers came
  std::string message;
  bool ended = false;
};

struct H2WatchClient::Connection {
  int fd = -1;
  std::string authority;
  nghttp2_session* session = nullptr;
  std::vector<std::unique_ptr<Stream>> streams;
  std::string unsent;  // what nghttp2 produced and the socket has not taken yet
  bool dead = false;
  bool cancelled = false;  // every open stream was reset (stop())

  ~Connection() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) ::close(fd);
  }
  size_t open_streams() const {
    size_t n = 0;
    for (const auto& s : streams) n += s->ended ? 0 : 1;
    return n;
  }
};

H2WatchClient::H2WatchClient(uint64_t threads) : threads_count_(threads == 0 ? 1 : threads) {}

H2WatchClient::~H2WatchClient() { stop(); }

bool H2WatchClient::connect(const std::string& endpoint, size_t* index, std::string* error) {
  std::string hostport = endpoint;
  if (hostport.rfind("http://", 0) == 0) hostport = hostport.substr(7);
  const size_t colon = hostport.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, hostport.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    *error = "not an IPv4 host:port: " + endpoint;
    return false;
  }
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1))));
  auto c = std::make_unique<Connection>();
  c->authority = hostport;
  c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || ::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect " + endpoint + ": " + std::strerror(errno);
    return false;
  }
  const int one = 1;
  ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);

  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) {
    *error = "out of memory";
    return false;
  }
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  const int rv = nghttp2_session_client_new(&c->session, cbs, c.get());
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    *error = nghttp2_strerror(rv);
    return false;
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindowBytes},
  };
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, kConnectionWindowBytes);
  *index = connections_.size();
  connections_.push_back(std::move(c));
  return true;
}

void H2WatchClient::open_stream(size_t conn, WatchStreamHandler* handler,
                                std::vector<std::string> requests) {
  Connection& c = *connections_.at(conn);
  auto s = std::make_unique<Stream>();
  s->handler = handler;
  for (const std::string& r : requests) rpc::append_framed(&s->requests, r);
  const std::string method = "POST";
  const std::string scheme = "http";
  const std::string path = kPath;
  const std::string type = "application/grpc";
  const std::string te = "trailers";
  const nghttp2_nv nva[] = {header(":method", method),         header(":scheme", scheme),
                            header(":authority", c.authority), header(":path", path),
                            header("content-type", type),      header("te", te)};
  nghttp2_data_provider provider{};
  provider.source.ptr = s.get();
  provider.read_callback = read_requests;
  s->id = nghttp2_submit_request(c.session, nullptr, nva, std::size(nva), &provider, s.get());
  if (s->id < 0) {
    s->ended = true;
    handler->on_end(-1, std::string("cannot open a stream: ") + nghttp2_strerror(s->id));
  }
  c.streams.push_back(std::move(s));
}

void H2WatchClient::start() {
  for (size_t t = 0; t < threads_count_ && t < connections_.size(); ++t) {
    threads_.emplace_back([this, t] { run(t); });
  }
}

void H2WatchClient::stop() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void H2WatchClient::run(size_t thread) {
  std::vector<Connection*> mine;
  for (size_t i = thread; i < connections_.size(); i += threads_count_) {
    mine.push_back(connections_[i].get());
  }
  std::vector<pollfd> fds;
  std::vector<Connection*> polled;
  for (Connection* c : mine) pump(*c, false);  // the preface, settings and requests
  while (true) {
    const bool stopping = stopping_.load();
    fds.clear();
    polled.clear();
    for (Connection* c : mine) {
      if (c->dead) continue;
      if (stopping && !c->cancelled) {
        c->cancelled = true;
        for (auto& s : c->streams) {
          if (!s->ended)
            nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        }
        if (!pump(*c, false)) continue;
      }
      if (c->cancelled && c->unsent.empty() && c->open_streams() == 0) continue;  // done
      const bool want_write = !c->unsent.empty() || nghttp2_session_want_write(c->session);
      fds.push_back({c->fd, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0});
      polled.push_back(c);
    }
    if (fds.empty()) {
      if (stopping) return;
      // Every connection is gone before stop(): wait for it.
      ::poll(nullptr, 0, kPollMillis);
      continue;
    }
    ::poll(fds.data(), fds.size(), kPollMillis);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0)
        pump(*polled[i], (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0);
    }
  }
}

bool H2WatchClient::pump(Connection& c, bool readable) {
  if (c.dead) return false;
  if (readable) {
    static thread_local std::vector<uint8_t> buf(kReadBytes);
    while (true) {
      const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || nghttp2_session_mem_recv(c.session, buf.data(), static_cast<size_t>(n)) < 0) {
        fail(c);
        return false;
      }
      if (static_cast<size_t>(n) < buf.size()) break;
    }
  }
  while (true) {
    if (c.unsent.empty()) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(c.session, &data);
      if (n < 0) {
        fail(c);
        return false;
      }
      if (n == 0) return true;
      c.unsent.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    const ssize_t w = ::send(c.fd, c.unsent.data(), c.unsent.size(), MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      fail(c);
      return false;
    }
    c.unsent.erase(0, static_cast<size_t>(w));
  }
}

void H2WatchClient::fail(Connection& c) {
  c.dead = true;
  for (auto& s : c.streams) {
    if (s->ended) continue;
    s->ended = true;
    s->handler->on_end(-1, "connection lost");
  }
}

int H2WatchClient::on_header(nghttp2_session* session, const nghttp2_frame* frame,
                             const uint8_t* name, size_t namelen, const uint8_t* value,
                             size_t valuelen, uint8_t /*flags*/, void* /*user_data*/) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* s =
      static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (s == nullptr) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == "grpc-status") {
    s->status = std::atoi(std::string(v).c_str());
  } else if (n == "grpc-message") {
    s->message = std::string(v);
  } else if (n == ":status" && v != "200") {
    s->message = "HTTP status " + std::string(v);
  }
  return 0;
}

int H2WatchClient::on_data(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id,
                           const uint8_t* data, size_t len, void* /*user_data*/) {
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (s == nullptr || s->ended) return 0;
  while (len > 0) {
    const size_t used = s->deframer.feed(data, len);
    data += used;
    len -= used;
    if (s->deframer.state() == rpc::MessageDeframer::State::kMessage) {
      const std::string message = s->deframer.take();
      if (!parse_watch_response(message, &s->view)) {
        s->message = "a response that is not a WatchResponse";
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
        return 0;
      }
      s->handler->on_response(s->view, Clock::now());
    } else if (s->deframer.state() != rpc::MessageDeframer::State::kNeedMore) {
      s->message = "bad gRPC framing";
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      return 0;
    }
  }
  return 0;
}

int H2WatchClient::on_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                            void* /*user_data*/) {
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (s == nullptr || s->ended) return 0;
  s->ended = true;
  if (s->status < 0 && s->message.empty() && error_code != NGHTTP2_NO_ERROR) {
    s->message = std::string("stream reset: ") + nghttp2_http2_strerror(error_code);
  }
  s->handler->on_end(s->status, s->message);
  return 0;
}

ssize_t H2WatchClient::read_requests(nghttp2_session* /*session*/, int32_t /*stream_id*/,
                                     uint8_t* buf, size_t length, uint32_t* /*data_flags*/,
                                     nghttp2_data_source* source, void* /*user_data*/) {
  auto* s = static_cast<Stream*>(source->ptr);
  const size_t n = std::min(length, s->requests.size() - s->sent);
  if (n == 0) return NGHTTP2_ERR_DEFERRED;  // the stream stays open: no END_STREAM
  std::memcpy(buf, s->requests.data() + s->sent, n);
  s->sent += n;
  if (s->sent == s->requests.size()) {
    s->requests.clear();
    s->requests.shrink_to_fit();
    s->sent = 0;
  }
  return static_cast<ssize_t>(n);
}

}  // namespace meridian::bench::etcd_load
