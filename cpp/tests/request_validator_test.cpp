#include "api/request_validator.hpp"

#include <gtest/gtest.h>

#include <string>

namespace router {
namespace {

const LimitConfig kDefaults{};

ValidationResult chat(std::string_view body, const LimitConfig& limits = kDefaults) {
  return validate_request(Endpoint::ChatCompletions, body, limits);
}

// The error a body must produce; fails the test if it is accepted.
RequestError rejected(const ValidationResult& result) {
  EXPECT_FALSE(result.request.has_value());
  EXPECT_TRUE(result.error.has_value());
  return result.error.value_or(RequestError{0, "accepted", ""});
}

ValidRequest accepted(const ValidationResult& result) {
  EXPECT_FALSE(result.error.has_value()) << (result.error ? result.error->message : "");
  EXPECT_TRUE(result.request.has_value());
  return result.request.value_or(ValidRequest{"<rejected>", false});
}

std::string chat_body(std::string_view extra = "") {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}])";
  body += extra;
  body += "}";
  return body;
}

// An object whose deepest value sits at exactly `depth` levels ({} counts as one level).
std::string chat_body_with_depth(uint32_t depth) {
  const uint32_t arrays = depth - 1;  // the top-level object is the first level
  return chat_body(",\"deep\":" + std::string(arrays, '[') + std::string(arrays, ']'));
}

TEST(RequestValidator, AcceptsMinimalChatRequest) {
  const ValidRequest request = accepted(chat(chat_body()));
  EXPECT_EQ(request.model, "m");
  EXPECT_FALSE(request.stream);
}

TEST(RequestValidator, ReadsStreamFlag) {
  EXPECT_TRUE(accepted(chat(chat_body(R"(,"stream":true)"))).stream);
  EXPECT_FALSE(accepted(chat(chat_body(R"(,"stream":false)"))).stream);
  EXPECT_FALSE(accepted(chat(chat_body(R"(,"stream":null)"))).stream) << "null means not given";
}

TEST(RequestValidator, AcceptsCompletionsWithStringOrArrayPrompt) {
  const auto text = validate_request(Endpoint::Completions, R"({"model":"c","prompt":"Say hi"})", kDefaults);
  EXPECT_EQ(accepted(text).model, "c");
  const auto tokens = validate_request(Endpoint::Completions, R"({"model":"c","prompt":[1,2,3],"stream":true})", kDefaults);
  EXPECT_TRUE(accepted(tokens).stream);
}

TEST(RequestValidator, AcceptsEmbeddingsWithStringOrArrayInput) {
  EXPECT_EQ(accepted(validate_request(Endpoint::Embeddings, R"({"model":"e","input":"text"})", kDefaults)).model, "e");
  EXPECT_EQ(accepted(validate_request(Endpoint::Embeddings, R"({"model":"e","input":["a","b"]})", kDefaults)).model,
            "e");
}

TEST(RequestValidator, LeavesUnknownFieldsAndNestedContentAlone) {
  const std::string body = R"({"model":"gpt-4o","temperature":0.2,"tools":[{"type":"function"}],)"
                           R"("messages":[{"role":"system","content":"s"},)"
                           R"({"role":"user","content":[{"type":"text","text":"x"}],"name":"n"}]})";
  EXPECT_EQ(accepted(chat(body)).model, "gpt-4o");
}

TEST(RequestValidator, AcceptsMultibyteUtf8AndEscapes) {
  const std::string body = chat_body(",\"note\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \\u00e9 \\\"q\\\" \\\\\"");
  accepted(chat(body));
}

TEST(RequestValidator, EmptyBodyIs400) {
  const RequestError error = rejected(chat(""));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.message, "request body is empty");
}

TEST(RequestValidator, WhitespaceOnlyBodyIsInvalidJson) {
  const RequestError error = rejected(chat("  \n"));
  EXPECT_EQ(error.status, 400);
  EXPECT_NE(error.message.find("not valid JSON"), std::string::npos) << error.message;
}

TEST(RequestValidator, SizeLimitBoundary) {
  const std::string body = chat_body();
  LimitConfig limits;
  limits.max_body_bytes = body.size();
  accepted(chat(body, limits));

  limits.max_body_bytes = body.size() - 1;
  const RequestError error = rejected(chat(body, limits));
  EXPECT_EQ(error.status, 413);
  EXPECT_EQ(error.message, "request body is larger than the limit of " + std::to_string(body.size() - 1) + " bytes");
}

TEST(RequestValidator, SizeIsCheckedBeforeContent) {
  LimitConfig limits;
  limits.max_body_bytes = 4;
  EXPECT_EQ(rejected(chat("\xFF\xFF\xFF\xFF\xFF", limits)).status, 413);
}

TEST(RequestValidator, InvalidUtf8Is400) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const Case cases[] = {
      {"lone continuation byte", "\x80"},
      {"overlong 2-byte slash", "\xC0\xAF"},
      {"overlong 2-byte NUL", "\xC1\x80"},
      {"overlong 3-byte", "\xE0\x80\xAF"},
      {"overlong 4-byte", "\xF0\x80\x80\xAF"},
      {"lone high surrogate U+D800", "\xED\xA0\x80"},
      {"lone low surrogate U+DFFF", "\xED\xBF\xBF"},
      {"above U+10FFFF", "\xF4\x90\x80\x80"},
      {"F5 lead byte", "\xF5\x80\x80\x80"},
      {"FF byte", "\xFF"},
      {"truncated 3-byte sequence", "\xE2\x82"},
      {"lead byte then ASCII", "\xC3("},
  };
  for (const Case& c : cases) {
    const RequestError error = rejected(chat(chat_body(",\"note\":\"" + c.bytes + "\"")));
    EXPECT_EQ(error.status, 400) << c.what;
    EXPECT_NE(error.message.find("not valid UTF-8"), std::string::npos) << c.what << ": " << error.message;
  }
}

TEST(RequestValidator, InvalidUtf8OutsideStringsIs400) {
  const RequestError error = rejected(chat("{\"model\":\"m\"\xC0\x80}"));
  EXPECT_EQ(error.status, 400);
  EXPECT_NE(error.message.find("not valid UTF-8"), std::string::npos) << error.message;
}

TEST(RequestValidator, TruncatedSequenceAtEndOfBodyIs400) {
  const RequestError error = rejected(chat(chat_body() + "\xF0\x9F\x98"));
  EXPECT_NE(error.message.find("not valid UTF-8"), std::string::npos) << error.message;
}

TEST(RequestValidator, LargestCodePointsAreAccepted) {
  accepted(chat(chat_body(",\"a\":\"\xF4\x8F\xBF\xBF \xED\x9F\xBF \xEE\x80\x80\"")));  // U+10FFFF, U+D7FF, U+E000
}

TEST(RequestValidator, RawNulByteIsInvalidJson) {
  std::string in_string = chat_body(",\"note\":\"a");
  in_string.insert(in_string.size() - 1, 1, '\0');
  in_string.insert(in_string.size() - 1, "\"");
  const RequestError inside = rejected(chat(in_string));
  EXPECT_EQ(inside.status, 400);
  EXPECT_NE(inside.message.find("not valid JSON"), std::string::npos) << inside.message;

  // Outside a string nlohmann alone would stop at the NUL and accept the object before it.
  for (const std::string& tail : {std::string(1, '\0'), std::string("\0garbage", 8)}) {
    const RequestError trailing = rejected(chat(chat_body() + tail));
    EXPECT_EQ(trailing.status, 400);
    EXPECT_NE(trailing.message.find("not valid JSON"), std::string::npos) << trailing.message;
  }
  EXPECT_EQ(rejected(chat(std::string(1, '\0'))).status, 400);
}

TEST(RequestValidator, InvalidJsonIs400AndSaysWhere) {
  const RequestError error = rejected(chat(R"({"model":"m",})"));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.param, "");
  EXPECT_EQ(error.message.rfind("request body is not valid JSON", 0), 0u) << error.message;
  EXPECT_EQ(error.message, "request body is not valid JSON (error near byte 14)");  // the '}' after the comma
  EXPECT_EQ(rejected(chat(R"({"model":"m")")).message, "request body is not valid JSON (the body ends too early)");
  EXPECT_EQ(rejected(chat(chat_body() + "{}")).status, 400) << "trailing data";
  EXPECT_EQ(rejected(chat(R"({"model":'m'})")).status, 400) << "single quotes";
  EXPECT_EQ(rejected(chat(R"({"model":"m" /* c */})")).status, 400) << "comments";
}

TEST(RequestValidator, TheFirstProblemInTheBodyIsReported) {
  // UTF-8, NUL bytes, nesting, syntax and numbers are checked in one pass: the earliest wins.
  EXPECT_EQ(rejected(chat("{\"model\":\"m\",}\xFF")).message, "request body is not valid JSON (error near byte 14)");
  EXPECT_EQ(rejected(chat("{\"model\":\"\xFF\",}")).message, "request body is not valid UTF-8 (bad byte at offset 10)");
  EXPECT_EQ(rejected(chat(std::string("{\"a\":1E1000,\0}", 14))).message,
            "request body contains a number too large to represent");
  EXPECT_EQ(rejected(chat(std::string("{\"a\":[\0,1E1000]}", 16))).message,
            "request body is not valid JSON (raw NUL byte at offset 6)");
}

TEST(RequestValidator, DepthExactlyAtLimitIsAccepted) {
  accepted(chat(chat_body_with_depth(64)));
}

TEST(RequestValidator, DepthOneOverLimitIs400) {
  const RequestError error = rejected(chat(chat_body_with_depth(65)));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.message, "request body is nested deeper than 64 levels");
}

TEST(RequestValidator, DepthLimitFollowsConfig) {
  LimitConfig limits;
  limits.max_depth = 4;  // object > messages array > message object > content array
  accepted(chat(R"({"model":"m","messages":[{"role":"user","content":[]}]})", limits));
  const RequestError error = rejected(chat(R"({"model":"m","messages":[{"role":"user","content":[{}]}]})", limits));
  EXPECT_EQ(error.message, "request body is nested deeper than 4 levels");
}

TEST(RequestValidator, HundredThousandNestedArraysAre400) {
  const std::string body = std::string(100000, '[') + std::string(100000, ']');
  const RequestError error = rejected(chat(body));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.message, "request body is nested deeper than 64 levels");

  // Refused at the bracket that opens level 65, without reading the rest.
  const std::string unterminated = "{\"a\":" + std::string(100000, '[');
  EXPECT_EQ(rejected(chat(unterminated)).message, "request body is nested deeper than 64 levels");
  // The first problem in the body is the one reported: here the second '{', where a key is due.
  const std::string objects = "{\"a\":" + std::string(100000, '{');
  EXPECT_EQ(rejected(chat(objects)).message, "request body is not valid JSON (error near byte 7)");
}

TEST(RequestValidator, BracketsInsideStringsDoNotCountAsDepth) {
  const std::string brackets(200, '[');
  accepted(chat(chat_body(",\"text\":\"" + brackets + "\\\"" + brackets + "\"")));
  // An escaped backslash ends the escape: the quote after it closes the string.
  accepted(chat(chat_body(",\"a\":\"\\\\\",\"b\":\"" + brackets + "\"")));
}

TEST(RequestValidator, NumbersBeyondDoubleAre400) {
  const std::string numbers[] = {"1E1000", "-1E1000", "1e309", "-" + std::string(400, '9')};
  for (const std::string& number : numbers) {
    const RequestError error = rejected(chat(chat_body(",\"temperature\":" + number)));
    EXPECT_EQ(error.status, 400) << number;
    EXPECT_EQ(error.message, "request body contains a number too large to represent") << number;
  }
}

TEST(RequestValidator, LargeButFiniteNumbersAreAccepted) {
  accepted(chat(chat_body(R"(,"a":1.7976931348623157e308,"b":-1e-400,"c":18446744073709551616)")));
}

TEST(RequestValidator, DuplicateKeysLastOneWins) {
  EXPECT_EQ(accepted(chat(R"({"model":"first","model":"second","messages":[{"role":"user"}]})")).model, "second");
  EXPECT_FALSE(accepted(chat(chat_body(R"(,"stream":true,"stream":false)"))).stream);
  EXPECT_EQ(rejected(chat(R"({"model":"m","model":7,"messages":[{"role":"user"}]})")).param, "model");
  EXPECT_EQ(rejected(chat(R"({"model":"m","messages":[{"role":"user"}],"messages":[]})")).param, "messages");
  accepted(chat(R"({"model":"m","messages":"oops","messages":[{"role":"user"}]})"));
}

TEST(RequestValidator, TopLevelMustBeAnObject) {
  for (const char* body : {"[]", "[{\"model\":\"m\"}]", "\"model\"", "42", "null", "true"}) {
    const RequestError error = rejected(chat(body));
    EXPECT_EQ(error.status, 400) << body;
    EXPECT_EQ(error.message, "request body must be a JSON object") << body;
  }
}

TEST(RequestValidator, ModelMissingWrongTypeOrEmptyIs400) {
  const char* bodies[] = {
      R"({"messages":[{"role":"user"}]})",
      R"({"model":42,"messages":[{"role":"user"}]})",
      R"({"model":null,"messages":[{"role":"user"}]})",
      R"({"model":["m"],"messages":[{"role":"user"}]})",
      R"({"model":"","messages":[{"role":"user"}]})",
  };
  for (const char* body : bodies) {
    const RequestError error = rejected(chat(body));
    EXPECT_EQ(error.status, 400) << body;
    EXPECT_EQ(error.param, "model") << body;
    EXPECT_EQ(error.message, "`model` is required and must be a non-empty string") << body;
  }
}

TEST(RequestValidator, ModelWithControlCharactersOrTooLongIs400) {
  const RequestError newline = rejected(chat(R"({"model":"a\nb","messages":[{"role":"user"}]})"));
  EXPECT_EQ(newline.param, "model");
  EXPECT_EQ(newline.message, "`model` must not contain control characters");

  accepted(chat("{\"model\":\"" + std::string(256, 'm') + "\",\"messages\":[{\"role\":\"user\"}]}"));
  const RequestError too_long = rejected(chat("{\"model\":\"" + std::string(257, 'm') + "\",\"messages\":[{\"role\":\"user\"}]}"));
  EXPECT_EQ(too_long.param, "model");
}

TEST(RequestValidator, ModelOnlyCountsAtTopLevel) {
  const RequestError error = rejected(chat(R"({"messages":[{"role":"user","model":"nested"}]})"));
  EXPECT_EQ(error.param, "model");
}

TEST(RequestValidator, StreamMustBeBoolean) {
  for (const char* value : {"\"true\"", "1", "0", "{}", "[]"}) {
    const RequestError error = rejected(chat(chat_body(std::string(",\"stream\":") + value)));
    EXPECT_EQ(error.status, 400) << value;
    EXPECT_EQ(error.param, "stream") << value;
    EXPECT_EQ(error.message, "`stream` must be a boolean") << value;
  }
}

TEST(RequestValidator, MessagesMustBeANonEmptyArray) {
  for (const char* messages : {"", R"(,"messages":"hi")", R"(,"messages":{})", R"(,"messages":null)",
                               R"(,"messages":[])"}) {
    const RequestError error = rejected(chat(std::string(R"({"model":"m")") + messages + "}"));
    EXPECT_EQ(error.status, 400) << messages;
    EXPECT_EQ(error.param, "messages") << messages;
    EXPECT_EQ(error.message, "`messages` is required and must be a non-empty array") << messages;
  }
}

TEST(RequestValidator, EachMessageMustBeAnObjectWithRole) {
  const RequestError not_object = rejected(chat(R"({"model":"m","messages":[{"role":"user"},"hi"]})"));
  EXPECT_EQ(not_object.param, "messages[1]");
  EXPECT_EQ(not_object.message, "`messages[1]` must be an object");

  const RequestError no_role = rejected(chat(R"({"model":"m","messages":[{"role":"user"},{"role":"user"},{"content":"x"}]})"));
  EXPECT_EQ(no_role.param, "messages[2].role");
  EXPECT_EQ(no_role.message, "`messages[2].role` is required and must be a string");

  const RequestError role_number = rejected(chat(R"({"model":"m","messages":[{"role":1}]})"));
  EXPECT_EQ(role_number.param, "messages[0].role");

  // A "role" deeper inside a message does not count as the message's role.
  const RequestError nested_role = rejected(chat(R"({"model":"m","messages":[{"content":[{"role":"user"}]}]})"));
  EXPECT_EQ(nested_role.param, "messages[0].role");
}

TEST(RequestValidator, PromptMustBeStringOrArray) {
  for (const char* body : {R"({"model":"c"})", R"({"model":"c","prompt":5})", R"({"model":"c","prompt":{}})",
                           R"({"model":"c","prompt":null})"}) {
    const RequestError error = rejected(validate_request(Endpoint::Completions, body, kDefaults));
    EXPECT_EQ(error.status, 400) << body;
    EXPECT_EQ(error.param, "prompt") << body;
  }
}

TEST(RequestValidator, InputMustBeNonEmptyStringOrArray) {
  for (const char* body : {R"({"model":"e"})", R"({"model":"e","input":""})", R"({"model":"e","input":[]})",
                           R"({"model":"e","input":3})", R"({"model":"e","input":{"a":1}})"}) {
    const RequestError error = rejected(validate_request(Endpoint::Embeddings, body, kDefaults));
    EXPECT_EQ(error.status, 400) << body;
    EXPECT_EQ(error.param, "input") << body;
    EXPECT_EQ(error.message, "`input` is required and must be a non-empty string or array") << body;
  }
}

TEST(RequestValidator, EndpointFieldsAreNotRequiredByOtherEndpoints) {
  // A chat body has no `prompt`; `messages` is ignored by completions.
  EXPECT_EQ(rejected(validate_request(Endpoint::Completions, chat_body(), kDefaults)).param, "prompt");
  accepted(validate_request(Endpoint::Completions, R"({"model":"c","prompt":"p","messages":5})", kDefaults));
}

TEST(RequestValidator, AcceptsUtf8ByteOrderMark) {
  EXPECT_EQ(accepted(chat("\xEF\xBB\xBF" + chat_body())).model, "m");
}

}  // namespace
}  // namespace router
