#include "admin/http_server.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/assert.h"
#include "observe/log.h"

namespace meridian::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

// After an error response the connection is closed; what the client still sends
// (the rest of a too-large body, say) is read and dropped first, up to this much
// and this long, so that closing with unread data does not reset the connection
// before the client has read the response (RFC 7230 section 6.6).
constexpr size_t kDrainBytesMax = 256 << 10;
constexpr auto kDrainTimeout = std::chrono::milliseconds(500);
// Back-off after a failed accept (EMFILE, say) instead of spinning on it.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// A request's header (request line and fields) may be at most this large;
// Beast's default, stated here because a larger one is answered 400.
constexpr uint32_t kHeaderBytesMax = 8 << 10;

struct Route {
  std::string method;
  std::string path;
  bool prefix = false;
  HttpHandler handler;
};

// The routing decision for one request: a handler, or 404, or 405 with `allow`.
struct Match {
  const HttpHandler* handler = nullptr;
  int status = 404;
  std::string allow;
};

void add_allowed(std::string& allow, const std::string& method) {
  if (allow.find(method) != std::string::npos) return;
  if (!allow.empty()) allow += ", ";
  allow += method;
}

bool parse_target(std::string_view target, HttpRequest* req) {
  const size_t q = target.find('?');
  req->path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) return false;
    req->query[*key] = *value;
  }
  return true;
}

class HttpConnection;

// The server's shared state. HttpServer::Impl is this under the name the header
// gives it; connections hold it by the base name (Impl is private to HttpServer).
struct ServerCore : std::enable_shared_from_this<ServerCore> {
  explicit ServerCore(HttpServerOptions o) : options(std::move(o)) {}

  Match match(const std::string& method, const std::string& path) const;
  void accept();
  void on_accept(ErrorCode ec, Tcp::socket socket);
  void forget(HttpConnection* c);

  const HttpServerOptions options;
  std::vector<Route> routes;  // fixed once started
  asio::io_context* io = nullptr;
  std::unique_ptr<Tcp::acceptor> acceptor;  // on its own strand
  std::unique_ptr<asio::steady_timer> retry_timer;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stopped{false};

  std::mutex mu;
  std::map<HttpConnection*, std::weak_ptr<HttpConnection>> connections;  // guarded by mu
};

// One accepted connection: reads a request, hands it to its handler, writes the
// response when the handler replies, and reads the next (keep-alive). Lives on
// its own strand; shared ownership by the pending operation or by the Reply of
// the request in progress keeps it alive.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<ServerCore> server, Tcp::socket socket)
      : server_(std::move(server)), stream_(std::move(socket)) {}
  ~HttpConnection() { server_->forget(this); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  void start() { read_next(); }
  // Any thread: writes the response on the connection's strand.
  void post_response(HttpResponse response, unsigned version, bool keep_alive);
  // Any thread: closes the connection on its strand.
  void post_close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  void read_next();
  void on_header(ErrorCode ec);
  void on_continue_written(ErrorCode ec);
  void on_body(ErrorCode ec);
  void on_read_error(ErrorCode ec);
  void handle_request();
  void write(HttpResponse response, unsigned version, bool keep_alive, const std::string& allow);
  void on_write(ErrorCode ec, bool close_after);
  void drain();
  void close();

  std::shared_ptr<ServerCore> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  std::vector<char> drain_buffer_;
  size_t drained_bytes_ = 0;
  bool closed_ = false;
};

// What a Reply holds: the connection (kept alive until the response is posted)
// and how to answer. Exactly one response per request: a second call is a bug,
// and a Reply dropped unanswered answers 500.
class ReplyState {
 public:
  ReplyState(std::shared_ptr<HttpConnection> conn, unsigned version, bool keep_alive)
      : conn_(std::move(conn)), version_(version), keep_alive_(keep_alive) {}
  ~ReplyState() {
    if (!done_.load()) {
      conn_->post_response({.status = 500, .body = "the handler dropped the request\n"}, version_,
                           false);
    }
  }
  ReplyState(const ReplyState&) = delete;
  ReplyState& operator=(const ReplyState&) = delete;

  void send(HttpResponse response) {
    const bool first = try_send(std::move(response));
    MERIDIAN_ASSERT(first, "an HTTP handler replied twice");
  }
  // False (and nothing sent) if the request was answered already.
  bool try_send(HttpResponse response) {
    if (done_.exchange(true)) return false;
    conn_->post_response(std::move(response), version_, keep_alive_);
    conn_.reset();  // only this call (the first) touches conn_ from now on
    return true;
  }

 private:
  std::shared_ptr<HttpConnection> conn_;
  const unsigned version_;
  const bool keep_alive_;
  std::atomic<bool> done_{false};
};

}  // namespace

struct HttpServer::Impl final : ServerCore {
  using ServerCore::ServerCore;
};

void HttpConnection::read_next() {
  if (closed_) return;
  parser_.emplace();
  parser_->body_limit(server_->options.max_body_bytes);
  parser_->header_limit(kHeaderBytesMax);
  stream_.expires_after(std::chrono::milliseconds(server_->options.idle_timeout_ms));
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](ErrorCode ec, size_t) { self->on_header(ec); });
}

void HttpConnection::on_header(ErrorCode ec) {
  if (ec) return on_read_error(ec);
  const auto& req = parser_->get();
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    continue_.emplace(http::status::continue_, req.version());
    http::async_write(stream_, *continue_, [self = shared_from_this()](ErrorCode e, size_t) {
      self->on_continue_written(e);
    });
    return;
  }
  on_continue_written({});
}

void HttpConnection::on_continue_written(ErrorCode ec) {
  continue_.reset();
  if (ec) return close();
  if (parser_->is_done()) return handle_request();
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](ErrorCode e, size_t) { self->on_body(e); });
}

void HttpConnection::on_body(ErrorCode ec) {
  if (ec) return on_read_error(ec);
  handle_request();
}

void HttpConnection::on_read_error(ErrorCode ec) {
  if (ec == http::error::body_limit) {
    return write({.status = 413, .body = "request body too large\n"}, parser_->get().version(),
                 false, "");
  }
  const bool closed_by_peer = ec == http::error::end_of_stream ||
                              ec == http::error::partial_message || ec == asio::error::eof;
  if (!closed_by_peer &&
      ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return write({.status = 400, .body = "malformed request: " + ec.message() + "\n"}, 11, false,
                 "");  // the version may not have been parsed
  }
  close();  // the peer went away, the idle timeout fired, or the server stops
}

void HttpConnection::handle_request() {
  const auto& msg = parser_->get();
  const unsigned version = msg.version();
  const bool keep_alive = msg.keep_alive();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  const auto target = msg.target();
  if (!parse_target(std::string_view(target.data(), target.size()), &req)) {
    return write({.status = 400, .body = "malformed query string\n"}, version, false, "");
  }
  const Match m = server_->match(req.method, req.path);
  if (m.handler == nullptr) {
    HttpResponse r{.status = m.status,
                   .body = m.status == 404 ? "not found\n" : "method not allowed\n"};
    return write(std::move(r), version, keep_alive, m.allow);
  }
  req.body = parser_->release().body();
  auto state = std::make_shared<ReplyState>(shared_from_this(), version, keep_alive);
  try {
    (*m.handler)(req, [state](HttpResponse r) { state->send(std::move(r)); });
  } catch (const std::exception& e) {
    // Handlers should not throw (no exception crosses a module boundary), but a
    // stray one (bad_alloc, a library's) must not take the io thread down.
    observe::log_error("admin: handler for {} {} threw: {}", req.method, req.path, e.what());
    (void)state->try_send({.status = 500, .body = "internal error\n"});
  }
}

void HttpConnection::post_response(HttpResponse response, unsigned version, bool keep_alive) {
  if (server_->stopped.load()) return;  // pending replies are dropped at stop()
  asio::post(stream_.get_executor(),
             [self = shared_from_this(), r = std::move(response), version, keep_alive]() mutable {
               self->write(std::move(r), version, keep_alive, "");
             });
}

void HttpConnection::write(HttpResponse response, unsigned version, bool keep_alive,
                           const std::string& allow) {
  if (closed_) return;
  auto& res = response_.emplace();
  res.version(version);
  res.result(static_cast<unsigned>(response.status));
  res.set(http::field::server, "meridian");
  res.set(http::field::content_type, response.content_type);
  if (!allow.empty()) res.set(http::field::allow, allow);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  const bool close_after = !keep_alive || res.need_eof();
  stream_.expires_after(std::chrono::milliseconds(server_->options.idle_timeout_ms));
  http::async_write(stream_, res, [self = shared_from_this(), close_after](ErrorCode ec, size_t) {
    self->on_write(ec, close_after);
  });
}

void HttpConnection::on_write(ErrorCode ec, bool close_after) {
  response_.reset();
  if (ec) return close();
  if (!close_after) return read_next();
  ErrorCode ignored;
  stream_.socket().shutdown(Tcp::socket::shutdown_send, ignored);
  drain_buffer_.resize(16 << 10);
  stream_.expires_after(kDrainTimeout);
  drain();
}

void HttpConnection::drain() {
  if (closed_ || drained_bytes_ >= kDrainBytesMax) return close();
  stream_.async_read_some(asio::buffer(drain_buffer_),
                          [self = shared_from_this()](ErrorCode ec, size_t n) {
                            if (ec) return self->close();
                            self->drained_bytes_ += n;
                            self->drain();
                          });
}

void HttpConnection::close() {
  if (closed_) return;
  closed_ = true;
  ErrorCode ignored;
  stream_.socket().shutdown(Tcp::socket::shutdown_both, ignored);
  stream_.close();
}

Match ServerCore::match(const std::string& method, const std::string& path) const {
  Match m;
  for (const Route& r : routes) {
    if (r.prefix || r.path != path) continue;
    if (r.method == method) {
      m.handler = &r.handler;
      m.allow.clear();
      return m;
    }
    add_allowed(m.allow, r.method);
  }
  if (!m.allow.empty()) {
    m.status = 405;
    return m;
  }
  // The longest matching prefix registered for this method wins.
  size_t best = 0;
  for (const Route& r : routes) {
    if (!r.prefix || path.compare(0, r.path.size(), r.path) != 0) continue;
    if (r.method != method) {
      add_allowed(m.allow, r.method);
    } else if (m.handler == nullptr || r.path.size() > best) {
      m.handler = &r.handler;
      best = r.path.size();
    }
  }
  if (m.handler != nullptr) m.allow.clear();
  if (m.handler == nullptr && !m.allow.empty()) m.status = 405;
  return m;
}

void ServerCore::accept() {
  if (stopped.load()) return;
  acceptor->async_accept(asio::make_strand(*io),
                         [self = shared_from_this()](ErrorCode ec, Tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void ServerCore::on_accept(ErrorCode ec, Tcp::socket socket) {
  if (stopped.load() || ec == asio::error::operation_aborted) return;
  if (ec) {
    observe::log_warn("admin: accept failed: {}", ec.message());
    retry_timer->expires_after(kAcceptRetryDelay);
    retry_timer->async_wait([self = shared_from_this()](ErrorCode e) {
      if (!e) self->accept();
    });
    return;
  }
  // Only this strand adds connections, so the count checked here can only have
  // fallen by the time the new one is added.
  bool full = false;
  {
    std::lock_guard lock(mu);
    full = connections.size() >= options.max_connections;
  }
  if (full) {
    observe::log_debug("admin: {} connections open, closing a new one", options.max_connections);
    ErrorCode ignored;
    socket.close(ignored);
    return accept();
  }
  auto conn = std::make_shared<HttpConnection>(shared_from_this(), std::move(socket));
  {
    std::lock_guard lock(mu);
    connections.emplace(conn.get(), conn);
  }
  conn->start();
  accept();
}

void ServerCore::forget(HttpConnection* c) {
  std::lock_guard lock(mu);
  connections.erase(c);
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& method, const std::string& path, HttpHandler handler) {
  MERIDIAN_ASSERT(impl_->io == nullptr, "routes must be added before start()");
  impl_->routes.push_back({method, path, false, std::move(handler)});
}

void HttpServer::route_prefix(const std::string& method, const std::string& prefix,
                              HttpHandler handler) {
  MERIDIAN_ASSERT(impl_->io == nullptr, "routes must be added before start()");
  impl_->routes.push_back({method, prefix, true, std::move(handler)});
}

base::Status HttpServer::start(asio::io_context& io) {
  MERIDIAN_ASSERT(impl_->io == nullptr, "HttpServer started twice");
  const auto& o = impl_->options;
  const std::string where = o.host + ":" + std::to_string(o.port);
  ErrorCode ec;
  Tcp::endpoint endpoint(asio::ip::make_address(o.host, ec), o.port);
  if (ec) {
    // Not an address literal: resolve the name ("localhost"), first result.
    Tcp::resolver resolver(io);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) {
      return base::Status(base::Code::kInvalidArgument,
                          "admin: cannot resolve " + where + ": " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  auto strand = asio::make_strand(io);
  auto acceptor = std::make_unique<Tcp::acceptor>(strand);
  const auto fail = [&](const char* what) {
    return base::Status(base::Code::kUnavailable,
                        std::string("admin: cannot ") + what + " " + where + ": " + ec.message());
  };
  acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("configure");
  acceptor->bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  impl_->port.store(acceptor->local_endpoint(ec).port());
  impl_->io = &io;
  impl_->acceptor = std::move(acceptor);
  impl_->retry_timer = std::make_unique<asio::steady_timer>(strand);
  asio::post(strand, [impl = impl_] { impl->accept(); });
  return base::Status::ok();
}

void HttpServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  if (impl_->io == nullptr) return;  // never started
  asio::post(impl_->acceptor->get_executor(), [impl = impl_] {
    ErrorCode ignored;
    impl->acceptor->close(ignored);
    impl->retry_timer->cancel();
  });
  // Collected under the lock, closed outside it: the last reference to a
  // connection may be ours, and its destructor takes the lock to forget itself.
  std::vector<std::shared_ptr<HttpConnection>> open;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [ptr, weak] : impl_->connections) {
      if (auto conn = weak.lock()) open.push_back(std::move(conn));
    }
  }
  for (const auto& conn : open) conn->post_close();
}

uint16_t HttpServer::port() const { return impl_->port.load(); }

HttpResponse json_response(int status, std::string body) {
  return {.status = status, .content_type = "application/json", .body = std::move(body)};
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

}  // namespace meridian::admin
