#include "api/request_validator.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>

#include "json/json_scanner.hpp"

namespace router {
namespace {

// A model name travels in line-based ABI records and log lines, so it is kept short and free
// of control characters.
constexpr std::size_t kMaxModelBytes = 256;

RequestError bad_request(std::string message, std::string param = {}) {
  return RequestError{400, std::move(message), std::move(param)};
}

// What the checks need from one scan of the body, recorded as it goes by. Duplicate keys: like
// a DOM parse, the last occurrence of a key wins.
class RequestFields final : public JsonEvents {
 public:
  RequestFields(std::string_view body, std::string_view payload_key, bool payload_is_messages)
      : body_(body), payload_key_(payload_key), payload_is_messages_(payload_is_messages) {}

  void value(uint32_t depth, const JsonToken& token) override {
    const JsonKind kind = token.kind;
    if (depth == 0) {
      top = kind;
    } else if (depth == 1) {
      switch (field_) {
        case Field::Model:
          model = kind;
          model_text = token;  // decoded only at the end: only the last `model` counts
          break;
        case Field::Stream:
          stream = kind;
          stream_value = kind == JsonKind::Boolean && token.text == "true";
          break;
        case Field::Payload:
          payload = kind;
          payload_empty_string = token.text.empty();  // a string's text is empty only when its content is
          payload_items = 0;
          bad_message.reset();
          bad_message_role = false;
          in_payload_array_ = kind == JsonKind::Array;
          break;
        case Field::Models:
          models = kind;
          models_value_at = offset(token.text.data());
          models_items.clear();
          in_models_array_ = kind == JsonKind::Array;
          break;
        case Field::StreamOptions:
          stream_options = kind;
          stream_options_value = token;
          stream_options_members = 0;
          include_usage.reset();
          break;
        case Field::Other: break;
      }
    } else if (depth == 2 && field_ == Field::StreamOptions && stream_options == JsonKind::Object) {
      ++stream_options_members;
      if (expecting_include_usage_) include_usage = token;
    } else if (depth == 2 && in_models_array_) {
      if (models_items.size() <= kMaxChain) models_items.push_back(token);  // one past the bound is enough
    } else if (depth == 2 && in_payload_array_) {
      const std::size_t index = payload_items++;
      if (!payload_is_messages_) return;
      if (kind != JsonKind::Object) {
        if (!bad_message) bad_message = index;
        return;
      }
      in_message_ = true;
      message_has_role_ = false;
      expecting_role_ = false;
    } else if (depth == 3 && in_message_ && expecting_role_) {
      message_has_role_ = kind == JsonKind::String;
      expecting_role_ = false;
    }
  }

  void key(uint32_t depth, const JsonToken& name) override {
    if (depth == 1) {
      field_ = json_string_equals(name, "model")         ? Field::Model
               : json_string_equals(name, "stream")      ? Field::Stream
               : json_string_equals(name, payload_key_)  ? Field::Payload
               : json_string_equals(name, "models")      ? Field::Models
               : json_string_equals(name, "stream_options") ? Field::StreamOptions
                                                         : Field::Other;
      if (field_ == Field::Models) {
        models_keys++;
        models_key_at = offset(name.text.data()) - 1;  // its opening quote
      }
    } else if (depth == 3 && in_message_) {
      expecting_role_ = json_string_equals(name, "role");
    } else if (depth == 2 && field_ == Field::StreamOptions) {
      expecting_include_usage_ = json_string_equals(name, "include_usage");
    }
  }

  void close(uint32_t depth) override {
    if (depth == 2 && in_message_) {
      in_message_ = false;
      if (!message_has_role_ && !bad_message) {
        bad_message = payload_items - 1;
        bad_message_role = true;
      }
    } else if (depth == 1) {
      in_payload_array_ = false;
      in_models_array_ = false;
    }
  }

  // Each is empty when the body has no such value.
  std::optional<JsonKind> top;
  std::optional<JsonKind> model;
  JsonToken model_text{JsonKind::Null, {}};
  std::optional<JsonKind> stream;
  bool stream_value = false;
  std::optional<JsonKind> payload;
  bool payload_empty_string = false;
  std::size_t payload_items = 0;
  std::optional<std::size_t> bad_message;  // first element of `messages` that is not an object...
  bool bad_message_role = false;           // ...or (when true) has no string `role`
  std::optional<JsonKind> models;
  std::size_t models_keys = 0;     // how many `models` members
  std::size_t models_key_at = 0;   // offsets in the body of the last one's key and value
  std::size_t models_value_at = 0;
  std::vector<JsonToken> models_items;  // its first kMaxChain + 1 items
  std::optional<JsonKind> stream_options;  // the last `stream_options`: its value (an object: its `{`)...
  JsonToken stream_options_value{JsonKind::Null, {}};
  std::size_t stream_options_members = 0;  // ...its members, and its last `include_usage` value
  std::optional<JsonToken> include_usage;

  std::size_t offset(const char* p) const { return static_cast<std::size_t>(p - body_.data()); }

 private:
  // The top-level fields the router checks; everything else passes through untouched.
  enum class Field : uint8_t { Other, Model, Stream, Payload, Models, StreamOptions };

  std::string_view body_;

  std::string_view payload_key_;
  bool payload_is_messages_;
  Field field_ = Field::Other;
  bool in_payload_array_ = false;
  bool in_models_array_ = false;
  bool in_message_ = false;
  bool message_has_role_ = false;
  bool expecting_role_ = false;
  bool expecting_include_usage_ = false;
};

std::string scan_error_message(const JsonScanError& error, std::size_t body_size, uint32_t max_depth) {
  switch (error.kind) {
    case JsonScanError::Kind::InvalidUtf8:
      return "request body is not valid UTF-8 (bad byte at offset " + std::to_string(error.offset) + ")";
    case JsonScanError::Kind::NulByte:
      return "request body is not valid JSON (raw NUL byte at offset " + std::to_string(error.offset) + ")";
    case JsonScanError::Kind::TooDeep:
      return "request body is nested deeper than " + std::to_string(max_depth) + " levels";
    case JsonScanError::Kind::NumberTooLarge:
      return "request body contains a number too large to represent";
    case JsonScanError::Kind::Syntax:
      break;
  }
  // Offsets in this message are 1-based (the first byte is byte 1): the byte that cannot stand
  // where it does.
  if (error.offset >= body_size) return "request body is not valid JSON (the body ends too early)";
  return "request body is not valid JSON (error near byte " + std::to_string(error.offset + 1) + ")";
}

bool has_control_character(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

std::optional<RequestError> check_payload(Endpoint endpoint, const RequestFields& scan) {
  switch (endpoint) {
    case Endpoint::ChatCompletions:
      if (scan.payload != JsonKind::Array || scan.payload_items == 0) {
        return bad_request("`messages` is required and must be a non-empty array", "messages");
      }
      if (scan.bad_message) {
        const std::string where = "messages[" + std::to_string(*scan.bad_message) + "]";
        if (scan.bad_message_role) {
          return bad_request("`" + where + ".role` is required and must be a string", where + ".role");
        }
        return bad_request("`" + where + "` must be an object", where);
      }
      return std::nullopt;
    case Endpoint::Completions:
      if (scan.payload != JsonKind::String && scan.payload != JsonKind::Array) {
        return bad_request("`prompt` is required and must be a string or an array", "prompt");
      }
      return std::nullopt;
    case Endpoint::Embeddings:
      if ((scan.payload != JsonKind::String && scan.payload != JsonKind::Array) ||
          (scan.payload == JsonKind::String && scan.payload_empty_string) ||
          (scan.payload == JsonKind::Array && scan.payload_items == 0)) {
        return bad_request("`input` is required and must be a non-empty string or array", "input");
      }
      return std::nullopt;
    case Endpoint::Responses:
      if (scan.payload != JsonKind::String && scan.payload != JsonKind::Array) {
        return bad_request("`input` is required and must be a string or an array", "input");
      }
      return std::nullopt;
  }
  return std::nullopt;
}

std::string_view payload_key(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::ChatCompletions: return "messages";
    case Endpoint::Completions: return "prompt";
    case Endpoint::Embeddings:
    case Endpoint::Responses: return "input";
  }
  return "messages";
}

ValidationResult failure(RequestError error) { return ValidationResult{std::nullopt, std::move(error)}; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The end of the `models` value at `at`: an array of strings (validated), else a literal (null).
std::size_t models_value_end(std::string_view body, std::size_t at) {
  if (body[at] != '[') return at + 4;
  bool in_string = false;
  for (std::size_t i = at + 1; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i; else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ']') {
      return i + 1;
    }
  }
  return body.size();
}

// The `models` member, with the comma before it (else the one after it) when `with_comma`.
BodySpan models_member(std::string_view body, const RequestFields& scan, bool with_comma) {
  const std::size_t at = scan.models_key_at;
  const std::size_t end = models_value_end(body, scan.models_value_at);
  if (!with_comma) return {at, end - at};
  std::size_t before = at;
  while (before > 0 && is_space(body[before - 1])) --before;
  if (before > 0 && body[before - 1] == ',') return {before - 1, end - (before - 1)};
  std::size_t after = end;
  while (after < body.size() && is_space(body[after])) ++after;
  if (after < body.size() && body[after] == ',') return {at, after + 1 - at};
  return {at, end - at};
}

// `models`: absent or null, else 1 to kMaxChain distinct usable names, given once.
std::optional<RequestError> read_models(const RequestFields& scan, std::vector<std::string>& out) {
  const std::string what = "`models` must be an array of 1 to " + std::to_string(kMaxChain) +
                           " distinct model names (non-empty strings of at most " + std::to_string(kMaxModelBytes) +
                           " bytes without control characters)";
  if (scan.models_keys > 1) return bad_request("`models` must appear only once", "models");
  if (!scan.models || scan.models == JsonKind::Null) return std::nullopt;
  if (scan.models != JsonKind::Array || scan.models_items.empty() || scan.models_items.size() > kMaxChain)
    return bad_request(what, "models");
  for (std::size_t i = 0; i < scan.models_items.size(); ++i) {
    const JsonToken& item = scan.models_items[i];
    std::string name = item.kind == JsonKind::String ? decode_json_string(item.text) : std::string();
    if (name.empty() || name.size() > kMaxModelBytes || has_control_character(name) ||
        std::find(out.begin(), out.end(), name) != out.end())
      return bad_request(what, "models[" + std::to_string(i) + "]");
    out.push_back(std::move(name));
  }
  return std::nullopt;
}

// `model` and the chain after it; with no `model`, the first of `models` is the model.
ValidationResult model_and_chain(std::string_view body, const RequestFields& scan) {
  ValidRequest request;
  if (auto error = read_models(scan, request.models)) return failure(std::move(*error));
  const bool from_models = (!scan.model || scan.model == JsonKind::Null) && !request.models.empty();
  if (from_models) {
    request.model = request.models.front();
    request.models.erase(request.models.begin());
  } else {
    if (scan.model != JsonKind::String || scan.model_text.text.empty()) {
      return failure(bad_request("`model` is required and must be a non-empty string", "model"));
    }
    request.model = decode_json_string(scan.model_text.text);
    if (request.model.size() > kMaxModelBytes) {
      return failure(bad_request("`model` must be at most " + std::to_string(kMaxModelBytes) + " bytes", "model"));
    }
    if (has_control_character(request.model)) {
      return failure(bad_request("`model` must not contain control characters", "model"));
    }
    auto& chain = request.models;
    chain.erase(std::remove(chain.begin(), chain.end(), request.model), chain.end());
    request.model_value = BodySpan{scan.offset(scan.model_text.text.data()) - 1, scan.model_text.text.size() + 2};
  }
  if (scan.models) request.models_member = models_member(body, scan, !from_models);
  return ValidationResult{std::move(request), std::nullopt};
}

// Where a stream's body asks a backend for its usage when the client did not (see ValidRequest).
// Only chat and completions streams: a Responses stream always reports usage in its last event.
void find_usage_edit(Endpoint endpoint, const RequestFields& scan, std::string_view body, ValidRequest& request) {
  if (!request.stream || (endpoint != Endpoint::ChatCompletions && endpoint != Endpoint::Completions)) return;
  const JsonToken& value = scan.stream_options_value;
  const std::size_t at = scan.offset(value.text.data());
  if (!scan.stream_options || scan.stream_options == JsonKind::Null) {
    // Absent: a first member of the body's object (its `{` is its first byte but for spaces).
    if (scan.stream_options) {
      request.usage_edit = BodySpan{at, value.text.size()};
      request.usage_edit_text = R"({"include_usage":true})";
      return;
    }
    std::size_t open = 0;
    while (open < body.size() && body[open] != '{') ++open;
    request.usage_edit = BodySpan{open + 1, 0};
    request.usage_edit_text = R"("stream_options":{"include_usage":true},)";
    return;
  }
  if (scan.stream_options != JsonKind::Object) return;  // the backend judges a bad value
  if (!scan.include_usage) {
    request.usage_edit = BodySpan{at + 1, 0};
    request.usage_edit_text = scan.stream_options_members > 0 ? R"("include_usage":true,)" : R"("include_usage":true)";
    return;
  }
  const JsonToken& flag = *scan.include_usage;
  if (flag.kind == JsonKind::Boolean && flag.text == "true") return;  // the client's own
  if (flag.kind == JsonKind::Array || flag.kind == JsonKind::Object) return;
  const std::size_t quotes = flag.kind == JsonKind::String ? 1 : 0;
  request.usage_edit = BodySpan{scan.offset(flag.text.data()) - quotes, flag.text.size() + 2 * quotes};
  request.usage_edit_text = "true";
}

}  // namespace

ValidationResult validate_request(Endpoint endpoint, std::string_view body, const LimitConfig& limits) {
  if (body.size() > limits.max_body_bytes) {
    return failure(RequestError{413,
                                "request body is larger than the limit of " +
                                    std::to_string(limits.max_body_bytes) + " bytes",
                                ""});
  }
  if (body.empty()) return failure(bad_request("request body is empty"));

  RequestFields scan(body, payload_key(endpoint), endpoint == Endpoint::ChatCompletions);
  if (auto error = scan_json(body, limits.max_depth, scan)) {
    return failure(bad_request(scan_error_message(*error, body.size(), limits.max_depth)));
  }
  if (scan.top != JsonKind::Object) return failure(bad_request("request body must be a JSON object"));

  ValidationResult result = model_and_chain(body, scan);
  if (result.error) return result;
  // null is accepted as "not given", as OpenAI's API does for optional fields.
  if (scan.stream && scan.stream != JsonKind::Null && scan.stream != JsonKind::Boolean) {
    return failure(bad_request("`stream` must be a boolean", "stream"));
  }
  if (auto error = check_payload(endpoint, scan)) return failure(std::move(*error));

  result.request->stream = scan.stream == JsonKind::Boolean && scan.stream_value;
  find_usage_edit(endpoint, scan, body, *result.request);
  return result;
}

}  // namespace router
