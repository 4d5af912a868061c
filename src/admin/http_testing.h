// Test support: a small blocking HTTP/1.1 client over a raw socket, for the admin
// tests. It parses only what the server sends (status line, headers, a body of
// Content-Length bytes), so that tests do not depend on the parser under test.
// One thread per client.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace meridian::admin {

struct TestResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& lower_name) const;
  bool keep_alive() const { return header("connection") != "close"; }
};

class TestClient {
 public:
  explicit TestClient(uint16_t port);  // connects to 127.0.0.1:port

  // "METHOD target HTTP/1.1" with Host, Content-Length when there is a body.
  static std::string request_text(const std::string& method, const std::string& target,
                                  const std::string& body = "");

  void send(const std::string& raw);
  // One response; nullopt if the connection closed or broke before a whole one.
  std::optional<TestResponse> read_response();
  std::optional<TestResponse> exchange(const std::string& raw) {
    send(raw);
    return read_response();
  }
  // Reads through the end of the next "\r\n\r\n" (an interim 100 Continue, say).
  std::string read_head();
  // True if the server closes the connection (EOF or reset) before sending more.
  bool closed_by_server();

 private:
  bool fill();  // reads more into buffer_; false on EOF or error

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffer_;
};

}  // namespace meridian::admin
