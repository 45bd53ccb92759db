#include "api/request_validator.hpp"

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
  RequestFields(std::string_view payload_key, bool payload_is_messages)
      : payload_key_(payload_key), payload_is_messages_(payload_is_messages) {}

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
        case Field::Other: break;
      }
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
                                                         : Field::Other;
    } else if (depth == 3 && in_message_) {
      expecting_role_ = json_string_equals(name, "role");
    }
  }

  void close(uint32_t depth) override {
    if (depth == 2 && in_message_) {
      in_message_ = false;
      if (!message_has_role_ && !bad_message) {
        bad_message = payload_items - 1;
        bad_message_role = true;
      }
    } else if (depth == 1 && in_payload_array_) {
      in_payload_array_ = false;
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

 private:
  // The top-level fields the router checks; everything else passes through untouched.
  enum class Field : uint8_t { Other, Model, Stream, Payload };

  std::string_view payload_key_;
  bool payload_is_messages_;
  Field field_ = Field::Other;
  bool in_payload_array_ = false;
  bool in_message_ = false;
  bool message_has_role_ = false;
  bool expecting_role_ = false;
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
  }
  return std::nullopt;
}

std::string_view payload_key(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::ChatCompletions: return "messages";
    case Endpoint::Completions: return "prompt";
    case Endpoint::Embeddings: return "input";
  }
  return "messages";
}

ValidationResult failure(RequestError error) { return ValidationResult{std::nullopt, std::move(error)}; }

}  // namespace

ValidationResult validate_request(Endpoint endpoint, std::string_view body, const LimitConfig& limits) {
  if (body.size() > limits.max_body_bytes) {
    return failure(RequestError{413,
                                "request body is larger than the limit of " +
                                    std::to_string(limits.max_body_bytes) + " bytes",
                                ""});
  }
  if (body.empty()) return failure(bad_request("request body is empty"));

  RequestFields scan(payload_key(endpoint), endpoint == Endpoint::ChatCompletions);
  if (auto error = scan_json(body, limits.max_depth, scan)) {
    return failure(bad_request(scan_error_message(*error, body.size(), limits.max_depth)));
  }
  if (scan.top != JsonKind::Object) return failure(bad_request("request body must be a JSON object"));

  if (scan.model != JsonKind::String || scan.model_text.text.empty()) {
    return failure(bad_request("`model` is required and must be a non-empty string", "model"));
  }
  std::string model = decode_json_string(scan.model_text.text);
  if (model.size() > kMaxModelBytes) {
    return failure(bad_request("`model` must be at most " + std::to_string(kMaxModelBytes) + " bytes", "model"));
  }
  if (has_control_character(model)) {
    return failure(bad_request("`model` must not contain control characters", "model"));
  }
  // null is accepted as "not given", as OpenAI's API does for optional fields.
  if (scan.stream && scan.stream != JsonKind::Null && scan.stream != JsonKind::Boolean) {
    return failure(bad_request("`stream` must be a boolean", "stream"));
  }
  if (auto error = check_payload(endpoint, scan)) return failure(std::move(*error));

  return ValidationResult{ValidRequest{std::move(model), scan.stream == JsonKind::Boolean && scan.stream_value},
                          std::nullopt};
}

}  // namespace router
