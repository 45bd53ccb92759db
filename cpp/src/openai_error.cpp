#include "openai_error.hpp"

#include <nlohmann/json.hpp>

namespace router {
namespace {

// A JSON string literal. Invalid UTF-8 becomes U+FFFD instead of throwing: an error body must
// always be produced, whatever text ended up in it.
std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_string_or_null(std::string_view text) {
  return text.empty() ? std::string("null") : json_string(text);
}

}  // namespace

// Built by hand rather than as a json object so the keys keep OpenAI's order.
std::string openai_error_body(std::string_view message, std::string_view type, std::string_view param,
                              std::string_view code) {
  std::string body = R"({"error":{"message":)";
  body += json_string(message);
  body += R"(,"type":)";
  body += json_string(type);
  body += R"(,"param":)";
  body += json_string_or_null(param);
  body += R"(,"code":)";
  body += json_string_or_null(code);
  body += "}}";
  return body;
}

}  // namespace router
