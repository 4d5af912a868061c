// `meridian dev`: a local cluster for a first run and for demos. Starts N child
// processes of this same binary (`meridian start` with loopback addresses and
// the ports of commands.h), streams their output line by line with a [nodeN]
// prefix, and on SIGINT/SIGTERM stops them gracefully (SIGTERM, then SIGKILL
// after kStopTimeout). A child that dies on its own is reported and not
// restarted; the others keep running.
//
// One thread. SIGINT, SIGTERM and SIGCHLD are blocked and read from a signalfd,
// polled together with the children's output pipes. Each child runs in its own
// process group, so that Ctrl-C on the terminal reaches only this supervisor,
// which then stops the nodes in order, and it gets SIGTERM if the supervisor
// dies (PR_SET_PDEATHSIG), so that no node outlives it.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/strings.h"
#include "cmd/commands.h"

namespace meridian::cmd {
namespace {

using base::cat;
using Clock = std::chrono::steady_clock;

// How long stopping nodes may take before they are killed: a graceful stop
// waits up to shutdown-transfer-timeout-ms (5 s by default) for leadership to
// move, then closes the journal; three times that is generous.
constexpr auto kStopTimeout = std::chrono::seconds(15);
// A line longer than this is printed in pieces, so that a child that never
// writes a newline cannot make the supervisor buffer without bound.
constexpr size_t kLineBytesMax = 64u << 10;
// After the last child is reaped, how long to keep draining pipes that a
// grandchild might still hold open.
constexpr int kDrainMs = 1000;

struct Child {
  int index = 0;  // 1-based node id
  pid_t pid = -1;
  int out_fd = -1;      // read end of its stdout+stderr pipe; -1 once at EOF
  std::string partial;  // output after the last newline
  bool exited = false;
};

// Writes all of `text` to stdout, retrying short writes.
void emit(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout is gone; nothing better to do with the output
    text.remove_prefix(static_cast<size_t>(n));
  }
}

void say(std::string_view line) { emit(cat("[dev] ", line, "\n")); }

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? cat("SIG", abbrev) : cat("signal ", sig);
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return cat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return cat("killed by ", signal_name(WTERMSIG(status)));
  }
  return cat("status ", status);
}

// --fresh: removes the data dir, but only if it holds nothing except node-N
// directories, so that a mistyped --data-dir cannot wipe anything else.
bool wipe_data_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool node_dir = entry.is_directory() && name.rfind("node-", 0) == 0 && name.size() > 5 &&
                          name.find_first_not_of("0123456789", 5) == std::string::npos;
    if (!node_dir) {
      say(cat("--fresh: not wiping ", dir.string(), ": it holds '", name,
              "', which meridian dev did not make"));
      return false;
    }
  }
  if (ec) {
    say(cat("--fresh: cannot list ", dir.string(), ": ", ec.message()));
    return false;
  }
  fs::remove_all(dir, ec);
  if (ec) {
    say(cat("--fresh: cannot remove ", dir.string(), ": ", ec.message()));
    return false;
  }
  say(cat("wiped ", dir.string()));
  return true;
}

class Supervisor {
 public:
  Supervisor(std::string exe, std::filesystem::path data_dir, int nodes)
      : exe_(std::move(exe)), data_dir_(std::move(data_dir)), nodes_(nodes) {}

  // Blocks the signals, starts the children and supervises them; returns the
  // exit code.
  int run();

 private:
  std::vector<std::string> child_args(int i) const;
  bool spawn(Child& child);
  void print_endpoints() const;
  void on_signal();
  void reap();
  void read_output(Child& child);
  void stop_children(int sig);
  bool all_exited() const;

  std::string exe_;
  std::filesystem::path data_dir_;
  int nodes_;
  std::vector<Child> children_;
  int signal_fd_ = -1;
  bool stopping_ = false;
  bool killed_ = false;  // SIGKILL already sent
  Clock::time_point kill_at_;
};

std::vector<std::string> Supervisor::child_args(int i) const {
  std::string cluster;
  for (int n = 1; n <= nodes_; ++n) {
    cluster += cat(n > 1 ? "," : "", n, "=127.0.0.1:", dev_peer_port(n));
  }
  return {exe_,
          "start",
          "--node-id",
          std::to_string(i),
          "--data-dir",
          (data_dir_ / cat("node-", i)).string(),
          "--initial-cluster",
          cluster,
          "--cluster-token",
          "meridian-dev",
          "--listen-client",
          cat("127.0.0.1:", dev_client_port(i)),
          "--listen-peer",
          cat("127.0.0.1:", dev_peer_port(i)),
          "--listen-admin",
          cat("127.0.0.1:", dev_admin_port(i))};
}

bool Supervisor::spawn(Child& child) {
  const std::vector<std::string> args = child_args(child.index);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    say(cat("cannot make a pipe for node", child.index, ": ", std::strerror(errno)));
    return false;
  }
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    say(cat("cannot start node", child.index, ": fork: ", std::strerror(errno)));
    ::close(fds[0]);
    ::close(fds[1]);
    if (dev_null >= 0) ::close(dev_null);
    return false;
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the supervisor died already
    if (dev_null >= 0) ::dup2(dev_null, STDIN_FILENO);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    static constexpr char kMessage[] = "meridian dev: exec of the meridian binary failed\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  ::close(fds[1]);
  if (dev_null >= 0) ::close(dev_null);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  child.pid = pid;
  child.out_fd = fds[0];
  return true;
}

void Supervisor::print_endpoints() const {
  say(cat("meridian dev: ", nodes_, " node", nodes_ > 1 ? "s" : "", " on loopback, data in ",
          data_dir_.string()));
  std::string endpoints;
  std::string client_endpoints;
  for (int i = 1; i <= nodes_; ++i) {
    say(cat("  node", i, "  client (etcd API) 127.0.0.1:", dev_client_port(i),
            "  admin http://127.0.0.1:", dev_admin_port(i), "  peer 127.0.0.1:", dev_peer_port(i),
            "  data ", (data_dir_ / cat("node-", i)).string()));
    endpoints += cat(i > 1 ? "," : "", "127.0.0.1:", dev_admin_port(i));
    client_endpoints += cat(i > 1 ? "," : "", "127.0.0.1:", dev_client_port(i));
  }
  say("try:");
  say(cat("  etcdctl --endpoints ", client_endpoints, " put hello world"));
  say(cat("  etcdctl --endpoints 127.0.0.1:", dev_client_port(nodes_), " get hello -w json"));
  say("  curl localhost:2381/v1/status");
  say(cat("  ", exe_, " status --endpoints ", endpoints));
  say("Ctrl-C stops every node (gracefully; a second Ctrl-C kills them).");
}

bool Supervisor::all_exited() const {
  for (const Child& c : children_) {
    if (!c.exited) return false;
  }
  return true;
}

void Supervisor::stop_children(int sig) {
  for (const Child& c : children_) {
    if (!c.exited) ::kill(c.pid, sig);
  }
}

void Supervisor::reap() {
  for (Child& c : children_) {
    if (c.exited) continue;
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r != c.pid) continue;
    c.exited = true;
    if (stopping_) {
      say(cat("node", c.index, " stopped (", describe_exit(status), ")"));
    } else {
      say(cat("node", c.index, " exited unexpectedly (", describe_exit(status),
              "); not restarting it", all_exited() ? "" : ", the others keep running"));
    }
  }
}

void Supervisor::on_signal() {
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      reap();
      continue;
    }
    if (!stopping_) {
      stopping_ = true;
      kill_at_ = Clock::now() + kStopTimeout;
      say(cat(signal_name(sig), ": stopping the nodes (SIGTERM; SIGKILL after ",
              kStopTimeout.count(), " s)"));
      stop_children(SIGTERM);
    } else if (!killed_) {
      killed_ = true;
      say(cat(signal_name(sig), " again: killing the nodes (SIGKILL)"));
      stop_children(SIGKILL);
    }
  }
}

void Supervisor::read_output(Child& child) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(child.out_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {  // EOF (or an error, which ends this pipe the same way)
      if (!child.partial.empty()) emit(cat("[node", child.index, "] ", child.partial, "\n"));
      child.partial.clear();
      ::close(child.out_fd);
      child.out_fd = -1;
      return;
    }
    child.partial.append(buf, static_cast<size_t>(n));
    std::string lines;
    size_t start = 0;
    for (size_t nl; (nl = child.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      lines += cat("[node", child.index, "] ",
                   std::string_view(child.partial).substr(start, nl + 1 - start));
    }
    child.partial.erase(0, start);
    if (child.partial.size() > kLineBytesMax) {
      lines += cat("[node", child.index, "] ", child.partial, "\n");
      child.partial.clear();
    }
    emit(lines);
  }
}

int Supervisor::run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal_fd_ = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    say(cat("signalfd: ", std::strerror(errno)));
    return kExitFailure;
  }

  print_endpoints();
  for (int i = 1; i <= nodes_; ++i) {
    Child child;
    child.index = i;
    if (!spawn(child)) {
      stopping_ = true;  // stop whichever did start
      kill_at_ = Clock::now() + kStopTimeout;
      stop_children(SIGTERM);
      break;
    }
    children_.push_back(std::move(child));
  }
  const bool spawn_failed = stopping_;

  for (;;) {
    const bool exited = all_exited();
    std::vector<pollfd> fds = {{signal_fd_, POLLIN, 0}};
    std::vector<Child*> owners = {nullptr};
    for (Child& c : children_) {
      if (c.out_fd >= 0) {
        fds.push_back({c.out_fd, POLLIN, 0});
        owners.push_back(&c);
      }
    }
    if (exited && fds.size() == 1) break;
    int timeout_ms = -1;
    if (exited) {
      timeout_ms = kDrainMs;
    } else if (stopping_ && !killed_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(kill_at_ - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      say(cat("poll: ", std::strerror(errno)));
      stop_children(SIGKILL);
      return kExitFailure;
    }
    if (ready == 0 && exited) break;  // drained long enough
    for (size_t i = 0; i < fds.size() && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (owners[i] == nullptr) {
        on_signal();
      } else {
        read_output(*owners[i]);
      }
    }
    if (stopping_ && !killed_ && !all_exited() && Clock::now() >= kill_at_) {
      killed_ = true;
      say(cat("nodes still running after ", kStopTimeout.count(), " s: SIGKILL"));
      stop_children(SIGKILL);
    }
  }
  ::close(signal_fd_);
  if (spawn_failed) return kExitFailure;
  if (!stopping_) {
    say("every node has exited");
    return kExitFailure;
  }
  say("stopped");
  return kExitOk;
}

}  // namespace

int run_dev(const std::vector<std::string>& args) {
  CLI::App app(
      "Runs a local cluster on loopback, for a first run and for demos: N child processes of\n"
      "this binary running `meridian start`. Node i has client port (the etcd API) 2379,\n"
      "22379, 32379, ..., peer port 2380, 22380, 32380, ... and admin port 2381, 22381,\n"
      "32381, ... Their output is prefixed [node1], [node2], ... Ctrl-C (SIGINT)\n"
      "or SIGTERM stops them gracefully; a node that exits on its own is reported and not\n"
      "restarted. Other settings of the nodes can be given as MERIDIAN_* environment\n"
      "variables (meridian start --help lists them), e.g. MERIDIAN_LOG_LEVEL=debug.\n",
      "meridian dev");
  std::string data_dir = "./meridian-dev";
  bool fresh = false;
  int nodes = 3;
  app.add_option("--data-dir", data_dir, "Directory of the nodes' data dirs (node-1, ...)")
      ->capture_default_str();
  app.add_flag("--fresh", fresh, "Wipe the data dir first (a new cluster)");
  app.add_option("--nodes", nodes, "Number of nodes")
      ->capture_default_str()
      ->check(CLI::Range(1, kDevNodesMax));
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    say(cat("cannot find this binary (/proc/self/exe): ", ec.message()));
    return kExitFailure;
  }
  if (fresh && !wipe_data_dir(data_dir)) return kExitFailure;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    say(cat("cannot create ", data_dir, ": ", ec.message()));
    return kExitFailure;
  }
  return Supervisor(exe.string(), data_dir, nodes).run();
}

}  // namespace meridian::cmd
