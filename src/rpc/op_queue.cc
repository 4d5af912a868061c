#include "rpc/op_queue.h"

#include <utility>

#include <boost/asio/post.hpp>

namespace meridian::rpc {

bool OpQueue::push(Op op) {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;  // `op` (and its call reference) is released on return
    ops_.push_back(std::move(op));
    post = !drain_posted_;
    drain_posted_ = true;
  }
  if (post) boost::asio::post(io_, [self = shared_from_this()] { self->drain(); });
  return true;
}

void OpQueue::drain() {
  {
    std::lock_guard lock(mu_);
    drain_posted_ = false;
    draining_.swap(ops_);
  }
  for (Op& op : draining_) op.call->apply(op);
  draining_.clear();
}

void OpQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  drain();  // a drain already posted finds nothing
}

}  // namespace meridian::rpc
