// OpenAI-shaped error bodies: {"error":{"message","type","param","code"}}.
#pragma once

#include <string>
#include <string_view>

namespace router {

// `param` and `code` are emitted as JSON null when empty.
std::string openai_error_body(std::string_view message, std::string_view type,
                              std::string_view param = {}, std::string_view code = {});

// The inner object alone, {"message","type","param","code"} (e.g. for the configure answer).
std::string openai_error_object(std::string_view message, std::string_view type,
                                std::string_view param = {}, std::string_view code = {});

}  // namespace router
