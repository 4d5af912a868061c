// `meridian start`: runs one node until SIGTERM or SIGINT.
//
// Threads: SIGTERM and SIGINT are blocked before any thread starts, so every
// thread inherits the mask and the signals are only ever taken by sigtimedwait on
// the main thread; nothing runs in a signal handler. The node runs its own
// threads; the admin HTTP server runs on one io thread started here; the etcd
// API runs on its own I/O thread (etcd-api) and read pool.
//
// The coordination group (1) replicates etcd's key-value store, kept in RocksDB
// under <data-dir>/kv; any other group keeps the node's default state machine.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "admin/http_server.h"
#include "admin/routes.h"
#include "api/etcd_server.h"
#include "base/strings.h"
#include "base/thread_name.h"
#include "cmd/commands.h"
#include "cmd/options.h"
#include "kv/kv_state_machine.h"
#include "kv/mvcc_store.h"
#include "node/map_state_machine.h"
#include "node/node.h"
#include "observe/log.h"
#include "observe/metrics.h"

namespace meridian::cmd {
namespace {

// How often the main thread, while waiting for a signal, checks whether the node
// stopped by itself (a failed disk, say): often enough that the process does not
// linger for long as a zombie server, rarely enough to cost nothing.
constexpr long kStopCheckNs = 500'000'000;

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Waits for SIGTERM/SIGINT; returns the signal, 0 if the node stopped first, or
// -1 if it was removed from the cluster (as etcd does, it then stops).
int wait_for_stop(const sigset_t& signals, const node::Node& node) {
  const timespec period{0, kStopCheckNs};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &period);
    if (sig > 0) return sig;
    if (node.stopped()) return 0;
    if (node.removed()) return -1;
  }
}

// After the first signal, a second one ends the process at once: an operator
// who presses Ctrl-C twice wants out, transfer or not.
void exit_on_second_signal(sigset_t signals) {
  std::thread([signals] {
    int sig = 0;
    if (sigwait(&signals, &sig) == 0) {
      observe::log_warn("{} again: exiting without finishing the graceful stop",
                        sig == SIGINT ? "SIGINT" : "SIGTERM");
      std::_Exit(kExitFailure);
    }
  }).detach();
}

std::string address(const std::string& host, uint16_t port) {
  return host.find(':') == std::string::npos ? host + ":" + std::to_string(port)
                                             : "[" + host + "]:" + std::to_string(port);
}

constexpr GroupId kCoordinationGroup{1};

// Makes the state machine of each group; group 1's is a KvStateMachine whose
// store is opened here before the node starts, so that a store that cannot open
// (permissions, another process holding it) stops the start-up with its reason.
// The node asks for group 1's machine twice when it bootstraps (once for the
// initial snapshot, then the machine it runs), so a later call opens the store
// again after the earlier machine closed it. Called on the main thread, inside
// Node::start.
class StateMachines {
 public:
  explicit StateMachines(kv::StoreOptions options) : options_(std::move(options)) {}

  base::Status open() {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(options_.dir).parent_path(), ec);
    if (ec) return base::Status(base::Code::kIoError, base::cat(options_.dir, ": ", ec.message()));
    auto store = kv::MvccStore::open(options_);
    if (!store.is_ok()) return store.status();
    opened_ = std::move(store).value();
    return base::Status::ok();
  }

  std::unique_ptr<node::StateMachine> make(GroupId group) {
    if (group != kCoordinationGroup) return std::make_unique<node::MapStateMachine>();
    std::unique_ptr<kv::MvccStore> store = std::move(opened_);
    if (!store) {
      auto reopened = kv::MvccStore::open(options_);
      if (!reopened.is_ok()) {
        // The factory cannot fail: the store opened a moment ago, so this is a
        // broken disk or a bug, and there is no node to stop yet.
        observe::log_error("cannot open the key-value store {}: {}", options_.dir,
                           reopened.status().message());
        std::_Exit(kExitFailure);
      }
      store = std::move(reopened).value();
    }
    auto machine = std::make_unique<kv::KvStateMachine>(std::move(store));
    current_ = machine.get();
    return machine;
  }

  // The machine the node runs (the last one made).
  kv::KvStateMachine* current() const { return current_; }

 private:
  kv::StoreOptions options_;
  std::unique_ptr<kv::MvccStore> opened_;
  kv::KvStateMachine* current_ = nullptr;
};

}  // namespace

int run_start(const std::vector<std::string>& args) {
  auto parsed = parse_start_options(args, process_environment(), read_text_file);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "meridian start: %s\n", parsed.status().message().c_str());
    return kExitUsage;
  }
  if (parsed.value().help) {
    std::fputs(start_help().c_str(), stdout);
    return kExitOk;
  }
  const StartOptions& options = parsed.value().options;

  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  observe::init_logging(options.log);

  kv::StoreOptions store_options = options.kv_store;
  store_options.dir = (std::filesystem::path(options.node.data_dir) / "kv").string();
  StateMachines machines(store_options);
  if (base::Status s = machines.open(); !s.is_ok()) {
    observe::log_error("cannot open the key-value store {}: {}", store_options.dir, s.message());
    return kExitFailure;
  }
  node::NodeOptions node_options = options.node;
  node_options.state_machine_factory = [&machines](GroupId g) { return machines.make(g); };

  observe::Registry registry;
  auto started = node::Node::start(node_options, &registry);
  if (!started.is_ok()) {
    observe::log_error("cannot start node {}: {}", options.node.id, started.status().message());
    return kExitFailure;
  }
  std::unique_ptr<node::Node> node = std::move(started).value();

  const api::EtcdBackend backend{
      .node = node.get(),
      .group = kCoordinationGroup,
      .kv = machines.current(),
      .cluster_id = node::cluster_id_for_token(options.node.cluster_token),
      .member_id = node->id().value(),
  };
  api::EtcdServerOptions client_options = options.client;
  client_options.server_version = kVersion;
  client_options.member_name = base::cat("node", options.node.id.value());
  const char* peer_scheme = options.node.peer_tls ? "https://" : "http://";
  for (const auto& [id, address] : options.node.initial_cluster) {
    client_options.initial_peer_urls[id.value()] = base::cat(peer_scheme, address);
  }
  if (auto self = client_options.initial_peer_urls.find(options.node.id.value());
      self != client_options.initial_peer_urls.end()) {
    client_options.peer_urls.push_back(self->second);
  }
  client_options.election_timeout_ms =
      options.node.tick_ms * static_cast<uint32_t>(options.node.election_ticks);
  auto etcd_started = api::EtcdServer::start(client_options, backend, &registry);
  if (!etcd_started.is_ok()) {
    observe::log_error("cannot start the etcd API: {}", etcd_started.status().message());
    node->stop();
    return kExitFailure;
  }
  std::unique_ptr<api::EtcdServer> etcd = std::move(etcd_started).value();

  boost::asio::io_context io;
  admin::HttpServer server(
      admin::HttpServerOptions{.host = options.admin_host, .port = options.admin_port});
  admin::install_routes(&server, node.get(), &registry);
  if (base::Status s = server.start(io); !s.is_ok()) {
    observe::log_error("cannot start the admin endpoint: {}", s.message());
    etcd->stop();
    node->stop();
    return kExitFailure;
  }
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] {
    base::set_thread_name("admin-http");
    io.run();
  });

  observe::log_info("meridian node {} serving: client {}, peer {}{}, admin http://{}", node->id(),
                    address(options.client.listen_host, etcd->port()),
                    address(options.node.listen_peer_host, node->peer_port()),
                    options.node.peer_tls ? " (TLS)" : "",
                    address(options.admin_host, server.port()));

  const int sig = wait_for_stop(signals, *node);
  int code = kExitOk;
  if (sig == 0) {
    observe::log_error("node {} stopped by itself; exiting", node->id());
    code = kExitFailure;
  } else if (sig < 0) {
    observe::log_warn("node {} was removed from the cluster; stopping", node->id());
  } else {
    exit_on_second_signal(signals);
    observe::log_info("{}: stopping node {} (leadership moves to another member first)",
                      sig == SIGINT ? "SIGINT" : "SIGTERM", node->id());
  }
  // The etcd API first: requests still waiting on the node are answered "server
  // stopped" (clients move to another member) before the node hands over.
  etcd->stop();
  node->stop();
  server.stop();
  work.reset();
  io.stop();
  io_thread.join();
  return code;
}

}  // namespace meridian::cmd
