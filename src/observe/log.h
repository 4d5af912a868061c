// Structured logs for the whole process, on spdlog. Every line carries the node id
// and, where the event concerns one Raft group, the group id, so that the logs of
// a three-node `meridian dev` (interleaved on one terminal) and of many groups on
// one node can be told apart and filtered.
//
// Two formats, chosen at start-up: human ("2026-11-21T10:00:00.123 INFO  node=1
// group=1 became leader term=3") and JSON, one object per line ({"ts":...,
// "level":"info","node":1,"group":1,"msg":"became leader term=3"}), with the
// message escaped so that every line parses.
//
// Timestamps are UTC with milliseconds (JSON adds the "Z"). A message is one line:
// in the human format a newline or carriage return inside it is written as \n or
// \r; in JSON it is escaped like every control character, and bytes that are not
// valid UTF-8 become U+FFFD, so that every line parses.
//
// Threads: any thread may log at any time after init(); lines are written whole.
// Before init() (and in unit tests) lines go to stderr in the human format with
// node=0.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/ids.h"
#include "base/status.h"

namespace meridian::observe {

enum class LogFormat : uint8_t { kHuman = 0, kJson = 1 };
enum class LogLevel : uint8_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct LogOptions {
  LogFormat format = LogFormat::kHuman;
  LogLevel level = LogLevel::kInfo;
  uint64_t node_id = 0;
};

// Parses "human"/"json" and "debug"/"info"/"warn"/"error"; kInvalidArgument otherwise.
base::Result<LogFormat> parse_log_format(std::string_view s);
base::Result<LogLevel> parse_log_level(std::string_view s);

// Sets the process-wide format, level and node id. May be called again (tests).
void init_logging(const LogOptions& options);

// Writes one line (if `level` is enabled); `group` empty for node-wide events.
void log_line(LogLevel level, std::optional<GroupId> group, std::string_view message);
bool log_enabled(LogLevel level);

// Tests: while set, every line goes to `capture` (without its newline) instead of
// stderr; an empty function restores stderr. Called under no lock of ours, from
// the logging thread.
void set_log_capture_for_testing(std::function<void(std::string_view line)> capture);

// Formatting front ends: log_info("listening on {}", addr); glog_warn(g, "...").
template <class... Args>
void log_at(LogLevel level, std::optional<GroupId> group, fmt::format_string<Args...> f,
            Args&&... args) {
  if (!log_enabled(level)) return;
  log_line(level, group, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kDebug, std::nullopt, f, std::forward<Args>(args)...);
}
template <class... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kInfo, std::nullopt, f, std::forward<Args>(args)...);
}
template <class... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kWarn, std::nullopt, f, std::forward<Args>(args)...);
}
template <class... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kError, std::nullopt, f, std::forward<Args>(args)...);
}
template <class... Args>
void glog_info(GroupId g, fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kInfo, g, f, std::forward<Args>(args)...);
}
template <class... Args>
void glog_warn(GroupId g, fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kWarn, g, f, std::forward<Args>(args)...);
}
template <class... Args>
void glog_debug(GroupId g, fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::kDebug, g, f, std::forward<Args>(args)...);
}

}  // namespace meridian::observe

// Ids (terms, indexes, node and group ids) format as their numbers.
template <class Tag>
struct fmt::formatter<meridian::base::StrongInt<Tag>> : fmt::formatter<uint64_t> {
  template <class Context>
  auto format(meridian::base::StrongInt<Tag> v, Context& ctx) const {
    return fmt::formatter<uint64_t>::format(v.value(), ctx);
  }
};
