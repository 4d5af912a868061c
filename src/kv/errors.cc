#include "kv/errors.h"

namespace meridian::kv {

const char* errc_message(Errc e) {
  switch (e) {
    case Errc::kOk:
      return "";
    case Errc::kCompacted:
      return "etcdserver: mvcc: required revision has been compacted";
    case Errc::kFutureRevision:
      return "etcdserver: mvcc: required revision is a future revision";
    case Errc::kEmptyKey:
      return "etcdserver: key is not provided";
    case Errc::kValueProvided:
      return "etcdserver: value is provided";
    case Errc::kLeaseProvided:
      return "etcdserver: lease is provided";
    case Errc::kTooManyOps:
      return "etcdserver: too many operations in txn request";
    case Errc::kDuplicateKey:
      return "etcdserver: duplicate key given in txn request";
    case Errc::kRequestTooLarge:
      return "etcdserver: request is too large";
    case Errc::kKeyNotFound:
      return "etcdserver: key not found";
    case Errc::kLeaseNotFound:
      return "etcdserver: requested lease not found";
    case Errc::kLeaseExists:
      return "etcdserver: lease already exists";
    case Errc::kLeaseTtlTooLarge:
      return "etcdserver: too large lease TTL";
    case Errc::kNoSpace:
      return "etcdserver: mvcc: database space exceeded";
    case Errc::kCorrupt:
      return "etcdserver: corrupt command or record";
  }
  return "etcdserver: unknown error";
}

}  // namespace meridian::kv
