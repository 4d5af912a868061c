#include "cmd/status.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <utility>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cmd/commands.h"
#include "node/node_options.h"

namespace meridian::cmd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;
using nlohmann::json;

// A status document is a few hundred bytes per group; this allows thousands of
// groups and still bounds what a wrong endpoint can make us buffer.
constexpr uint64_t kBodyBytesMax = 16u << 20;
// An error body quoted in the table is cut to this many characters.
constexpr size_t kErrorBodyChars = 200;

// One GET /v1/status, start to finish on the io_context; writes into *out.
class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  Fetch(boost::asio::io_context& io, EndpointStatus* out, std::chrono::milliseconds timeout)
      : resolver_(io), stream_(io), out_(out), timeout_(timeout) {}

  void start() {
    std::string_view target = out_->endpoint;
    if (target.rfind("http://", 0) == 0) target.remove_prefix(7);
    while (!target.empty() && target.back() == '/') target.remove_suffix(1);
    auto hp = node::parse_host_port(target);
    if (!hp.is_ok()) return fail(hp.status().message());
    host_ = std::string(target);
    resolver_.async_resolve(
        hp.value().first, std::to_string(hp.value().second),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          self->on_resolve(ec, std::move(results));
        });
  }

 private:
  void fail(const std::string& why) {
    out_->ok = false;
    out_->error = why;
  }
  void fail(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      return fail("timed out after " + std::to_string(timeout_.count()) + " ms");
    }
    fail(ec.message());
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail(ec);
    stream_.expires_after(timeout_);  // one deadline for connect, write and read
    stream_.async_connect(results,
                          [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                            self->on_connect(ec);
                          });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail(ec);
    request_ = http::request<http::empty_body>(http::verb::get, "/v1/status", 11);
    request_.set(http::field::host, host_);
    request_.set(http::field::user_agent, "meridian-status");
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    if (ec) return fail(ec);
    parser_.body_limit(kBodyBytesMax);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail(ec);
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    const auto& response = parser_.get();
    if (response.result() != http::status::ok) {
      std::string body = response.body().substr(0, kErrorBodyChars);
      std::replace(body.begin(), body.end(), '\n', ' ');
      return fail("HTTP " + std::to_string(response.result_int()) + ": " + body);
    }
    json doc = json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return fail("the answer is not a JSON object");
    out_->ok = true;
    out_->error.clear();
    out_->status = std::move(doc);
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response_parser<http::string_body> parser_;
  std::string host_;
  EndpointStatus* out_;
  std::chrono::milliseconds timeout_;
};

std::string field(const json& object, const char* name) {
  if (!object.is_object()) return "-";
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string join_ids(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const json& id : list)
    out += (out.empty() ? "" : ",") + (id.is_string() ? id.get<std::string>() : id.dump());
  return out;
}

// The member lists sit in the group object or in its "members" object.
std::string members(const json& group) {
  const json& holder =
      group.contains("members") && group["members"].is_object() ? group["members"] : group;
  std::string voters = join_ids(holder.value("voters", json()));
  const std::string learners = join_ids(holder.value("learners", json()));
  if (voters.empty()) voters = "-";
  return learners.empty() ? voters : voters + " (learners " + learners + ")";
}

// The node id is "id" or "node".
std::string node_id(const json& status) {
  std::string id = field(status, "id");
  return id == "-" ? field(status, "node") : id;
}

}  // namespace

std::vector<EndpointStatus> fetch_statuses(const std::vector<std::string>& endpoints,
                                           std::chrono::milliseconds timeout) {
  std::vector<EndpointStatus> out(endpoints.size());
  boost::asio::io_context io;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    out[i].endpoint = endpoints[i];
    out[i].error = "timed out after " + std::to_string(timeout.count()) + " ms";
    std::make_shared<Fetch>(io, &out[i], timeout)->start();
  }
  // The streams' deadlines bound connect, write and read; this bounds the rest
  // (name resolution) so that the command always returns in about `timeout`.
  io.run_for(timeout + std::chrono::milliseconds(200));
  return out;
}

std::string format_status_table(const std::vector<EndpointStatus>& statuses) {
  using Row = std::vector<std::string>;
  std::vector<Row> rows = {
      {"ENDPOINT", "NODE", "GROUP", "ROLE", "LEADER", "TERM", "COMMIT", "APPLIED", "MEMBERS"}};
  std::vector<std::pair<std::string, std::string>> unreachable;  // printed after the table
  for (const EndpointStatus& s : statuses) {
    if (!s.ok) {
      rows.push_back({s.endpoint, "unreachable: " + s.error});
      continue;
    }
    const std::string id = node_id(s.status);
    const json groups = s.status.value("groups", json::array());
    if (!groups.is_array() || groups.empty()) {
      rows.push_back({s.endpoint, id, "-", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    for (const json& g : groups) {
      rows.push_back({s.endpoint, id, field(g, "group"), field(g, "role"), field(g, "leader"),
                      field(g, "term"), field(g, "commit"), field(g, "applied"), members(g)});
    }
  }
  // Column widths from full rows only; an unreachable row's message runs on.
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const Row& row : rows) {
    if (row.size() != widths.size()) {
      widths[0] = std::max(widths[0], row[0].size());
      continue;
    }
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::ostringstream out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  return out.str();
}

std::string format_status_json(const std::vector<EndpointStatus>& statuses) {
  json out = json::array();
  for (const EndpointStatus& s : statuses) {
    json item;
    if (s.ok) {
      item = s.status;
      item["endpoint"] = s.endpoint;
    } else {
      item = json{{"endpoint", s.endpoint}, {"error", s.error}};
    }
    out.push_back(std::move(item));
  }
  return out.dump(2) + "\n";
}

int run_status(const std::vector<std::string>& args) {
  std::string default_endpoints;
  for (int i = 1; i <= 3; ++i) {
    default_endpoints +=
        (i > 1 ? "," : "") + std::string("127.0.0.1:") + std::to_string(dev_admin_port(i));
  }
  CLI::App app(
      "Prints the status of nodes from their admin endpoints (GET /v1/status), one row per\n"
      "node and group: role, leader, term, commit and applied indexes, members. Exits 0 if\n"
      "at least one endpoint answered, else 1.\n",
      "meridian status");
  std::string endpoints = default_endpoints;
  bool as_json = false;
  int64_t timeout_ms = 2000;
  app.add_option("--endpoints", endpoints, "Admin endpoints (host:port), comma-separated")
      ->capture_default_str();
  app.add_flag("--json", as_json,
               "Print the answers as a JSON array (with an \"endpoint\" field; "
               "\"error\" if none)");
  app.add_option("--timeout-ms", timeout_ms, "Deadline for each endpoint's answer")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{600000}));
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  std::vector<std::string> list;
  std::stringstream in(endpoints);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) list.push_back(item);
  }
  if (list.empty()) {
    std::fprintf(stderr, "meridian status: --endpoints is empty\n");
    return kExitUsage;
  }
  const auto statuses = fetch_statuses(list, std::chrono::milliseconds(timeout_ms));
  const std::string text = as_json ? format_status_json(statuses) : format_status_table(statuses);
  std::fputs(text.c_str(), stdout);
  const bool any =
      std::any_of(statuses.begin(), statuses.end(), [](const EndpointStatus& s) { return s.ok; });
  return any ? kExitOk : kExitFailure;
}

}  // namespace meridian::cmd
