#include "json/json_tree.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace router {
namespace {

TEST(JsonTree, ReadsEveryKindOfValue) {
  const JsonParse parsed =
      parse_json(R"({"s":"caf\u00e9","i":-3,"u":18446744073709551615,"f":0.5,"t":true,"n":null,"a":[1,[2],{}]})", 64);
  ASSERT_TRUE(parsed.ok);
  const JsonValue& root = parsed.root;
  ASSERT_TRUE(root.is_object());
  ASSERT_EQ(root.size(), 7u);
  EXPECT_EQ(root.key(0), "s");
  EXPECT_EQ(root.find("s")->string(), "caf\xC3\xA9");
  EXPECT_EQ(root.find("i")->number(), -3.0);
  EXPECT_EQ(root.find("u")->number(), 18446744073709551615.0);
  EXPECT_EQ(root.find("f")->number(), 0.5);
  EXPECT_TRUE(root.find("t")->is_boolean());
  EXPECT_TRUE(root.find("t")->boolean());
  EXPECT_TRUE(root.find("n")->is_null());
  const JsonValue& array = *root.find("a");
  ASSERT_TRUE(array.is_array());
  ASSERT_EQ(array.size(), 3u);
  EXPECT_EQ(array.item(0).number(), 1.0);
  EXPECT_EQ(array.item(1).item(0).number(), 2.0);
  EXPECT_TRUE(array.item(2).is_object());
  EXPECT_EQ(root.find("missing"), nullptr);
}

TEST(JsonTree, ARepeatedKeyFindsTheLastValueAndIsReportedWhenAsked) {
  const JsonParse plain = parse_json(R"({"a":1,"a":2})", 64);
  ASSERT_TRUE(plain.ok);
  EXPECT_EQ(plain.root.find("a")->number(), 2.0);
  EXPECT_EQ(plain.duplicate_key, "") << "only looked for when asked";

  EXPECT_EQ(parse_json(R"({"a":1,"a":2})", 64, true).duplicate_key, "a");
  EXPECT_EQ(parse_json(R"({"x":{"y":{"k":1,"k":2}}})", 64, true).duplicate_key, "x.y.k");
  EXPECT_EQ(parse_json(R"({"x":[{"k":1},{"k":1,"k":2}]})", 64, true).duplicate_key, "x[1].k");
  EXPECT_EQ(parse_json(R"({"x":{"k":1},"y":{"k":1}})", 64, true).duplicate_key, "");
  EXPECT_EQ(parse_json(R"({"a":{"b":1,"b":1},"c":1,"c":1})", 64, true).duplicate_key, "a.b") << "the first one";
}

// Found by fuzz_router_config: with keys joined by dots, {"":{"a":1,"a":2}} reported "a", a path
// that names a different place.
TEST(JsonTree, KeysThatAreNotPlainNamesAreQuotedInPaths) {
  EXPECT_EQ(parse_json(R"({"":{"a":1,"a":2}})", 64, true).duplicate_key, R"([""].a)");
  EXPECT_EQ(parse_json(R"({"":1,"":2})", 64, true).duplicate_key, R"([""])");
  EXPECT_EQ(parse_json(R"({"a.b":{"k":1,"k":2}})", 64, true).duplicate_key, R"(["a.b"].k)");
  EXPECT_EQ(parse_json(R"({"x":{"say \"hi\"":1,"say \"hi\"":2}})", 64, true).duplicate_key, R"(x["say \"hi\""])");
  EXPECT_EQ(parse_json(R"({"x":[{"b c":1,"b c":1}]})", 64, true).duplicate_key, R"(x[0]["b c"])");
}

TEST(JsonTree, PathKeys) {
  std::string path;
  append_path_key(path, "backends");
  append_path_key(path, "BACKEND_A-1$");
  EXPECT_EQ(path, "backends.BACKEND_A-1$");
  append_path_key(path, "d\xC3\xA9j\xC3\xA0");
  EXPECT_EQ(path, "backends.BACKEND_A-1$.d\xC3\xA9j\xC3\xA0") << "non-ASCII letters are plain";
  std::string other;
  append_path_key(other, "tab\there");
  EXPECT_EQ(other, R"(["tab\u0009here"])");
}

TEST(JsonTree, SyntaxErrorsCarryNlohmannsPosition) {
  const JsonParse comma = parse_json(R"({"a":1,})", 64);
  EXPECT_FALSE(comma.ok);
  EXPECT_EQ(comma.error_position, 8u);
  EXPECT_FALSE(comma.number_overflow);
  EXPECT_TRUE(comma.root.is_null()) << "no half-built tree";

  const JsonParse early = parse_json(R"({"a":)", 64);
  EXPECT_FALSE(early.ok);
  EXPECT_GT(early.error_position, 5u) << "past the end: the text ends too early";

  EXPECT_FALSE(parse_json("", 64).ok);
  EXPECT_FALSE(parse_json("[1] [2]", 64).ok);
  EXPECT_FALSE(parse_json("\"\xC0\xAF\"", 64).ok) << "ill-formed UTF-8";
}

TEST(JsonTree, NumbersBeyondADoubleAreRefused) {
  const JsonParse parsed = parse_json(R"({"n":1E1000})", 64);
  EXPECT_FALSE(parsed.ok);
  EXPECT_TRUE(parsed.number_overflow);
  EXPECT_TRUE(parse_json(R"({"n":-0.0})", 64).ok);
  EXPECT_TRUE(std::signbit(parse_json("-0.0", 64).root.number()));
  EXPECT_EQ(parse_json("1.7976931348623157e308", 64).root.number(), 1.7976931348623157e308);
}

TEST(JsonTree, NestingIsBounded) {
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  const JsonParse refused = parse_json(deep, 64);
  EXPECT_FALSE(refused.ok);
  EXPECT_TRUE(refused.too_deep);

  const std::string fits = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(parse_json(fits, 64).ok);
  EXPECT_FALSE(parse_json(R"({"a":{"b":1}})", 1).ok);
  EXPECT_TRUE(parse_json(R"({"a":{"b":1}})", 2).ok);
  EXPECT_TRUE(parse_json(std::string(100000, '[') + "x", 1000).too_deep) << "stops early, whatever the text";
}

}  // namespace
}  // namespace router
