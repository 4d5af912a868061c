// The errors of the etcd API that the key-value layer can produce, with the
// exact messages etcd's servers send (clients match on them: etcdctl prints
// them, client libraries turn "required revision has been compacted" into a
// typed error). api/ maps each to etcd's gRPC status code.
#pragma once

#include <cstdint>

namespace meridian::kv {

enum class Errc : uint8_t {
  kOk = 0,
  kCompacted,        // OutOfRange  "etcdserver: mvcc: required revision has been compacted"
  kFutureRevision,   // OutOfRange  "etcdserver: mvcc: required revision is a future revision"
  kEmptyKey,         // InvalidArgument "etcdserver: key is not provided"
  kValueProvided,    // InvalidArgument "etcdserver: value is provided"
  kLeaseProvided,    // InvalidArgument "etcdserver: lease is provided"
  kTooManyOps,       // InvalidArgument "etcdserver: too many operations in txn request"
  kDuplicateKey,     // InvalidArgument "etcdserver: duplicate key given in txn request"
  kRequestTooLarge,  // InvalidArgument "etcdserver: request is too large"
  kKeyNotFound,  // InvalidArgument "etcdserver: key not found" (put ignore_value/lease on a missing
                 // key)
  kLeaseNotFound,     // NotFound "etcdserver: requested lease not found"
  kLeaseExists,       // FailedPrecondition "etcdserver: lease already exists"
  kLeaseTtlTooLarge,  // OutOfRange "etcdserver: too large lease TTL"
  kNoSpace,           // ResourceExhausted "etcdserver: mvcc: database space exceeded"
  kCorrupt,           // DataLoss: a command or stored record does not decode (a bug)
};

// etcd's message for the error ("" for kOk).
const char* errc_message(Errc e);

}  // namespace meridian::kv
