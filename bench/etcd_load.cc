// etcd_load: drives load through etcd's v3 gRPC API (etcd itself or Meridian)
// and prints one "RESULT ..." line; bench/run-etcd runs it against both.
#include <absl/synchronization/mutex.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "bench_util.h"
#include "etcd_load.h"

namespace {

constexpr char kUsage[] =
    "usage: etcd_load --endpoints HOST:PORT[,...] --workload "
    "put|get|get-serializable|txn-cas|watch|fill|range-all|leases|lease-expiry|lock\n"
    "  --conns N          connections (gRPC channels), connection i to endpoint i % n (1)\n"
    "  --clients N        requests outstanding at once, spread over the connections (1)\n"
    "  --threads N        completion-queue threads (2)\n"
    "  --seconds S        measured time (5); --warmup S before it, not counted (1)\n"
    "  --max-ops N        also stop after N measured operations (puts, for watch)\n"
    "  --value-bytes N    value size (256)\n"
    "  --keys N           key space: put/get pick keys at random in it; txn-cas client i\n"
    "                     uses key i % N, so N >= clients means no contention (100000)\n"
    "  --timeout-ms N     deadline of each request (10000)\n"
    "  --key-prefix P     keys are P<8 digits> (default: put/, get/, cas/, fill/, range/,\n"
    "                     lock/)\n"
    "  put|get|txn-cas: --put-rate R paces the clients to R requests/s in all (0: each\n"
    "         as fast as it can); --no-preload: get reads keys that exist already;\n"
    "         --compact-at S: Compact(physical) at the current revision, S seconds into\n"
    "         the measured window, or --defrag-at S: Maintenance.Defragment of the first\n"
    "         endpoint; from a connection of their own; requests sent while it runs are\n"
    "         reported apart (during_p50_us, during_p99_us)\n"
    "  watch: --watchers N (10000) over --streams N (100) on the connections; one writer\n"
    "         puts at --put-rate R per second (0: as fast as it can; 0), then events may\n"
    "         still arrive for --drain S seconds (10); --stalled-streams K more streams\n"
    "         to the first endpoint, each creating --stalled-watchers N (1) watchers on\n"
    "         the prefix and never reading\n"
    "  fill:  puts keys 0..--keys-1 with --value-bytes values, --clients at once, each\n"
    "         txn at most 100 puts and --txn-bytes of values (1048576)\n"
    "  range-all: --ranges N (3) Ranges of the whole prefix without a limit from the\n"
    "         first endpoint (no receive limit), then one pass paging while more=true;\n"
    "         prints a RANGE line for each; --count-only: count_only Ranges, no paging\n"
    "  leases: grants --leases N (10000) of --lease-ttl S seconds (10) from --clients\n"
    "         threads, keeps each alive every S/3 s over --streams N (100) keep-alive\n"
    "         streams, revokes them after; --server-pids P,P,..: the servers' CPU in\n"
    "         the measured window (server_cpu_s, server_cpu_pct)\n"
    "  lease-expiry: grants --leases N of --lease-ttl S, a key on each, no keep-alive;\n"
    "         reports how late each key went after grant sent + S (p50_us, p99_us,\n"
    "         max_late_ms) and how many went early (early)\n"
    "  lock:  each client grants itself a lease (30 s), then loops Lock(name, lease),\n"
    "         Unlock(key); the clients spread over --lock-names N names (1: all contend\n"
    "         for one). ops: acquisitions; p50/p99: Lock sent -> answer; also\n"
    "         unlock_p50_us, unlock_p99_us, and overlaps: Lock answers that came while\n"
    "         another client held the name (must be 0; counted as errors too)\n"
    "Prints: RESULT workload=.. ops=.. ops_per_s=.. p50_us=.. p99_us=.. errors=.. [...]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// Like Flags::get_double but zero is allowed.
double get_non_negative(meridian::bench::Flags& flags, const std::string& name, double fallback) {
  std::string text = flags.get(name, "");
  if (text.empty()) {
    return fallback;
  }
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || v < 0) {
    usage_error("--" + name + " wants a number >= 0, got '" + text + "'");
  }
  return v;
}

meridian::bench::etcd_load::Options parse(int argc, char** argv) {
  meridian::bench::Flags flags(argc, argv);
  if (flags.has("help")) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  meridian::bench::etcd_load::Options o;
  std::istringstream endpoints(flags.get("endpoints", ""));
  for (std::string e; std::getline(endpoints, e, ',');) {
    if (!e.empty()) {
      o.endpoints.push_back(e);
    }
  }
  o.workload = flags.get("workload", "");
  o.conns = flags.get_u64("conns", o.conns);
  o.clients = flags.get_u64("clients", o.clients);
  o.threads = flags.get_u64("threads", o.threads);
  o.seconds = flags.get_double("seconds", o.seconds);
  o.warmup_seconds = get_non_negative(flags, "warmup", o.warmup_seconds);
  o.max_ops = flags.get_u64("max-ops", o.max_ops);
  o.value_bytes = flags.get_u64("value-bytes", o.value_bytes);
  o.keys = flags.get_u64("keys", o.keys);
  o.timeout_ms = flags.get_u64("timeout-ms", o.timeout_ms);
  o.watchers = flags.get_u64("watchers", o.watchers);
  o.streams = flags.get_u64("streams", o.streams);
  o.put_rate = get_non_negative(flags, "put-rate", o.put_rate);
  o.drain_seconds = get_non_negative(flags, "drain", o.drain_seconds);
  o.key_prefix = flags.get("key-prefix", o.key_prefix);
  o.preload = !flags.has("no-preload");
  o.compact_at = get_non_negative(flags, "compact-at", o.compact_at);
  o.defrag_at = get_non_negative(flags, "defrag-at", o.defrag_at);
  o.txn_bytes = flags.get_u64("txn-bytes", o.txn_bytes);
  o.ranges = flags.get_u64("ranges", o.ranges);
  o.count_only = flags.has("count-only");
  o.stalled_streams = flags.get_u64("stalled-streams", o.stalled_streams);
  o.stalled_watchers = flags.get_u64("stalled-watchers", o.stalled_watchers);
  o.leases = flags.get_u64("leases", o.leases);
  o.lease_ttl = flags.get_u64("lease-ttl", o.lease_ttl);
  o.lock_names = flags.get_u64("lock-names", o.lock_names);
  std::istringstream pids(flags.get("server-pids", ""));
  for (std::string p; std::getline(pids, p, ',');) {
    if (!p.empty()) o.server_pids.push_back(std::stoi(p));
  }
  flags.check_all_used(kUsage);

  if (o.endpoints.empty()) usage_error("--endpoints is required");
  const bool known = o.workload == "put" || o.workload == "get" ||
                     o.workload == "get-serializable" || o.workload == "txn-cas" ||
                     o.workload == "watch" || o.workload == "fill" || o.workload == "range-all" ||
                     o.workload == "leases" || o.workload == "lease-expiry" || o.workload == "lock";
  if (!known) usage_error("unknown --workload '" + o.workload + "'");
  if (o.compact_at >= 0 && o.defrag_at >= 0) {
    usage_error("--compact-at and --defrag-at go in separate runs");
  }
  if (o.conns == 0 || o.clients == 0 || o.threads == 0 || o.keys == 0 || o.streams == 0 ||
      o.watchers == 0 || o.timeout_ms == 0 || o.txn_bytes == 0 || o.stalled_watchers == 0 ||
      o.leases == 0 || o.lease_ttl == 0 || o.lock_names == 0) {
    usage_error(
        "--conns, --clients, --threads, --keys, --streams, --watchers, --timeout-ms, "
        "--txn-bytes, --stalled-watchers, --leases, --lease-ttl and --lock-names must be "
        "positive");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  // As the server does (api/etcd_server.cc): no lock-order checking in gRPC's
  // mutexes, so the load generator takes less of the CPU the systems share.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  meridian::bench::etcd_load::Options options = parse(argc, argv);
  meridian::bench::etcd_load::Report report;
  namespace load = meridian::bench::etcd_load;
  bool ok = options.workload == "watch"          ? load::run_watch(options, &report)
            : options.workload == "fill"         ? load::run_fill(options, &report)
            : options.workload == "range-all"    ? load::run_range_all(options, &report)
            : options.workload == "leases"       ? load::run_leases(options, &report)
            : options.workload == "lease-expiry" ? load::run_lease_expiry(options, &report)
            : options.workload == "lock"         ? load::run_lock(options, &report)
                                                 : load::run_unary(options, &report);
  if (!ok) {
    return 1;
  }
  meridian::bench::etcd_load::print_report(options, report);
  return 0;
}
