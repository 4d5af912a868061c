// meridian-sim: runs deterministic cluster simulations over a range of seeds.
//
//   meridian-sim --seeds 1:10000 --faults all [--bug NAME] [--jobs N]
//   meridian-sim --seed 42 --faults crash,disk --trace
//
// meridian-sim-planted is the same program over the planted-bug build of the
// Raft core (raft/config.h PlantedBug); only it accepts --bug.
//
// Each seed is an independent run (see sim/simulation.h). Progress is printed
// every kProgressEvery seeds, then a summary; every failing seed is listed with
// the command that replays it. Exit status: 0 all passed, 1 a seed failed, 2 usage.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim/simulation.h"

namespace {

using meridian::sim::FaultSet;
using meridian::sim::SimOptions;
using meridian::sim::SimResult;

constexpr uint64_t kProgressEvery = 500;     // seeds between progress lines (~10-20 s)
constexpr unsigned kJobsMax = 64;            // more threads than this is a typo
constexpr uint64_t kFaultSecondsMax = 3600;  // an hour of virtual faults is already huge

struct Args {
  uint64_t first = 1;
  uint64_t last = 1;
  SimOptions options;
  unsigned jobs = 1;
  bool verbose = false;
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: meridian-sim [--seeds A:B | --seed N] [--faults all|LIST] [--bug NAME]\n"
               "                    [--adversarial] [--no-protocol-rules] [--fault-seconds S]\n"
               "                    [--trace] [--jobs N] [--verbose]\n"
               "  LIST: drop,dup,delay,partition,oneway,crash,disk,membership,snapshot\n"
               "  NAME: none, commit-old-term, vote-without-log-check, ack-before-persist,\n"
               "        read-index-without-quorum, coalesce-rejections\n"
               "        (meridian-sim-planted only)\n");
}

int usage(const char* why) {
  std::fprintf(stderr, "meridian-sim: %s\n", why);
  print_usage(stderr);
  return 2;
}

bool parse_u64(const char* s, uint64_t& v) {
  char* end = nullptr;
  v = std::strtoull(s, &end, 10);
  return end != s && *end == '\0';
}

bool parse_seeds(const std::string& s, Args& a) {
  const size_t colon = s.find(':');
  if (colon == std::string::npos) {
    if (!parse_u64(s.c_str(), a.first)) return false;
    a.last = a.first;
    return true;
  }
  return parse_u64(s.substr(0, colon).c_str(), a.first) &&
         parse_u64(s.substr(colon + 1).c_str(), a.last) && a.first <= a.last;
}

// Returns 0 on success, else the exit status of a usage error.
int parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--trace") {
      a.options.trace_live = true;
    } else if (arg == "--verbose") {
      a.verbose = true;
    } else if (arg == "--fault-seconds" && has_value) {
      uint64_t secs = 0;
      if (!parse_u64(argv[++i], secs) || secs == 0 || secs > kFaultSecondsMax) {
        return usage("bad --fault-seconds");
      }
      a.options.fault_duration_us = secs * meridian::sim::kMicrosPerSecond;
    } else if (arg == "--help" || arg == "-h") {
      print_usage(stdout);
      std::exit(0);
    } else if (arg == "--adversarial") {
      a.options.adversarial = true;
    } else if (arg == "--no-protocol-rules") {
      a.options.check_protocol_rules = false;
    } else if ((arg == "--seeds" || arg == "--seed") && has_value) {
      if (!parse_seeds(argv[++i], a)) return usage("bad seed range");
    } else if (arg == "--faults" && has_value) {
      auto f = FaultSet::parse(argv[++i]);
      if (!f.is_ok()) return usage(f.status().message().c_str());
      a.options.faults = f.value();
    } else if (arg == "--bug" && has_value) {
      if (!meridian::sim::parse_planted_bug(argv[++i], a.options.planted_bug)) {
        return usage("unknown planted bug");
      }
#ifndef MERIDIAN_PLANTED_BUGS
      if (a.options.planted_bug != meridian::raft::PlantedBug::kNone) {
        return usage("this build has no planted bugs; use meridian-sim-planted");
      }
#endif
    } else if (arg == "--jobs" && has_value) {
      uint64_t j = 0;
      if (!parse_u64(argv[++i], j) || j == 0 || j > kJobsMax) return usage("bad --jobs");
      a.jobs = static_cast<unsigned>(j);
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  return 0;
}

std::string replay_command(const Args& a, uint64_t seed) {
  std::string cmd =
      "meridian-sim --seed " + std::to_string(seed) + " --faults " + a.options.faults.to_string();
  if (a.options.planted_bug != meridian::raft::PlantedBug::kNone) {
    cmd = "meridian-sim-planted" + cmd.substr(cmd.find(' '));
    cmd += std::string(" --bug ") + meridian::sim::planted_bug_name(a.options.planted_bug);
  }
  if (a.options.adversarial) cmd += " --adversarial";
  if (!a.options.check_protocol_rules) cmd += " --no-protocol-rules";
  const SimOptions defaults;
  if (a.options.fault_duration_us != defaults.fault_duration_us) {
    cmd += " --fault-seconds " +
           std::to_string(a.options.fault_duration_us / meridian::sim::kMicrosPerSecond);
  }
  return cmd + " --trace";
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (int rc = parse_args(argc, argv, a); rc != 0) return rc;
  const uint64_t count = a.last - a.first + 1;
  std::vector<SimResult> results(count);
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::mutex print_mu;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed_s = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  auto worker = [&] {
    for (uint64_t k = next++; k < count; k = next++) {
      SimOptions o = a.options;
      o.seed = a.first + k;
      results[k] = meridian::sim::run_simulation(o);
      const uint64_t n = ++done;
      std::lock_guard<std::mutex> lock(print_mu);
      if (a.verbose || count == 1) {
        const SimResult& r = results[k];
        std::printf("seed %llu: %s (%llu events, %llu/%llu ops ok, check %llu steps%s) %s\n",
                    static_cast<unsigned long long>(o.seed), r.ok ? "ok" : "FAIL",
                    static_cast<unsigned long long>(r.events),
                    static_cast<unsigned long long>(r.ops_completed),
                    static_cast<unsigned long long>(r.ops_total),
                    static_cast<unsigned long long>(r.history_check_steps),
                    r.history_check_timed_out ? " TIMED OUT" : "", r.summary.c_str());
      }
      if (!results[k].ok) {
        std::printf("FAIL seed %llu: %s\n", static_cast<unsigned long long>(o.seed),
                    results[k].failure.c_str());
      }
      if (n % kProgressEvery == 0) {
        std::printf("progress: %llu/%llu seeds, %.1f s\n", static_cast<unsigned long long>(n),
                    static_cast<unsigned long long>(count), elapsed_s());
      }
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 1; j < a.jobs; ++j) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();

  uint64_t failures = 0;
  uint64_t check_timeouts = 0;
  for (const SimResult& r : results) check_timeouts += r.history_check_timed_out ? 1 : 0;
  for (uint64_t k = 0; k < count; ++k) {
    if (results[k].ok) continue;
    if (failures++ == 0 && !a.options.trace_live) {
      std::printf("\n--- trace of seed %llu (last lines) ---\n%s--- end of trace ---\n",
                  static_cast<unsigned long long>(a.first + k), results[k].trace.c_str());
    }
  }
  for (uint64_t k = 0; k < count; ++k) {
    if (results[k].ok) continue;
    std::printf("failed seed %llu (%s); replay: %s\n", static_cast<unsigned long long>(a.first + k),
                results[k].invariant.c_str(), replay_command(a, a.first + k).c_str());
  }
  SimResult storage;  // only the storage counters, summed
  for (const SimResult& r : results) {
    storage.recoveries += r.recoveries;
    storage.torn_crashes += r.torn_crashes;
    storage.snapshots_written += r.snapshots_written;
    storage.segments_removed += r.segments_removed;
    storage.journal_writes += r.journal_writes;
  }
  std::printf(
      "storage: %llu journal writes, %llu recoveries, %llu torn-write crashes, %llu snapshots "
      "written, %llu segments collected\n",
      static_cast<unsigned long long>(storage.journal_writes),
      static_cast<unsigned long long>(storage.recoveries),
      static_cast<unsigned long long>(storage.torn_crashes),
      static_cast<unsigned long long>(storage.snapshots_written),
      static_cast<unsigned long long>(storage.segments_removed));
  const double secs = elapsed_s();
  std::printf(
      "summary: %llu seeds, %llu failures, %.1f s, %.1f seeds/s, %llu history checks timed out "
      "(faults=%s bug=%s)\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(failures), secs,
      secs > 0 ? static_cast<double>(count) / secs : 0.0,
      static_cast<unsigned long long>(check_timeouts), a.options.faults.to_string().c_str(),
      meridian::sim::planted_bug_name(a.options.planted_bug));
  return failures == 0 ? 0 : 1;
}
