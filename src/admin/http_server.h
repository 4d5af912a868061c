// HttpServer: a small HTTP/1.1 server on Boost.Beast for the admin port (:2381):
// metrics, health, readiness, status, and the operator routes the node adds.
//
// Routing is by method and exact path, or by path prefix (a route registered as
// "/v1/kv/" matches "/v1/kv/anything"). A handler receives the request and a
// Reply callable; it may call Reply at once or later from any thread (after a
// Raft round trip, say): the response is then written on the server's io
// context. Every request gets exactly one response: unknown paths get 404, a
// known path with another method 405, a request larger than max_body_bytes 413,
// and a malformed request is answered 400 and the connection closed. Keep-alive
// is supported; idle connections close after idle_timeout_ms.
//
// A 405 carries an Allow header; a request body may be announced with "Expect:
// 100-continue" (curl does above 1 KiB). Beyond max_connections, new connections
// are closed at once. A Reply dropped without being called answers 500; calling
// it twice is a bug (asserted).
//
// Threads: runs on the io_context given to start() (each connection on its own
// strand, so several threads may run it); stop() from any thread. Lifetime: the
// io_context must outlive the server, and a Reply kept past stop() does nothing
// when called; destroy the io_context only after every Reply (held by a node's
// callbacks, say) is gone or the server is stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "base/status.h"

namespace meridian::admin {

struct HttpRequest {
  std::string method;                        // "GET", "PUT", ...
  std::string path;                          // without the query string, not decoded
  std::map<std::string, std::string> query;  // decoded ?a=b&c=d
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Reply = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, Reply)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 2381;  // 0: any free port (see port())
  uint64_t max_body_bytes = 4u << 20;
  uint32_t idle_timeout_ms = 60000;
  uint32_t max_connections = 1024;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes must be added before start().
  void route(const std::string& method, const std::string& path, HttpHandler handler);
  void route_prefix(const std::string& method, const std::string& prefix, HttpHandler handler);

  // Binds and starts accepting (kUnavailable naming the address if binding fails).
  base::Status start(boost::asio::io_context& io);
  // Stops accepting and closes connections; pending replies are dropped.
  void stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// JSON-ish helper for handlers: a response with a status and a JSON body.
HttpResponse json_response(int status, std::string body);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query
// strings); nullopt if a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace meridian::admin
