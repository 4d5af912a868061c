// Metrics in the Prometheus text exposition format (version 0.0.4), rendered by
// the admin endpoint's /metrics.
//
// Two kinds of source:
//   - instruments the code updates as things happen: Counter (monotonic), Gauge
//     (a value that goes up and down) and Histogram (cumulative buckets, sum,
//     count), each a family name plus fixed label values, registered once and
//     then updated lock-free (atomics) from any thread;
//   - collectors: functions called at scrape time that report current values
//     (per-group Raft state, queue depths, process memory) from wherever the
//     owner publishes them, so that hot paths keep no extra counters.
//
// Names follow Prometheus conventions: meridian_<layer>_<what>[_unit][_total].
// Threads: registration and rendering take an internal mutex; instruments are
// updated from any thread without it. Instruments live as long as the Registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace meridian::observe {

// Label name/value pairs, e.g. {{"group", "1"}, {"peer", "2"}}; rendered in this order.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // `bounds`: ascending upper bounds of the buckets (the +Inf bucket is implied).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (size bounds + 1)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, then +Inf; not cumulative
  std::atomic<double> sum_{0};
  // No separate count: snapshot() sums the buckets, so that _count always equals
  // the +Inf bucket even while other threads observe.
};

// Exponential bucket bounds: start, start*factor, ... (count of them).
std::vector<double> exponential_buckets(double start, double factor, int count);

// What a collector reports at scrape time.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void gauge(const std::string& name, const std::string& help, const Labels& labels,
                     double value) = 0;
  virtual void counter(const std::string& name, const std::string& help, const Labels& labels,
                       double value) = 0;
};

class Registry {
 public:
  Registry();  // out of line, as is the destructor: Family is defined in metrics.cc
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The same name and labels twice return the same instrument; the same name with
  // a different kind (or a different help text) is a programming error (asserted).
  Counter* counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       const Labels& labels = {});

  // Called at every render(), on the rendering thread, under the registry's lock:
  // a collector must not call back into the registry. Returns an id for
  // remove_collector, after which the function is never called again. Several
  // collectors (and instruments) may report samples of one family; a sample
  // name+labels reported twice keeps the last value.
  using CollectFn = std::function<void(Collector&)>;
  uint64_t add_collector(CollectFn fn);
  void remove_collector(uint64_t id);

  // Every family (instruments and collected), sorted by name, with one # HELP and
  // # TYPE line each; label values escaped as the format requires.
  std::string render() const;

 private:
  struct Family;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::map<uint64_t, CollectFn> collectors_;
  uint64_t next_collector_ = 1;
};

// Resident set size of this process in bytes (from /proc/self/statm; 0 if unknown).
uint64_t process_rss_bytes();

}  // namespace meridian::observe
