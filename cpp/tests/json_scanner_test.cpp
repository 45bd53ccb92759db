#include "json/json_scanner.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace router {
namespace {

using ErrorKind = JsonScanError::Kind;

// Writes every event as a short line: "v<depth> <kind> <text>", "k<depth> <text>", "c<depth>".
class Trace final : public JsonEvents {
 public:
  void value(uint32_t depth, const JsonToken& token) override {
    static const char* const kKinds[] = {"null", "boolean", "number", "string", "array", "object"};
    lines += "v" + std::to_string(depth) + " " + kKinds[static_cast<int>(token.kind)] + " " +
             std::string(token.text) + (token.escaped ? " (escaped)" : "") + "\n";
  }
  void key(uint32_t depth, const JsonToken& name) override {
    lines += "k" + std::to_string(depth) + " " + std::string(name.text) + (name.escaped ? " (escaped)" : "") + "\n";
  }
  void close(uint32_t depth) override { lines += "c" + std::to_string(depth) + "\n"; }

  std::string lines;
};

std::optional<JsonScanError> scan(std::string_view text, uint32_t max_depth = 64) {
  Trace trace;
  return scan_json(text, max_depth, trace);
}

// nlohmann's strict parser, the reference for what is JSON (inputs here hold no NUL byte).
bool nlohmann_accepts(std::string_view text) { return nlohmann::json::accept(text); }

TEST(JsonScanner, ReportsKeysValuesAndClosesInOrder) {
  Trace trace;
  ASSERT_FALSE(scan_json(R"( {"a" : [1, -2.5e3, "x\n", true, false, null, {}], "b\u0041": {"c": []}} )", 64, trace));
  EXPECT_EQ(trace.lines,
            "v0 object {\n"
            "k1 a\n"
            "v1 array [\n"
            "v2 number 1\n"
            "v2 number -2.5e3\n"
            "v2 string x\\n (escaped)\n"
            "v2 boolean true\n"
            "v2 boolean false\n"
            "v2 null null\n"
            "v2 object {\n"
            "c2\n"
            "c1\n"
            "k1 b\\u0041 (escaped)\n"
            "v1 object {\n"
            "k2 c\n"
            "v2 array [\n"
            "c2\n"
            "c1\n"
            "c0\n");
}

TEST(JsonScanner, TopLevelScalarsAreValues) {
  for (const char* text : {"0", "\"s\"", "true", "null", " -0.0 "}) {
    Trace trace;
    EXPECT_FALSE(scan_json(text, 64, trace)) << text;
    EXPECT_EQ(trace.lines.rfind("v0 ", 0), 0u) << text;
  }
}

TEST(JsonScanner, AcceptsWhatNlohmannAccepts) {
  const std::string accepted[] = {
      "{}", "[]", " \t\r\n{ \t\r\n} \t\r\n", "[[],{},[{}]]", R"({"":""})", R"({"a":1,"a":2})",
      "0", "-0", "0.0", "-0.0e-0", "1E5", "1e+5", "1.5E-5", "123456789012345678901234567890",
      "-9223372036854775809", "18446744073709551616",
      R"("\"\\\/\b\f\n\r\t")", R"("\u0000")", R"("\u00e9\u20AC")", R"("\ud83d\ude00")", R"("\uDBFF\uDFFF")",
      R"("\ud7ff\ue000\uffff")", "\"\x7F\"",
      "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"",
      "\xEF\xBB\xBF{}",  // a byte order mark at the start
      "\"" + std::string(1000, 'x') + "\"",
      "\"abcdefg\\\"hijklmnop\\\\qrstuvwxyz0123456789\"",  // escapes inside the eight-byte steps
  };
  for (const std::string& text : accepted) {
    EXPECT_TRUE(nlohmann_accepts(text)) << "test case is not JSON: " << text;
    const auto error = scan(text);
    EXPECT_FALSE(error) << text << " refused at " << (error ? error->offset : 0);
  }
}

struct Refusal {
  std::string text;
  ErrorKind kind;
  std::size_t offset;
};

void expect_refusals(const std::vector<Refusal>& cases) {
  for (const Refusal& c : cases) {
    if (c.kind == ErrorKind::Syntax || c.kind == ErrorKind::InvalidUtf8 || c.kind == ErrorKind::NumberTooLarge) {
      EXPECT_FALSE(nlohmann_accepts(c.text)) << "nlohmann accepts " << c.text;
    }
    const auto error = scan(c.text);
    ASSERT_TRUE(error.has_value()) << c.text;
    EXPECT_EQ(static_cast<int>(error->kind), static_cast<int>(c.kind)) << c.text;
    EXPECT_EQ(error->offset, c.offset) << c.text;
  }
}

TEST(JsonScanner, RefusesSyntaxErrorsAtTheByteThatCannotBeThere) {
  expect_refusals({
      {"", ErrorKind::Syntax, 0},
      {"  ", ErrorKind::Syntax, 2},
      {"{", ErrorKind::Syntax, 1},
      {"{\"a\"", ErrorKind::Syntax, 4},
      {"{\"a\":", ErrorKind::Syntax, 5},
      {"{\"a\":1", ErrorKind::Syntax, 6},
      {"[1,]", ErrorKind::Syntax, 3},           // trailing comma
      {"{\"a\":1,}", ErrorKind::Syntax, 7},
      {"[,1]", ErrorKind::Syntax, 1},
      {"[1 2]", ErrorKind::Syntax, 3},
      {"{\"a\" 1}", ErrorKind::Syntax, 5},      // missing colon
      {"{\"a\":1 \"b\":2}", ErrorKind::Syntax, 7},
      {"{1:2}", ErrorKind::Syntax, 1},          // keys are strings
      {"{'a':1}", ErrorKind::Syntax, 1},
      {"[1]]", ErrorKind::Syntax, 3},
      {"[1}", ErrorKind::Syntax, 2},
      {"{\"a\":1]", ErrorKind::Syntax, 6},
      {"{} {}", ErrorKind::Syntax, 3},          // trailing data
      {"{}x", ErrorKind::Syntax, 2},
      {"[1] // c", ErrorKind::Syntax, 4},       // comments
      {"[/* c */]", ErrorKind::Syntax, 1},
      {"[tru]", ErrorKind::Syntax, 4},
      {"[nul", ErrorKind::Syntax, 4},
      {"[True]", ErrorKind::Syntax, 1},
      {"[truex]", ErrorKind::Syntax, 5},
      {"[NaN]", ErrorKind::Syntax, 1},
      {"[\v1]", ErrorKind::Syntax, 1},          // only four whitespace characters
      {"\xEF\xBB{}", ErrorKind::InvalidUtf8, 0},  // half a byte order mark
      {"\xEF\xBB\xBF\xEF\xBB\xBF{}", ErrorKind::Syntax, 3},  // only one is skipped
      {"{\"a\":\xC3\xA9}", ErrorKind::Syntax, 5},  // well-formed UTF-8 outside a string
  });
}

TEST(JsonScanner, RefusesNumbersOutsideTheGrammar) {
  expect_refusals({
      {"[01]", ErrorKind::Syntax, 2},   // leading zero: "0" ends, then '1' cannot follow
      {"[-01]", ErrorKind::Syntax, 3},
      {"[00]", ErrorKind::Syntax, 2},
      {"[+1]", ErrorKind::Syntax, 1},
      {"[-]", ErrorKind::Syntax, 2},
      {"[-a]", ErrorKind::Syntax, 2},
      {"[.5]", ErrorKind::Syntax, 1},
      {"[1.]", ErrorKind::Syntax, 3},
      {"[1.e5]", ErrorKind::Syntax, 3},
      {"[1e]", ErrorKind::Syntax, 3},
      {"[1e+]", ErrorKind::Syntax, 4},
      {"[1E-x]", ErrorKind::Syntax, 4},
      {"[0x10]", ErrorKind::Syntax, 2},
      {"[1.5.2]", ErrorKind::Syntax, 4},
      {"-", ErrorKind::Syntax, 1},
      {"1e", ErrorKind::Syntax, 2},
      {"[Infinity]", ErrorKind::Syntax, 1},
  });
}

TEST(JsonScanner, RefusesBadStrings) {
  expect_refusals({
      {"\"abc", ErrorKind::Syntax, 4},                       // unterminated
      {"\"a\x01\"", ErrorKind::Syntax, 2},                   // raw control characters
      {"\"a\nb\"", ErrorKind::Syntax, 2},
      {"\"a\tb\"", ErrorKind::Syntax, 2},
      {"\"\x1F\"", ErrorKind::Syntax, 1},
      {R"("\x")", ErrorKind::Syntax, 2},                     // escapes
      {R"("\a")", ErrorKind::Syntax, 2},
      {R"("\U0041")", ErrorKind::Syntax, 2},
      {R"("\'")", ErrorKind::Syntax, 2},
      {"\"\\", ErrorKind::Syntax, 2},
      {R"("\u12")", ErrorKind::Syntax, 5},
      {R"("\u12G4")", ErrorKind::Syntax, 5},
      {"\"\\u12", ErrorKind::Syntax, 5},
      {R"("\ud800")", ErrorKind::Syntax, 7},                 // lone high surrogate
      {R"("\ud800x")", ErrorKind::Syntax, 7},
      {R"("\ud800\n")", ErrorKind::Syntax, 8},
      {R"("\ud800\u0041")", ErrorKind::Syntax, 12},          // not followed by a low surrogate
      {R"("\ud800\ud800")", ErrorKind::Syntax, 12},
      {R"("\udbff\uE000")", ErrorKind::Syntax, 12},
      {R"("\ud800\u")", ErrorKind::Syntax, 9},
      {"\"\\ud800", ErrorKind::Syntax, 7},
      {R"("\udc00")", ErrorKind::Syntax, 6},                 // lone low surrogate
      {R"("\uDFFF\ud800")", ErrorKind::Syntax, 6},
      {R"("a\ude00\ud83d")", ErrorKind::Syntax, 7},          // a pair in the wrong order
  });
}

TEST(JsonScanner, RefusesIllFormedUtf8AnywhereAtTheSequenceStart) {
  expect_refusals({
      {"\"\x80\"", ErrorKind::InvalidUtf8, 1},
      {"\"ab\xC0\xAF\"", ErrorKind::InvalidUtf8, 3},         // overlong
      {"\"\xE0\x80\xAF\"", ErrorKind::InvalidUtf8, 1},
      {"\"\xED\xA0\x80\"", ErrorKind::InvalidUtf8, 1},       // UTF-16 surrogate
      {"\"\xF4\x90\x80\x80\"", ErrorKind::InvalidUtf8, 1},   // above U+10FFFF
      {"\"\xF5\x80\x80\x80\"", ErrorKind::InvalidUtf8, 1},
      {"\"\xE2\x82\"", ErrorKind::InvalidUtf8, 1},           // truncated
      {"\"\xE2\x82", ErrorKind::InvalidUtf8, 1},
      {"\"\\\xC3\xA9\"", ErrorKind::Syntax, 2},              // a well-formed one is not an escape
      {"\"\\\xFF\"", ErrorKind::InvalidUtf8, 2},
      {"{\"a\":1}\xFF", ErrorKind::InvalidUtf8, 7},          // outside strings too
      {"[\xC0\x80]", ErrorKind::InvalidUtf8, 1},
      {"[tr\xFF]", ErrorKind::InvalidUtf8, 3},
      {"\"" + std::string(20, 'a') + "\xFF" + std::string(20, 'a') + "\"", ErrorKind::InvalidUtf8, 21},
  });
}

TEST(JsonScanner, RefusesRawNulBytesWhereverTheyAre) {
  using namespace std::string_literals;
  expect_refusals({
      {"\0"s, ErrorKind::NulByte, 0},
      {"{}\0"s, ErrorKind::NulByte, 2},
      {"{}\0garbage"s, ErrorKind::NulByte, 2},
      {"[\0]"s, ErrorKind::NulByte, 1},
      {"\"a\0b\""s, ErrorKind::NulByte, 2},
      {"\"\\\0\""s, ErrorKind::NulByte, 2},
      {"[tr\0e]"s, ErrorKind::NulByte, 3},
      {"[1\0]"s, ErrorKind::NulByte, 2},
  });
}

TEST(JsonScanner, DepthIsCheckedAsContainersOpen) {
  const auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  EXPECT_FALSE(scan(nested(64)));
  EXPECT_FALSE(scan("{\"a\":" + nested(63) + "}"));
  expect_refusals({
      {nested(65), ErrorKind::TooDeep, 64},
      {"{\"a\":" + nested(64) + "}", ErrorKind::TooDeep, 68},
      {std::string(100000, '['), ErrorKind::TooDeep, 64},  // refused long before the end
  });
  EXPECT_FALSE(scan(nested(1), 1));
  EXPECT_EQ(scan(nested(2), 1)->kind, ErrorKind::TooDeep);
  EXPECT_FALSE(scan("1", 0)) << "a scalar has no depth";
  EXPECT_EQ(scan("{}", 0)->kind, ErrorKind::TooDeep);
  // Beyond the 256 levels kept inline, objects and arrays are still told apart at every level.
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += "{\"k\":[";
  deep += "0";
  for (int i = 0; i < 150; ++i) deep += "]}";
  EXPECT_FALSE(scan(deep, 300));
  EXPECT_EQ(scan(deep, 299)->kind, ErrorKind::TooDeep);
  std::string mismatched = deep;
  mismatched[mismatched.size() - 2] = '}';  // the outer array closed as an object
  EXPECT_EQ(scan(mismatched, 300)->kind, ErrorKind::Syntax);
}

TEST(JsonScanner, NumbersBeyondADoubleAreTooLarge) {
  expect_refusals({
      {"1E1000", ErrorKind::NumberTooLarge, 0},
      {"[-1E1000]", ErrorKind::NumberTooLarge, 1},
      {"[1e309]", ErrorKind::NumberTooLarge, 1},
      {"[0.1e310]", ErrorKind::NumberTooLarge, 1},
      {"1" + std::string(309, '0'), ErrorKind::NumberTooLarge, 0},
      {"-" + std::string(400, '9'), ErrorKind::NumberTooLarge, 0},
      {"1.797693134862315808e308", ErrorKind::NumberTooLarge, 0},  // just above the rounding midpoint
      {"1e99999999999999999999999", ErrorKind::NumberTooLarge, 0},
  });
  // Large but finite, and underflow (read as zero or a subnormal, as nlohmann's strtod does).
  for (const std::string& text :
       {std::string("1.7976931348623157e308"), std::string("1.7976931348623158e308"), std::string("1e308"),
        std::string("0.000001e314"), std::string("1") + std::string(308, '0'), std::string("1e0000000000000308"),
        std::string("0e99999999999"), std::string("0.0e400"), std::string("1e-400"), std::string("-1e-99999999999"),
        std::string("4.9e-324"), std::string("0.") + std::string(400, '0') + "1e400"}) {
    EXPECT_TRUE(nlohmann_accepts(text)) << text;
    EXPECT_FALSE(scan(text)) << text;
  }
}

TEST(JsonScanner, DecodesStrings) {
  EXPECT_EQ(decode_json_string("plain"), "plain");
  EXPECT_EQ(decode_json_string(R"(a\"b\\c\/d\be\ff\ng\rh\ti)"), "a\"b\\c/d\be\ff\ng\rh\ti");
  EXPECT_EQ(decode_json_string(R"(\u0041\u00e9\u20AC)"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(decode_json_string(R"(\ud83d\ude00!)"), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(decode_json_string(R"(\uDBFF\uDFFF)"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(decode_json_string(R"(\u0000)"), std::string(1, '\0'));
  EXPECT_EQ(decode_json_string(R"(\u07FF\u0800\uFFFF)"), "\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF");
  EXPECT_EQ(decode_json_string(""), "");
}

TEST(JsonScanner, DecodesLikeNlohmann) {
  const char* strings[] = {R"("m\u006fdel")", R"("\ud834\udd1e x \u00FF \"q\" \\")", R"("caf\u00e9 / \/")"};
  for (const char* quoted : strings) {
    const std::string text(quoted + 1, std::char_traits<char>::length(quoted) - 2);
    EXPECT_EQ(decode_json_string(text), nlohmann::json::parse(quoted).get<std::string>()) << quoted;
  }
}

TEST(JsonScanner, ComparesKeysAfterDecoding) {
  EXPECT_TRUE(json_string_equals({JsonKind::String, "model"}, "model"));
  EXPECT_FALSE(json_string_equals({JsonKind::String, "models"}, "model"));
  EXPECT_TRUE(json_string_equals({JsonKind::String, R"(mod\u0065l)", true}, "model"));
  EXPECT_FALSE(json_string_equals({JsonKind::String, R"(model\u0000)", true}, "model"));
}

// Every single-byte replacement, insertion and deletion in a few documents, judged by both
// parsers: the verdicts must agree.
TEST(JsonScanner, AgreesWithNlohmannOnEverySingleByteEdit) {
  const std::string documents[] = {
      R"({"model":"m","messages":[{"role":"user","content":"h\u00e9\ud83d\ude00"}],"n":[-1.5e+3,0,true,null]})",
      R"([{"a":[]},{},"x\\y\"z",12.25E-2,false])",
  };
  const std::string bytes = std::string("{}[]:,\"\\/-+.0129eEtfnulx \t\n") + "\x7F\x80\xC3\xFF";
  int compared = 0;
  const auto compare = [&compared](const std::string& text) {
    EXPECT_EQ(!scan(text).has_value(), nlohmann_accepts(text)) << text;
    ++compared;
  };
  for (const std::string& document : documents) {
    for (std::size_t at = 0; at < document.size(); ++at) {
      for (const char byte : bytes) {
        std::string replaced = document;
        replaced[at] = byte;
        compare(replaced);
        std::string inserted = document;
        inserted.insert(at, 1, byte);
        compare(inserted);
      }
      std::string removed = document;
      removed.erase(at, 1);
      compare(removed);
    }
  }
  EXPECT_GT(compared, 8000);
}

}  // namespace
}  // namespace router
