#include "observe/log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

// Header-only; observe_tests links only meridian_observe, and the system include
// path has it.
#include <nlohmann/json.hpp>

namespace meridian::observe {
namespace {

// Captures every line while alive and restores the defaults after.
class LogCapture {
 public:
  explicit LogCapture(const LogOptions& options) {
    init_logging(options);
    set_log_capture_for_testing([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() {
    set_log_capture_for_testing({});
    init_logging(LogOptions{});
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

using TestTerm = base::StrongInt<struct TestTermTag>;

// True if `s` is shaped like `shape`, where '9' stands for any digit (no
// std::regex: GCC 12 warns inside it under the sanitizers).
bool shaped_like(std::string_view s, std::string_view shape) {
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool ok = shape[i] == '9' ? (s[i] >= '0' && s[i] <= '9') : s[i] == shape[i];
    if (!ok) return false;
  }
  return true;
}
constexpr std::string_view kTimeShape = "9999-99-99T99:99:99.999";

TEST(Log, ParsesFormatsAndLevels) {
  EXPECT_EQ(parse_log_format("human").value(), LogFormat::kHuman);
  EXPECT_EQ(parse_log_format("json").value(), LogFormat::kJson);
  EXPECT_EQ(parse_log_format("xml").status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(parse_log_level("debug").value(), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("info").value(), LogLevel::kInfo);
  EXPECT_EQ(parse_log_level("warn").value(), LogLevel::kWarn);
  EXPECT_EQ(parse_log_level("error").value(), LogLevel::kError);
  EXPECT_EQ(parse_log_level("loud").status().code(), base::Code::kInvalidArgument);
}

TEST(Log, HumanLinesCarryTimeLevelNodeAndGroup) {
  LogCapture cap({.format = LogFormat::kHuman, .level = LogLevel::kInfo, .node_id = 1});
  glog_info(GroupId(7), "became leader term={}", TestTerm(3));
  log_warn("disk {} full", "/data");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(shaped_like(lines[0].substr(0, 24), std::string(kTimeShape) + " ")) << lines[0];
  EXPECT_EQ(lines[0].substr(24), "INFO  node=1 group=7 became leader term=3");
  EXPECT_EQ(lines[1].substr(24), "WARN  node=1 disk /data full");
}

TEST(Log, HumanLinesKeepOneEventOnOneLine) {
  LogCapture cap({.format = LogFormat::kHuman, .level = LogLevel::kInfo, .node_id = 2});
  log_error("two\nlines\r");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].substr(24), "ERROR node=2 two\\nlines\\r");
}

TEST(Log, LevelFilteringDropsLowerLevels) {
  LogCapture cap({.format = LogFormat::kHuman, .level = LogLevel::kWarn, .node_id = 1});
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  EXPECT_TRUE(log_enabled(LogLevel::kWarn));
  log_debug("no");
  log_info("no");
  glog_debug(GroupId(1), "no");
  log_warn("yes");
  log_error("yes");
  EXPECT_EQ(cap.lines().size(), 2u);
}

TEST(Log, JsonLinesParseAndIncludeGroupOnlyWhenGiven) {
  LogCapture cap({.format = LogFormat::kJson, .level = LogLevel::kDebug, .node_id = 3});
  glog_debug(GroupId(5), "snapshot at {}", 10);
  log_info("plain");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 2u);
  const auto a = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(a["level"], "debug");
  EXPECT_EQ(a["node"], 3);
  EXPECT_EQ(a["group"], 5);
  EXPECT_EQ(a["msg"], "snapshot at 10");
  const std::string ts = a["ts"];
  EXPECT_TRUE(shaped_like(ts, std::string(kTimeShape) + "Z")) << ts;
  const auto b = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(b["level"], "info");
  EXPECT_FALSE(b.contains("group"));
  // Key order is part of the format (people read these too).
  EXPECT_EQ(lines[1].find("{\"ts\":\""), 0u);
  EXPECT_NE(lines[1].find("\",\"level\":\"info\",\"node\":3,\"msg\":\"plain\"}"), std::string::npos)
      << lines[1];
}

TEST(Log, JsonEscapesEveryAwkwardMessage) {
  LogCapture cap({.format = LogFormat::kJson, .level = LogLevel::kInfo, .node_id = 1});
  const std::string nasty =
      std::string("quote\" back\\ nl\n tab\t cr\r bell\x07 nul") + std::string(1, '\0') + " é €";
  log_info("{}", nasty);
  log_info("bad utf8 \xff\xc3 end");
  log_info("{}", "\xed\xa0\x80 surrogate");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["msg"], nasty);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["msg"], "bad utf8 \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(nlohmann::json::parse(lines[2])["msg"],
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate");
}

TEST(Log, ManyThreadsWriteWholeLines) {
  LogCapture cap({.format = LogFormat::kJson, .level = LogLevel::kInfo, .node_id = 1});
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLinesPerThread; ++i) glog_info(GroupId(t), "line {} of {}", i, t);
    });
  }
  for (auto& th : threads) th.join();
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesPerThread));
  for (const auto& line : lines) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST(Log, WritesToStderrWithoutCapture) {
  init_logging(LogOptions{});
  testing::internal::CaptureStderr();
  log_info("to stderr {}", 1);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("INFO  node=0 to stderr 1\n"), std::string::npos) << err;
}

}  // namespace
}  // namespace meridian::observe
