#include "rpc/server.h"

#include <chrono>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

#include "base/assert.h"
#include "observe/log.h"
#include "rpc/h2_connection.h"
#include "rpc/server_impl.h"

namespace meridian::rpc {
namespace {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

// Back-off after a failed accept (EMFILE, say) instead of spinning on it.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// How often a stop() waiting for the I/O thread looks whether the io_context
// is still run at all (see Server::stop).
constexpr auto kStopPollInterval = std::chrono::milliseconds(20);

base::Result<Tcp::endpoint> resolve(const ServerOptions& o, asio::io_context& io) {
  ErrorCode ec;
  const auto address = asio::ip::make_address(o.host, ec);
  if (!ec) return Tcp::endpoint(address, o.port);
  // Not an address literal: resolve the name ("localhost"), first result.
  Tcp::resolver resolver(io);
  auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec || results.empty()) {
    return base::Status(base::Code::kInvalidArgument,
                        "rpc: cannot resolve " + o.host + ": " + ec.message());
  }
  return results.begin()->endpoint();
}

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](const ErrorCode& ec, Tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void Server::Impl::on_accept(const ErrorCode& ec, Tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;  // stopped
  if (ec) {
    observe::log_warn("rpc: accept failed: {}", ec.message());
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([self = shared_from_this()](const ErrorCode& e) {
      if (!e && self->acceptor.is_open()) self->accept();
    });
    return;
  }
  // Answers are small and latency-bound; nagle would hold one back for the
  // ACK of the previous write.
  ErrorCode ignored;
  socket.set_option(Tcp::no_delay(true), ignored);
  auto conn = std::make_shared<H2Connection>(shared_from_this(), std::move(socket));
  connections.emplace(conn.get(), conn);
  conn->start();
  accept();
}

void Server::Impl::forget(H2Connection* conn) { connections.erase(conn); }

void Server::Impl::shut_down() {
  {
    std::lock_guard lock(shut_down_mu);
    if (shut_down_done) return;
    shut_down_done = true;
    ErrorCode ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
    ops->close();  // answers given before stop() still go out with the rest
    std::vector<std::shared_ptr<H2Connection>> open;
    open.reserve(connections.size());
    for (const auto& [ptr, conn] : connections) open.push_back(conn);
    for (const auto& conn : open) conn->close(/*stopping=*/true);
    MERIDIAN_ASSERT(connections.empty(), connections.size(), " connections survived stop()");
    // What the handlers captured is released now, not when the last
    // connection's pending operations complete.
    unary.clear();
    streams.clear();
  }
  {
    std::lock_guard lock(stop_mu);
    stopped = true;
  }
  stop_cv.notify_all();
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

base::Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options,
                                                    asio::io_context& io) {
  auto endpoint = resolve(options, io);
  if (!endpoint.is_ok()) return endpoint.status();
  auto impl = std::make_shared<Impl>(options, io);
  const std::string where = options.host + ":" + std::to_string(options.port);
  ErrorCode ec;
  const auto fail = [&](const char* what) {
    return base::Status(base::Code::kUnavailable,
                        std::string("rpc: cannot ") + what + " " + where + ": " + ec.message());
  };
  impl->acceptor.open(endpoint.value().protocol(), ec);
  if (ec) return fail("open a socket for");
  impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("configure");
  impl->acceptor.bind(endpoint.value(), ec);
  if (ec) return fail("bind");
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  impl->port.store(impl->acceptor.local_endpoint(ec).port());
  // Accepting starts on the I/O thread, like everything the acceptor does.
  asio::post(io, [impl] { impl->accept(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::add_unary(std::string path, UnaryHandler handler) {
  MERIDIAN_ASSERT(!impl_->stop_requested.load(), "add_unary() after stop()");
  MERIDIAN_ASSERT(!impl_->streams.contains(path), path, " is already a stream method");
  const auto [it, added] = impl_->unary.try_emplace(std::move(path), std::move(handler));
  MERIDIAN_ASSERT(added, "two handlers for ", it->first);
}

void Server::add_stream(std::string path, StreamHandler handler) {
  MERIDIAN_ASSERT(!impl_->stop_requested.load(), "add_stream() after stop()");
  MERIDIAN_ASSERT(!impl_->unary.contains(path), path, " is already a unary method");
  const auto [it, added] = impl_->streams.try_emplace(std::move(path), std::move(handler));
  MERIDIAN_ASSERT(added, "two handlers for ", it->first);
}

uint16_t Server::port() const { return impl_->port.load(); }

void Server::stop() {
  Impl& s = *impl_;
  MERIDIAN_ASSERT(!s.io.get_executor().running_in_this_thread(),
                  "Server::stop() on the I/O thread would wait for itself");
  if (!s.stop_requested.exchange(true)) {
    asio::post(s.io, [impl = impl_] { impl->shut_down(); });
  }
  std::unique_lock lock(s.stop_mu);
  while (!s.stopped) {
    if (s.io.stopped()) {
      // Nobody runs the io_context any more (run() has returned), so nothing
      // else touches the connections: the work is done on this thread.
      lock.unlock();
      s.shut_down();
      lock.lock();
      continue;
    }
    s.stop_cv.wait_for(lock, kStopPollInterval);
  }
}

}  // namespace meridian::rpc
