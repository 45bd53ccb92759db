// RequestValidator: checks a client's JSON body before any backend sees it: size, UTF-8,
// nesting depth, JSON syntax, field types; extracts `model` and `stream`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/endpoint.hpp"
#include "config/router_config.hpp"

namespace router {

// Bytes [at, at + len) of the body.
struct BodySpan {
  std::size_t at = 0;
  std::size_t len = 0;
};

struct ValidRequest {
  std::string model;
  bool stream = false;
  // The client's own fallback chain (`models`, OpenRouter's convention): the models after `model`.
  std::vector<std::string> models;
  // Where the body is edited for a backend (body_edit.hpp): the last top-level `model` value
  // (quotes included; absent when `models` gave the model), and the `models` member with one
  // adjoining comma (without it when `model` is absent: the member then becomes `"model": ...`).
  std::optional<BodySpan> model_value;
  std::optional<BodySpan> models_member;
  // A stream of chat/completions or completions whose client did not ask for its usage
  // (`stream_options.include_usage: true`): where the body says so for a backend, and with what
  // (body_edit.hpp). Absent when the client asked itself, or its `stream_options` is not an object.
  std::optional<BodySpan> usage_edit;
  const char* usage_edit_text = nullptr;
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
// `prompt` string or array; embeddings: `input` non-empty string or array; responses: `input`
// string or array) -> 400. Raw NUL bytes
// are invalid JSON. Duplicate keys are accepted, the last one wins. Rules and messages are
// listed in docs/configuration.md. The body is read in one pass (json_scanner.hpp) that stops at
// its first problem in byte order (bad UTF-8, NUL, nesting, syntax, a number beyond a double such
// as 1E1000) and builds nothing, so deep or large input costs no more than reading it once.
// `models` (optional; null counts as absent): 1 to kMaxChain distinct model names, once; with no
// `model` its first item is the model. Its items equal to `model` are dropped from the chain.
ValidationResult validate_request(Endpoint endpoint, std::string_view body, const LimitConfig& limits);

}  // namespace router
