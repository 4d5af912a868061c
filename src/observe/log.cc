#include "observe/log.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <utility>

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace meridian::observe {
namespace {

// The process-wide log configuration. The level is read on every log call
// (log_enabled), so it lives in an atomic outside the lock.
std::atomic<uint8_t> g_level{static_cast<uint8_t>(LogLevel::kInfo)};

struct LogState {
  std::mutex mu;
  LogFormat format = LogFormat::kHuman;  // guarded by mu
  uint64_t node_id = 0;                  // guarded by mu
  // Unformatted lines ("%v"): we build the whole line ourselves, spdlog's
  // stderr sink writes it whole (the _mt sink holds its own mutex per line).
  std::shared_ptr<spdlog::logger> logger;         // guarded by mu
  std::function<void(std::string_view)> capture;  // guarded by mu
};

// Never destroyed: threads that outlive main() (or static destructors) may still log.
LogState& state() {
  static LogState* s = [] {
    auto* st = new LogState();
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    st->logger = std::make_shared<spdlog::logger>("meridian", std::move(sink));
    st->logger->set_pattern("%v");
    st->logger->set_level(spdlog::level::trace);  // filtering is ours (g_level)
    st->logger->flush_on(spdlog::level::trace);   // the supervisor reads lines as they come
    return st;
  }();
  return *s;
}

const char* level_upper(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

const char* level_lower(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

// "2026-11-21T10:00:00.123" in UTC.
std::string timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

bool is_continuation(unsigned char c) { return c >= 0x80 && c <= 0xBF; }

// Length of the well-formed UTF-8 sequence starting at s[i] (a non-ASCII lead
// byte), or 0 if it is not one (RFC 3629 section 4: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto at = [&](size_t k) -> unsigned char {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const unsigned char c = at(0);
  if (c >= 0xC2 && c <= 0xDF) return is_continuation(at(1)) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    if (at(1) < lo || at(1) > hi) return 0;
    return is_continuation(at(2)) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    if (at(1) < lo || at(1) > hi) return 0;
    return is_continuation(at(2)) && is_continuation(at(3)) ? 4 : 0;
  }
  return 0;
}

// Appends `s` as a JSON string (RFC 8259 section 7).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

// Appends `s` with line breaks made visible, so that one event stays one line.
void append_one_line(std::string& out, std::string_view s) {
  for (const char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
}

std::string format_line(LogFormat format, uint64_t node_id, LogLevel level,
                        std::optional<GroupId> group, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 64);
  if (format == LogFormat::kJson) {
    line += "{\"ts\":\"";
    line += timestamp_now();
    line += "Z\",\"level\":\"";
    line += level_lower(level);
    line += fmt::format("\",\"node\":{}", node_id);
    if (group) line += fmt::format(",\"group\":{}", group->value());
    line += ",\"msg\":";
    append_json_string(line, message);
    line += '}';
    return line;
  }
  line += fmt::format("{} {:<5} node={} ", timestamp_now(), level_upper(level), node_id);
  if (group) line += fmt::format("group={} ", group->value());
  append_one_line(line, message);
  return line;
}

}  // namespace

base::Result<LogFormat> parse_log_format(std::string_view s) {
  if (s == "human") return LogFormat::kHuman;
  if (s == "json") return LogFormat::kJson;
  return base::Status(base::Code::kInvalidArgument,
                      fmt::format("log format '{}' is not human or json", s));
}

base::Result<LogLevel> parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return base::Status(base::Code::kInvalidArgument,
                      fmt::format("log level '{}' is not debug, info, warn or error", s));
}

void init_logging(const LogOptions& options) {
  LogState& st = state();
  std::lock_guard lock(st.mu);
  st.format = options.format;
  st.node_id = options.node_id;
  g_level.store(static_cast<uint8_t>(options.level), std::memory_order_relaxed);
}

bool log_enabled(LogLevel level) {
  return static_cast<uint8_t>(level) >= g_level.load(std::memory_order_relaxed);
}

void log_line(LogLevel level, std::optional<GroupId> group, std::string_view message) {
  if (!log_enabled(level)) return;
  LogState& st = state();
  LogFormat format;
  uint64_t node_id;
  std::shared_ptr<spdlog::logger> logger;
  std::function<void(std::string_view)> capture;
  {
    std::lock_guard lock(st.mu);
    format = st.format;
    node_id = st.node_id;
    logger = st.logger;
    capture = st.capture;
  }
  const std::string line = format_line(format, node_id, level, group, message);
  if (capture) {
    capture(line);
    return;
  }
  logger->log(spdlog_level(level), spdlog::string_view_t(line.data(), line.size()));
}

void set_log_capture_for_testing(std::function<void(std::string_view line)> capture) {
  LogState& st = state();
  std::lock_guard lock(st.mu);
  st.capture = std::move(capture);
}

}  // namespace meridian::observe
