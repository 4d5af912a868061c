// Makes the Range RPC's request and response (gRPC's callback API lets a
// service own them), so that the service learns when gRPC frees an answer: a
// large one is tens of thousands of small allocations (a string per key and
// value), and glibc keeps what they took in its arenas after they are freed.
// After a large answer is freed, `on_large_freed` runs; the KV service then has
// that memory handed back to the kernel (base::release_free_memory), so that a
// Range over a million keys leaves the node no larger than before it.
//
// Threads: AllocateMessages and the holders' Release run on gRPC's threads.
#pragma once

#include <grpcpp/support/message_allocator.h>

#include <cstdint>
#include <functional>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"

namespace meridian::api {

class RangeAllocator final
    : public grpc::MessageAllocator<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse> {
 public:
  // `on_large_freed` runs right after an answer whose keys and values came to
  // at least `large_bytes` is freed, on the thread that freed it.
  RangeAllocator(uint64_t large_bytes, std::function<void()> on_large_freed);

  grpc::MessageHolder<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>* AllocateMessages()
      override;

 private:
  class Holder;

  const uint64_t large_bytes_;
  const std::function<void()> on_large_freed_;
};

// The bytes of the keys and values of an answer (what its allocations hold).
uint64_t answer_bytes(const etcdserverpb::RangeResponse& resp);

}  // namespace meridian::api
