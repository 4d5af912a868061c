#include "admin/http_testing.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/asio/write.hpp>

namespace meridian::admin {

namespace asio = boost::asio;

std::string TestResponse::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

TestClient::TestClient(uint16_t port) : socket_(io_) {
  socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}

std::string TestClient::request_text(const std::string& method, const std::string& target,
                                     const std::string& body) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: test\r\n";
  if (!body.empty() || method == "PUT" || method == "POST") {
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

void TestClient::send(const std::string& raw) { asio::write(socket_, asio::buffer(raw)); }

bool TestClient::fill() {
  char chunk[4096];
  boost::system::error_code ec;
  const size_t n = socket_.read_some(asio::buffer(chunk), ec);
  if (ec) return false;
  buffer_.append(chunk, n);
  return true;
}

std::string TestClient::read_head() {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return "";
  }
  std::string head = buffer_.substr(0, end + 4);
  buffer_.erase(0, end + 4);
  return head;
}

std::optional<TestResponse> TestClient::read_response() {
  const std::string head = read_head();
  if (head.empty()) return std::nullopt;
  TestResponse res;
  // "HTTP/1.1 200 OK\r\n"
  const size_t sp = head.find(' ');
  if (sp == std::string::npos) return std::nullopt;
  std::from_chars(head.data() + sp + 1, head.data() + head.size(), res.status);
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size() - 2) {
    const size_t eol = head.find("\r\n", pos);
    const std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    res.headers[name] = line.substr(v);
  }
  size_t length = 0;
  const std::string cl = res.header("content-length");
  std::from_chars(cl.data(), cl.data() + cl.size(), length);
  while (buffer_.size() < length) {
    if (!fill()) return std::nullopt;
  }
  res.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return res;
}

bool TestClient::closed_by_server() {
  char c;
  boost::system::error_code ec;
  socket_.read_some(asio::buffer(&c, 1), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

}  // namespace meridian::admin
