// Server::Impl: the state a Server shares with its connections: options, the
// handler tables, the listening socket, the set of open connections, the op
// queue, and the stop() handshake. Private to the rpc layer.
//
// Ownership: the Server and every open connection hold it (shared_ptr), so the
// connections still closing after stop() returned may reach it. The
// io_context must outlive it (its sockets and timers belong to that context).
//
// Threads: the handler tables are filled before traffic (add_unary and
// add_stream) and only read afterwards, on the I/O thread; `connections`,
// the acceptor and the timer are the I/O thread's; the rest says what guards it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "rpc/op_queue.h"
#include "rpc/server.h"

namespace meridian::rpc {

class H2Connection;

// Lets the handler tables be searched by the string_view nghttp2 hands over,
// without making a std::string per request.
struct PathHash {
  using is_transparent = void;  // NOLINT(readability-identifier-naming): the standard's name
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class Handler>
using HandlerTable = std::unordered_map<std::string, Handler, PathHash, std::equal_to<>>;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(const ServerOptions& o, boost::asio::io_context& context)
      : options(o),
        io(context),
        acceptor(context),
        retry_timer(context),
        ops(std::make_shared<OpQueue>(context)) {}

  void accept();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  // A connection has closed and leaves the set.
  void forget(H2Connection* conn);
  // stop()'s work, done once: on the I/O thread, or on the caller's if the
  // io_context is no longer run.
  void shut_down();

  const ServerOptions options;
  boost::asio::io_context& io;
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer retry_timer;  // after a failed accept
  const std::shared_ptr<OpQueue> ops;
  HandlerTable<UnaryHandler> unary;
  HandlerTable<StreamHandler> streams;
  std::unordered_map<H2Connection*, std::shared_ptr<H2Connection>> connections;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stop_requested{false};

  std::mutex shut_down_mu;      // one shut_down() at a time (I/O thread or fallback)
  bool shut_down_done = false;  // guarded by shut_down_mu
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;  // guarded by stop_mu: shut_down() has finished
};

}  // namespace meridian::rpc
