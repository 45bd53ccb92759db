#include "api/openai_error.hpp"

#include "json/json_writer.hpp"

namespace router {
namespace {

// json_quote turns invalid UTF-8 into U+FFFD: an error body must always be valid JSON, whatever
// text ended up in it.
std::string json_string_or_null(std::string_view text) {
  return text.empty() ? std::string("null") : json_quote(text);
}

}  // namespace

// Built by hand rather than as a json object so the keys keep OpenAI's order.
std::string openai_error_object(std::string_view message, std::string_view type, std::string_view param,
                                std::string_view code) {
  std::string object = R"({"message":)";
  object += json_quote(message);
  object += R"(,"type":)";
  object += json_quote(type);
  object += R"(,"param":)";
  object += json_string_or_null(param);
  object += R"(,"code":)";
  object += json_string_or_null(code);
  object += '}';
  return object;
}

std::string openai_error_body(std::string_view message, std::string_view type, std::string_view param,
                              std::string_view code) {
  return R"({"error":)" + openai_error_object(message, type, param, code) + "}";
}

}  // namespace router
