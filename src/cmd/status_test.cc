#include "cmd/status.h"

#include <atomic>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace meridian::cmd {
namespace {

using boost::asio::ip::tcp;
using nlohmann::json;
using ::testing::HasSubstr;

EndpointStatus answered(std::string endpoint, json doc) {
  EndpointStatus s;
  s.endpoint = std::move(endpoint);
  s.ok = true;
  s.status = std::move(doc);
  return s;
}

EndpointStatus unreachable(std::string endpoint, std::string error) {
  EndpointStatus s;
  s.endpoint = std::move(endpoint);
  s.error = std::move(error);
  return s;
}

TEST(StatusTableTest, OneRowPerEndpointAndGroup) {
  const json doc = json::parse(R"({"id":1,"cluster_id":99,"groups":[
      {"group":1,"role":"leader","leader":1,"term":2,"commit":10,"applied":10,
       "voters":[1,2,3],"learners":[]},
      {"group":2,"role":"follower","leader":3,"term":5,"commit":7,"applied":6,
       "voters":[1,2,3],"learners":[4]}]})");
  const std::string table = format_status_table(
      {answered("127.0.0.1:2381", doc), unreachable("127.0.0.1:22381", "Connection refused")});
  EXPECT_EQ(table,
            "ENDPOINT         NODE  GROUP  ROLE      LEADER  TERM  COMMIT  APPLIED  MEMBERS\n"
            "127.0.0.1:2381   1     1      leader    1       2     10      10       1,2,3\n"
            "127.0.0.1:2381   1     2      follower  3       5     7       6        1,2,3 "
            "(learners 4)\n"
            "127.0.0.1:22381  unreachable: Connection refused\n");
}

TEST(StatusTableTest, ReadsTheNodeAndMembersObjectSpelling) {
  const json doc = json::parse(R"({"node":2,"groups":[{"group":1,"role":"follower","leader":1,
      "term":2,"commit":3,"applied":3,"members":{"voters":[1,2],"learners":[3]}}]})");
  EXPECT_EQ(format_status_table({answered("x:1", doc)}),
            "ENDPOINT  NODE  GROUP  ROLE      LEADER  TERM  COMMIT  APPLIED  MEMBERS\n"
            "x:1       2     1      follower  1       2     3       3        1,2 (learners 3)\n");
}

TEST(StatusTableTest, MissingFieldsPrintAsDashes) {
  const std::string table =
      format_status_table({answered("a:1", json::parse(R"({"groups":[{"group":1}]})")),
                           answered("b:2", json::parse(R"({"id":2})")),
                           answered("c:3", json::parse(R"({"id":3,"groups":"oops"})"))});
  EXPECT_THAT(table, HasSubstr("a:1       -     1      -     -       -     -       -        -\n"));
  EXPECT_THAT(table, HasSubstr("b:2       2     -      -"));
  EXPECT_THAT(table, HasSubstr("c:3       3     -      -"));
}

TEST(StatusJsonTest, AnswersWithEndpointAndErrors) {
  const json out = json::parse(format_status_json(
      {answered("a:1", json::parse(R"({"id":1,"groups":[]})")), unreachable("b:2", "timed out")}));
  ASSERT_TRUE(out.is_array());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["id"], 1);
  EXPECT_EQ(out[0]["endpoint"], "a:1");
  EXPECT_EQ(out[1]["endpoint"], "b:2");
  EXPECT_EQ(out[1]["error"], "timed out");
}

// A one-connection HTTP server on a loopback port: answers the first request
// with `response` (or, if empty, never answers).
class FakeAdmin {
 public:
  explicit FakeAdmin(std::string response)
      : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        response_(std::move(response)) {
    thread_ = std::thread([this] {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) return;
      boost::asio::streambuf request;
      boost::asio::read_until(socket, request, "\r\n\r\n", ec);
      if (ec) return;
      {
        std::istream in(&request);
        std::getline(in, request_line_);
      }
      if (response_.empty()) {
        while (!done_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return;
      }
      boost::asio::write(socket, boost::asio::buffer(response_), ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    });
  }
  ~FakeAdmin() {
    done_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  const std::string& request_line() const { return request_line_; }

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::string response_;
  std::string request_line_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

std::string http_response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// A loopback port with nothing listening: bind one, note it, close it.
std::string closed_endpoint() {
  boost::asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = a.local_endpoint().port();
  a.close();
  return "127.0.0.1:" + std::to_string(port);
}

TEST(FetchStatusesTest, ReadsTheStatusDocument) {
  FakeAdmin admin(http_response(200, R"({"id":2,"groups":[{"group":1,"role":"leader"}]})"));
  const auto out = fetch_statuses({admin.endpoint()}, std::chrono::milliseconds(2000));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].ok) << out[0].error;
  EXPECT_EQ(out[0].status["id"], 2);
  EXPECT_EQ(admin.request_line(), "GET /v1/status HTTP/1.1\r");
}

TEST(FetchStatusesTest, AcceptsAnHttpUrl) {
  FakeAdmin admin(http_response(200, R"({"id":2})"));
  const auto out = fetch_statuses({"http://" + admin.endpoint() + "/"}, std::chrono::seconds(2));
  ASSERT_TRUE(out[0].ok) << out[0].error;
}

TEST(FetchStatusesTest, ErrorsAreReportedPerEndpoint) {
  FakeAdmin failing(http_response(503, "storage failed"));
  FakeAdmin not_json(http_response(200, "hello"));
  const auto out =
      fetch_statuses({failing.endpoint(), not_json.endpoint(), closed_endpoint(), "no-port"},
                     std::chrono::milliseconds(2000));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FALSE(out[0].ok);
  EXPECT_EQ(out[0].error, "HTTP 503: storage failed");
  EXPECT_FALSE(out[1].ok);
  EXPECT_THAT(out[1].error, HasSubstr("not a JSON object"));
  EXPECT_FALSE(out[2].ok);
  EXPECT_THAT(out[2].error, HasSubstr("refused"));
  EXPECT_FALSE(out[3].ok);
  EXPECT_THAT(out[3].error, HasSubstr("host:port"));
}

TEST(FetchStatusesTest, SilentEndpointTimesOut) {
  FakeAdmin silent("");
  const auto start = std::chrono::steady_clock::now();
  const auto out = fetch_statuses({silent.endpoint()}, std::chrono::milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(out[0].ok);
  EXPECT_EQ(out[0].error, "timed out after 300 ms");
  EXPECT_LT(took, std::chrono::seconds(2));
}

}  // namespace
}  // namespace meridian::cmd
