// Stream: one peer connection's byte stream, plain TCP or TLS over TCP, behind one
// small interface so that the dialer and the listener code is written once.
//
// Owned by one connection object and used only on that connection's strand: the
// socket is created with the strand as its executor, so every completion handler
// runs on it. A Stream with pending operations must outlive them; connections hold
// it in a shared_ptr captured by their handlers.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

namespace meridian::net::detail {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using Tcp = boost::asio::ip::tcp;
using TlsSocket = boost::asio::ssl::stream<Tcp::socket>;

class Stream {
 public:
  // A stream over an already connected (accepted) socket; `tls` null for plain TCP.
  Stream(Tcp::socket socket, boost::asio::ssl::context* tls) : s_(make(std::move(socket), tls)) {}

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool is_tls() const { return std::holds_alternative<TlsSocket>(s_); }

  Tcp::socket& socket() {
    if (auto* tls = std::get_if<TlsSocket>(&s_)) return tls->next_layer();
    return std::get<Tcp::socket>(s_);
  }

  // TLS handshake in the given role; only on a TLS stream.
  template <class Handler>
  void async_handshake(boost::asio::ssl::stream_base::handshake_type role, Handler&& h) {
    std::get<TlsSocket>(s_).async_handshake(role, std::forward<Handler>(h));
  }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& h) {
    std::visit([&](auto& s) { s.async_read_some(buffers, std::forward<Handler>(h)); }, s_);
  }

  // Writes all of `buffers` (boost::asio::async_write).
  template <class Buffers, class Handler>
  void async_write(const Buffers& buffers, Handler&& h) {
    std::visit([&](auto& s) { boost::asio::async_write(s, buffers, std::forward<Handler>(h)); },
               s_);
  }

  // Closes the socket; pending operations complete with operation_aborted. No TLS
  // close_notify: the peer protocol has its own framing, so a truncated stream is
  // never mistaken for a complete one.
  void close() {
    boost::system::error_code ignored;
    socket().shutdown(Tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  // Whether a read error means the peer closed the connection: EOF, or on TLS a
  // close without close_notify (which this transport never sends, see close()).
  static bool is_peer_close(const boost::system::error_code& ec) {
    return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
  }

  // "host:port" of the remote end, or "?" once the socket is closed.
  std::string remote() {
    boost::system::error_code ec;
    auto ep = socket().remote_endpoint(ec);
    if (ec) return "?";
    return format_endpoint(ep);
  }

  static std::string format_endpoint(const Tcp::endpoint& ep) {
    auto addr = ep.address();
    std::string host = addr.to_string();
    if (addr.is_v6()) host = "[" + host + "]";
    return host + ":" + std::to_string(ep.port());
  }

 private:
  using Variant = std::variant<Tcp::socket, TlsSocket>;
  static Variant make(Tcp::socket socket, boost::asio::ssl::context* tls) {
    if (tls == nullptr) return Variant(std::in_place_type<Tcp::socket>, std::move(socket));
    return Variant(std::in_place_type<TlsSocket>, std::move(socket), *tls);
  }

  Variant s_;
};

}  // namespace meridian::net::detail
