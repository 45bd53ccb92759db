#include "api/openai_error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace router {
namespace {

using nlohmann::json;

TEST(OpenAiError, HasOpenAiShapeAndKeyOrder) {
  EXPECT_EQ(openai_error_body("`model` is required", "invalid_request_error", "model", "model_not_found"),
            R"({"error":{"message":"`model` is required","type":"invalid_request_error","param":"model",)"
            R"("code":"model_not_found"}})");
}

TEST(OpenAiError, EmptyParamAndCodeAreNull) {
  const json body = json::parse(openai_error_body("no backend", "service_unavailable"));
  ASSERT_TRUE(body.contains("error"));
  const json& error = body["error"];
  EXPECT_EQ(error.size(), 4u);
  EXPECT_EQ(error["message"], "no backend");
  EXPECT_EQ(error["type"], "service_unavailable");
  EXPECT_TRUE(error["param"].is_null());
  EXPECT_TRUE(error["code"].is_null());
}

TEST(OpenAiError, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string message = "say \"hi\" \\ then\nnew line\ttab \x01 caf\xC3\xA9";
  const std::string text = openai_error_body(message, "invalid_request_error", "messages[0].role");
  EXPECT_EQ(text.find('\n'), std::string::npos) << "a raw newline would break line-based consumers";
  const json body = json::parse(text);
  EXPECT_EQ(body["error"]["message"], message);
  EXPECT_EQ(body["error"]["param"], "messages[0].role");
}

TEST(OpenAiError, InvalidUtf8IsReplacedNotFatal) {
  const std::string text = openai_error_body("bad \xFF byte", "invalid_request_error");
  const json body = json::parse(text);
  EXPECT_EQ(body["error"]["message"], "bad \xEF\xBF\xBD byte");  // U+FFFD
}

TEST(OpenAiError, ObjectIsTheBodysErrorMember) {
  const std::string object = openai_error_object("bad field", "server_error", "retry.maxAttempts", "invalid_router_config");
  EXPECT_EQ(openai_error_body("bad field", "server_error", "retry.maxAttempts", "invalid_router_config"),
            R"({"error":)" + object + "}");
  EXPECT_EQ(json::parse(object)["param"], "retry.maxAttempts");
}

}  // namespace
}  // namespace router
