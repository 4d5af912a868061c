// OpQueue: how answers reach the I/O thread. Handlers finish calls and stream
// reactors write from any thread; each such action becomes an Op pushed here,
// and the queue posts one drain to the io_context per batch: the first push
// after a drain posts, the pushes that follow before the drain runs only
// append. So answers finished together cost one post (one wake-up of the I/O
// thread), and the drain applies them all before any connection writes (each
// connection flushes once afterwards, see H2Connection::schedule_flush).
//
// One queue per server. Bounded by the calls that are open: a unary call
// pushes at most one Op, and a stream has at most one read, one write and
// its finish (or cancel) outstanding.
//
// After close() (at stop()), pushes are dropped without touching the
// io_context, so answers given after stop() are harmless even once the
// io_context is gone.
//
// Threads: push() from any thread; close() and the drain on the I/O thread.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "rpc/call.h"

namespace meridian::rpc {

class OpQueue : public std::enable_shared_from_this<OpQueue> {
 public:
  explicit OpQueue(boost::asio::io_context& io) : io_(io) {}

  // Any thread. Dropped (false) once the queue is closed.
  bool push(Op op);
  // I/O thread: refuses further pushes and applies what is queued now.
  void close();

 private:
  void drain();

  boost::asio::io_context& io_;
  std::mutex mu_;
  std::vector<Op> ops_;        // guarded by mu_
  bool drain_posted_ = false;  // guarded by mu_
  bool closed_ = false;        // guarded by mu_
  std::vector<Op> draining_;   // I/O thread only; kept for its capacity
};

}  // namespace meridian::rpc
