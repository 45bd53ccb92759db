// LogBuffer: one JSON object per line, {"level","event",<fields as strings>[,number]}, drained
// joined by '\n', and bounded while nobody drains it.
#include "support/log_buffer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace router {
namespace {

using nlohmann::json;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

TEST(LogBuffer, StartsEmptyAndDrainsToTheEmptyString) {
  LogBuffer logs;
  EXPECT_EQ(logs.size(), 0u);
  EXPECT_EQ(logs.drain(), "");
}

TEST(LogBuffer, ALineIsLevelThenEventThenTheFieldsInOrderAsStrings) {
  LogBuffer logs;
  logs.add("warn", "backend_ejected", {{"backend", "BACKEND_A"}, {"reason", "timeout"}});
  EXPECT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs.drain(), R"({"level":"warn","event":"backend_ejected","backend":"BACKEND_A","reason":"timeout"})");
}

TEST(LogBuffer, AddWithoutFieldsHasOnlyLevelAndEvent) {
  LogBuffer logs;
  logs.add("info", "configured");
  EXPECT_EQ(logs.drain(), R"({"level":"info","event":"configured"})");
}

TEST(LogBuffer, AddNumberPutsTheNumberLastAsAJsonNumber) {
  LogBuffer logs;
  logs.add_number("warn", "backend_ejected", {{"backend", "BACKEND_B"}}, "ejectionMs", 30000);
  logs.add_number("info", "x", {}, "share", 0.25);
  logs.add_number("info", "y", {}, "delta", -3);
  const auto lines = split_lines(logs.drain());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], R"({"level":"warn","event":"backend_ejected","backend":"BACKEND_B","ejectionMs":30000})");
  const json share = json::parse(lines[1]);
  ASSERT_TRUE(share["share"].is_number());
  EXPECT_DOUBLE_EQ(share["share"].get<double>(), 0.25);
  EXPECT_EQ(lines[2], R"({"level":"info","event":"y","delta":-3})");
}

TEST(LogBuffer, ANonFiniteNumberStillGivesValidJson) {
  LogBuffer logs;
  logs.add_number("info", "x", {}, "n", NAN);
  const json line = json::parse(logs.drain());  // throws (fails the test) on invalid JSON
  EXPECT_TRUE(line["n"].is_null());
}

TEST(LogBuffer, ValuesAreEscapedSoEveryLineIsOneValidJsonObject) {
  LogBuffer logs;
  const std::string nasty = std::string("quote\" backslash\\ newline\n tab\t nul") + '\0' + " end";
  logs.add("error", "odd", {{"message", nasty}, {"key\"name", "v"}});
  logs.add("info", "bad utf8", {{"bytes", "\xff\xfe"}});
  const std::string text = logs.drain();
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 2u) << "a newline inside a value must not split a line: " << text;
  const json first = json::parse(lines[0]);
  EXPECT_EQ(first["message"].get<std::string>(), nasty);
  EXPECT_EQ(first["key\"name"].get<std::string>(), "v");
  const json second = json::parse(lines[1]);
  EXPECT_EQ(second["bytes"].get<std::string>(), "\xEF\xBF\xBD\xEF\xBF\xBD") << "invalid UTF-8 becomes U+FFFD";
}

TEST(LogBuffer, DrainJoinsLinesInOrderWithoutATrailingNewlineAndClears) {
  LogBuffer logs;
  logs.add("info", "a");
  logs.add("info", "b");
  logs.add("info", "c");
  EXPECT_EQ(logs.size(), 3u);
  const std::string text = logs.drain();
  EXPECT_EQ(text, "{\"level\":\"info\",\"event\":\"a\"}\n{\"level\":\"info\",\"event\":\"b\"}\n"
                  "{\"level\":\"info\",\"event\":\"c\"}");
  EXPECT_EQ(logs.size(), 0u);
  EXPECT_EQ(logs.drain(), "") << "drained lines are not returned twice";
  logs.add("info", "d");
  EXPECT_EQ(logs.drain(), R"({"level":"info","event":"d"})");
}

TEST(LogBuffer, KeepsAtMost1000PendingLinesAndDropsTheNewestBeyond) {
  LogBuffer logs;
  for (int i = 0; i < 1000; ++i) logs.add("info", "n", {{"i", std::to_string(i)}});
  EXPECT_EQ(logs.size(), 1000u);
  logs.add("info", "n", {{"i", "dropped"}});
  logs.add_number("info", "n", {}, "i", 1001);
  EXPECT_EQ(logs.size(), 1000u) << "a shim that never drains must not grow memory forever";
  const auto lines = split_lines(logs.drain());
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_EQ(json::parse(lines.front())["i"], "0") << "the oldest lines are kept";
  EXPECT_EQ(json::parse(lines.back())["i"], "999");
  // Once drained, there is room again.
  logs.add("info", "after");
  EXPECT_EQ(logs.size(), 1u);
}

}  // namespace
}  // namespace router
