// EventQueue: the simulator's discrete-event scheduler over virtual time.
//
// Virtual time is an integer count of microseconds since the start of a run
// (SimTime); nothing reads a real clock. Events run in order of time and, for
// equal times, of scheduling (a global insertion sequence number), so the run is
// a pure function of the seed. Owned by the Cluster; single-threaded.
//
// Invariants: time never goes backwards (scheduling in the past is a harness bug
// and asserted); at most kPendingMax events are pending.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/strong_int.h"

namespace meridian::sim {

struct SimTimeTag;
// Microseconds of virtual time since the start of the run.
using SimTime = base::StrongInt<SimTimeTag>;

inline constexpr uint64_t kMicrosPerMilli = 1000;
inline constexpr uint64_t kMicrosPerSecond = 1000 * 1000;

class EventQueue {
 public:
  using Fn = std::function<void()>;

  // A run schedules a few events per node and per message in flight; a million
  // pending means a runaway loop (e.g. a message storm), not a legitimate run.
  static constexpr size_t kPendingMax = 1'000'000;

  SimTime now() const { return now_; }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // Time of the next event; the queue must not be empty.
  SimTime next_time() const {
    MERIDIAN_ASSERT(!heap_.empty(), "next_time of an empty event queue");
    return heap_.front().at;
  }

  void at(SimTime t, Fn fn) {
    MERIDIAN_ASSERT(t >= now_, "event scheduled in the past: ", t, " < ", now_);
    MERIDIAN_ASSERT(heap_.size() < kPendingMax, "event queue overflow: ", heap_.size());
    heap_.push_back(Event{t, next_seq_++, std::move(fn)});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  void after(uint64_t delay_us, Fn fn) { at(now_ + delay_us, std::move(fn)); }

  // Runs the earliest event, advancing now() to its time. The queue must not be empty.
  void run_next() {
    MERIDIAN_ASSERT(!heap_.empty(), "run_next on an empty event queue");
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event e = std::move(heap_.back());
    heap_.pop_back();
    now_ = e.at;
    e.fn();
  }

 private:
  struct Event {
    SimTime at;
    uint64_t seq;
    Fn fn;
  };
  // std::*_heap keep the "largest" first; an event is larger when it is earlier.
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      if (a.at != b.at) return a.at > b.at;
      return a.seq > b.seq;
    }
  };

  SimTime now_;
  uint64_t next_seq_ = 0;
  std::vector<Event> heap_;
};

}  // namespace meridian::sim
