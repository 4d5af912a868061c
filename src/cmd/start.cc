// `meridian start`: runs one node until SIGTERM or SIGINT.
//
// Threads: SIGTERM and SIGINT are blocked before any thread starts, so every
// thread inherits the mask and the signals are only ever taken by sigtimedwait on
// the main thread; nothing runs in a signal handler. The node runs its own
// threads; the admin HTTP server runs on one io thread started here.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "admin/http_server.h"
#include "admin/routes.h"
#include "cmd/commands.h"
#include "cmd/options.h"
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

// Waits for SIGTERM/SIGINT; returns the signal, or 0 if the node stopped first.
int wait_for_stop(const sigset_t& signals, const node::Node& node) {
  const timespec period{0, kStopCheckNs};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &period);
    if (sig > 0) return sig;
    if (node.stopped()) return 0;
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

  observe::Registry registry;
  auto started = node::Node::start(options.node, &registry);
  if (!started.is_ok()) {
    observe::log_error("cannot start node {}: {}", options.node.id, started.status().message());
    return kExitFailure;
  }
  std::unique_ptr<node::Node> node = std::move(started).value();

  boost::asio::io_context io;
  admin::HttpServer server(
      admin::HttpServerOptions{.host = options.admin_host, .port = options.admin_port});
  admin::install_routes(&server, node.get(), &registry);
  if (base::Status s = server.start(io); !s.is_ok()) {
    observe::log_error("cannot start the admin endpoint: {}", s.message());
    node->stop();
    return kExitFailure;
  }
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });

  observe::log_info("meridian node {} serving: peer {}{}, admin http://{}", node->id(),
                    address(options.node.listen_peer_host, node->peer_port()),
                    options.node.peer_tls ? " (TLS)" : "",
                    address(options.admin_host, server.port()));

  const int sig = wait_for_stop(signals, *node);
  int code = kExitOk;
  if (sig == 0) {
    observe::log_error("node {} stopped by itself; exiting", node->id());
    code = kExitFailure;
  } else {
    exit_on_second_signal(signals);
    observe::log_info("{}: stopping node {} (leadership moves to another member first)",
                      sig == SIGINT ? "SIGINT" : "SIGTERM", node->id());
  }
  node->stop();
  server.stop();
  work.reset();
  io.stop();
  io_thread.join();
  return code;
}

}  // namespace meridian::cmd
