// RequestValidator: checks a client's JSON body before any backend sees it: size, UTF-8,
// nesting depth, JSON syntax, field types; extracts `model` and `stream`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/router_config.hpp"

namespace router {

enum class Endpoint { ChatCompletions, Completions, Embeddings };

struct ValidRequest {
  std::string model;
  bool stream = false;
};

struct RequestError {
  uint16_t status;      // 400 or 413
  std::string message;  // for the OpenAI error body
  std::string param;    // the offending field ("model", "stream", "messages"), or "" when none
};

struct ValidationResult {
  std::optional<ValidRequest> request;
  std::optional<RequestError> error;
};

// Rules (contract section 3): body over limits.max_body_bytes -> 413; invalid UTF-8, invalid JSON,
// nesting deeper than limits.max_depth, not an object, `model` missing / not a non-empty string,
// `stream` present and not a boolean (null counts as absent), endpoint-required fields of the
// wrong type (chat: `messages` non-empty array of objects with a string `role`; completions:
// `prompt` string or array; embeddings: `input` non-empty string or array) -> 400. Raw NUL bytes
// are invalid JSON. Duplicate keys are accepted, the last one wins. Rules and messages are
// listed in docs/configuration.md. The body is read in one pass (json_scanner.hpp) that stops at
// its first problem in byte order (bad UTF-8, NUL, nesting, syntax, a number beyond a double such
// as 1E1000) and builds nothing, so deep or large input costs no more than reading it once.
ValidationResult validate_request(Endpoint endpoint, std::string_view body, const LimitConfig& limits);

}  // namespace router
