// `meridian member add --peer-urls URL --endpoints HOST:PORT[,...] [--voter]
// [--auto-promote] [--wait SECONDS]`: etcd's MemberAdd through the etcd API,
// with Meridian's own option (beyond etcd): --auto-promote asks the leader to
// promote the new learner by itself once it has caught up
// (api/member_changes.h, kAutoPromoteField), where etcd's operators run
// `etcdctl member promote` until it stops refusing. It prints the new
// member's id and the `meridian start` flags that make it join; with --wait it
// then shows the new member's progress until it is a voter.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "api/member_changes.h"
#include "api/peer_directory.h"
#include "base/strings.h"
#include "cmd/commands.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace meridian::cmd {

namespace {

namespace pb = ::etcdserverpb;
constexpr auto kCallTimeout = std::chrono::seconds(10);

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = list.find(',', start);
    const std::string part =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Calls `method` on each endpoint in turn until one answers (not UNAVAILABLE).
template <class Request, class Response, class Method>
grpc::Status call_any(const std::vector<std::string>& endpoints, Method method, const Request& req,
                      Response* resp) {
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no endpoint given");
  for (const std::string& ep : endpoints) {
    auto stub = pb::Cluster::NewStub(grpc::CreateChannel(ep, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    last = ((*stub).*method)(&ctx, req, resp);
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
        last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last;
    }
  }
  return last;
}

// Waits until member `id` is a voter, printing how long it has waited.
int wait_promoted(const std::vector<std::string>& endpoints, uint64_t id, int seconds) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  int shown = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    pb::MemberListResponse list;
    const grpc::Status s =
        call_any(endpoints, &pb::Cluster::Stub::MemberList, pb::MemberListRequest(), &list);
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s.ok()) {
      for (const pb::Member& m : list.members()) {
        if (m.id() != id) continue;
        if (!m.islearner()) {
          std::fprintf(stderr, "\nmember %llu is a voter (after %.1f s)\n",
                       static_cast<unsigned long long>(id), waited);
          return kExitOk;
        }
        if (static_cast<int>(waited) != shown) {
          shown = static_cast<int>(waited);
          std::fprintf(stderr, "\rmember %llu: %s, catching up (%d s)",
                       static_cast<unsigned long long>(id),
                       m.name().empty() ? "not started yet" : "learner", shown);
          std::fflush(stderr);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::fprintf(stderr, "\nmember %llu is still a learner after %d s\n",
               static_cast<unsigned long long>(id), seconds);
  return kExitFailure;
}

int add(const std::vector<std::string>& endpoints, const std::vector<std::string>& peer_urls,
        bool voter, bool auto_promote, int wait_seconds) {
  for (const std::string& u : peer_urls) {
    if (!api::peer_address(u)) {
      std::fprintf(stderr, "meridian member add: '%s' is not http(s)://host:port\n", u.c_str());
      return kExitUsage;
    }
  }
  pb::MemberAddRequest req;
  for (const std::string& u : peer_urls) req.add_peerurls(u);
  req.set_islearner(!voter);
  if (auto_promote) api::set_auto_promote(&req);
  pb::MemberAddResponse resp;
  const grpc::Status s = call_any(endpoints, &pb::Cluster::Stub::MemberAdd, req, &resp);
  if (!s.ok()) {
    std::fprintf(stderr, "meridian member add: %s\n", s.error_message().c_str());
    return kExitFailure;
  }
  const uint64_t id = resp.member().id();
  std::string initial;
  for (const pb::Member& m : resp.members()) {
    const std::string url = m.peerurls_size() > 0 ? m.peerurls(0) : "";
    if (auto address = api::peer_address(url)) {
      initial += base::cat(initial.empty() ? "" : ",", m.id(), "=", *address);
    }
  }
  std::printf("member %llu added as a %s%s\n", static_cast<unsigned long long>(id),
              voter ? "voter" : "learner",
              auto_promote && !voter ? ", to be promoted once it has caught up" : "");
  std::printf(
      "start it with:\n  meridian start --node-id %llu --initial-cluster-state existing "
      "--initial-cluster %s --listen-peer %s\n",
      static_cast<unsigned long long>(id), initial.c_str(),
      api::peer_address(peer_urls.front())->c_str());
  std::fflush(stdout);
  if (wait_seconds > 0 && !voter) return wait_promoted(endpoints, id, wait_seconds);
  return kExitOk;
}

}  // namespace

int run_member(const std::vector<std::string>& args) {
  CLI::App app(
      "Changes the cluster's membership through the etcd API (etcdctl member does the "
      "same, without Meridian's own options).",
      "meridian member");
  app.require_subcommand(1);
  CLI::App* add_cmd = app.add_subcommand(
      "add", "Adds a member (a learner unless --voter), then prints how to start it.");
  std::string endpoints = "127.0.0.1:2379";
  std::string peer_urls;
  bool voter = false;
  bool auto_promote = false;
  int wait_seconds = 0;
  add_cmd->add_option("--endpoints", endpoints, "etcd API endpoints, comma-separated")
      ->capture_default_str();
  add_cmd->add_option("--peer-urls", peer_urls, "The new member's peer URLs, comma-separated")
      ->required();
  add_cmd->add_flag("--voter", voter, "Add it as a voter at once, not as a learner");
  add_cmd->add_flag("--auto-promote", auto_promote,
                    "The leader promotes the learner by itself once it has caught up");
  add_cmd
      ->add_option("--wait", wait_seconds,
                   "Then wait up to this many seconds for it to become a voter, showing "
                   "its progress")
      ->check(CLI::Range(0, 86400));
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return add(split(endpoints), split(peer_urls), voter, auto_promote, wait_seconds);
}

}  // namespace meridian::cmd
