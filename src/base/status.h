// Status and Result<T>: expected failures as values. No exception crosses a
// module boundary in Meridian; a function that can fail for a reason the caller
// must handle (not leader, compacted, unavailable, disk full) returns one of these.
// Value types; any thread.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace meridian::base {

enum class Code : uint8_t {
  kOk = 0,
  kInvalidArgument,  // the request is malformed; nothing changed
  kNotLeader,        // this replica cannot serve it; retry at the leader
  kProposalDropped,  // the proposal was not appended (no leader, transfer in progress, ...)
  kCompacted,        // the requested log position was compacted away
  kUnavailable,      // the data is not (yet) available, e.g. a snapshot being built
  kCorruption,       // stored or received data failed a check
  kIoError,          // the operating system reported an I/O error
  kNoSpace,          // the disk is full
  kNotFound,
  kFailedPrecondition,
};

const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

  friend std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.to_string(); }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design, like std::expected
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    MERIDIAN_ASSERT(!std::get<Status>(v_).is_ok(), "a Result holding a Status must hold an error");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    MERIDIAN_ASSERT(!is_ok(), "status() of a Result that holds a value");
    return std::get<Status>(v_);
  }
  T& value() & {
    MERIDIAN_ASSERT(is_ok(), "value() of a failed Result: ", std::get<Status>(v_));
    return std::get<T>(v_);
  }
  const T& value() const& {
    MERIDIAN_ASSERT(is_ok(), "value() of a failed Result: ", std::get<Status>(v_));
    return std::get<T>(v_);
  }
  T&& value() && {
    MERIDIAN_ASSERT(is_ok(), "value() of a failed Result: ", std::get<Status>(v_));
    return std::get<T>(std::move(v_));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace meridian::base
