// RawH2Client: a small blocking HTTP/2 client (nghttp2) for the tests that
// need what gRPC's own client will not send: a grpc-timeout with no deadline of
// its own, a request that is not gRPC, a compressed flag, two messages to a
// unary method, a message cut short. It also shows the raw response: headers
// and trailers as received, and how the stream ended.
//
// Threads: one test thread; it blocks on the socket only inside wait().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nghttp2/nghttp2.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace meridian::rpc::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The headers of a gRPC request to `path` (POST, application/grpc, te).
Headers grpc_request_headers(const std::string& path);
// `body` as one uncompressed gRPC message (prefix and bytes).
std::string grpc_message(const std::string& body);

class RawH2Client {
 public:
  struct Response {
    std::map<std::string, std::string> fields;  // headers and trailers together
    int header_blocks = 0;                      // 1: trailers only
    std::string data;                           // the DATA bytes
    bool closed = false;
    uint32_t close_code = 0;  // NGHTTP2_NO_ERROR, or the RST_STREAM's code
    std::string field(const std::string& name) const {
      auto it = fields.find(name);
      return it == fields.end() ? "" : it->second;
    }
  };

  explicit RawH2Client(uint16_t port);
  ~RawH2Client();
  RawH2Client(const RawH2Client&) = delete;
  RawH2Client& operator=(const RawH2Client&) = delete;

  // Opens a stream and queues `body` as its DATA (END_STREAM after it if
  // `end_stream`). Sent by the next wait().
  int32_t open(const Headers& headers, std::string body, bool end_stream = true);
  // Exchanges frames until the stream has closed; nullopt after `timeout`
  // (or if the connection closed first).
  std::optional<Response> wait(int32_t stream_id,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the server has closed the connection (EOF) within `timeout`.
  bool wait_for_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Exchanges frames until `condition` holds (true) or `timeout` passes.
  bool pump_until(const std::function<bool()>& condition,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // What the server's flow control still lets this client send on the stream.
  int32_t send_window(int32_t stream_id) const;

 private:
  struct Outgoing {
    std::string body;
    size_t offset = 0;
    bool end_stream = true;
  };

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                       void* user_data);
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                     void* user_data);
  static int on_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data);
  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  bool send_all();
  // Reads once, waiting up to `timeout`; false on EOF or error.
  bool receive(std::chrono::milliseconds timeout);

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Response> responses_;
  std::map<int32_t, std::unique_ptr<Outgoing>> outgoing_;
  bool eof_ = false;
};

}  // namespace meridian::rpc::testing
