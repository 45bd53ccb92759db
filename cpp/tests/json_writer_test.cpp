#include "json/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace router {
namespace {

std::string number(double value) { return JsonWriter().value(value).take(); }

TEST(JsonWriter, NumbersReadBackExactly) {
  EXPECT_EQ(number(25), "25");
  EXPECT_EQ(number(-3), "-3");
  EXPECT_EQ(number(-0.0), "0");
  EXPECT_EQ(number(86400000), "86400000");
  EXPECT_EQ(number(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(number(0.5), "0.5");
  EXPECT_EQ(number(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(number(-12.75), "-12.75");
  EXPECT_EQ(number(1e-7), "1e-07");
  EXPECT_EQ(number(1e300), "1e+300");
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(number(std::nan("")), "null");
  for (const double value : {0.1, 2.0 / 3.0, 1234.5678, 1e-300, 123456789.123}) {
    EXPECT_EQ(nlohmann::json::parse(number(value)).get<double>(), value) << number(value);
  }
}

TEST(JsonWriter, QuotesAnyBytesIntoValidJson) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c\nd\x01\x7f"), R"("a\"b\\c\nd\u0001\u007f")");
  EXPECT_EQ(json_quote("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"") << "valid UTF-8 stays";
  // Each byte that is not part of well-formed UTF-8 becomes U+FFFD.
  EXPECT_EQ(json_quote("a\xFF" "b"), "\"a\xEF\xBF\xBD" "b\"");
  EXPECT_EQ(json_quote("\xC3"), "\"\xEF\xBF\xBD\"") << "truncated sequence";
  EXPECT_EQ(json_quote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"") << "UTF-16 surrogate";
  EXPECT_EQ(json_quote("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"") << "overlong form";
  for (const char* text : {"\xFF\xFE", "x\xE2\x82", "\x80", "ok \xF4\x90\x80\x80"}) {
    const auto parsed = nlohmann::json::parse(json_quote(text), nullptr, false);
    EXPECT_TRUE(parsed.is_string()) << text;
  }
}

TEST(JsonWriter, BuildsNestedDocuments) {
  JsonWriter w;
  w.begin_object().key("a").begin_array().value(1.5).null().value(true).end_array();
  w.key("b").strings({"x", "y"}).key("c").raw(R"({"d":1})").end_object();
  EXPECT_EQ(w.take(), R"({"a":[1.5,null,true],"b":["x","y"],"c":{"d":1}})");
}

}  // namespace
}  // namespace router
