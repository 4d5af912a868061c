#include "api/range_allocator.h"

#include <utility>

namespace meridian::api {

class RangeAllocator::Holder final
    : public grpc::MessageHolder<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse> {
 public:
  explicit Holder(const RangeAllocator* owner) : owner_(owner) {
    set_request(&request_);
    set_response(&response_);
  }

  void Release() override {
    const bool large = answer_bytes(response_) >= owner_->large_bytes_;
    const RangeAllocator* owner = owner_;
    delete this;  // the answer's memory is free from here on
    if (large) owner->on_large_freed_();
  }

 private:
  const RangeAllocator* const owner_;
  etcdserverpb::RangeRequest request_;
  etcdserverpb::RangeResponse response_;
};

RangeAllocator::RangeAllocator(uint64_t large_bytes, std::function<void()> on_large_freed)
    : large_bytes_(large_bytes), on_large_freed_(std::move(on_large_freed)) {}

grpc::MessageHolder<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>*
RangeAllocator::AllocateMessages() {
  return new Holder(this);
}

uint64_t answer_bytes(const etcdserverpb::RangeResponse& resp) {
  uint64_t bytes = 0;
  for (const mvccpb::KeyValue& kv : resp.kvs()) bytes += kv.key().size() + kv.value().size();
  return bytes;
}

}  // namespace meridian::api
