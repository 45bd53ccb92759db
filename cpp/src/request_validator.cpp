#include "request_validator.hpp"

#include <array>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "utf8.hpp"

namespace router {
namespace {

using nlohmann::json;

// A model name travels in line-based ABI records and log lines, so it is kept short and free
// of control characters.
constexpr std::size_t kMaxModelBytes = 256;

RequestError bad_request(std::string message, std::string param = {}) {
  return RequestError{400, std::move(message), std::move(param)};
}

// One cheap pass over the raw bytes before any parsing: UTF-8 well-formedness of the whole body,
// raw NUL bytes (nlohmann would take one outside a string for the end of input) and nesting depth
// (brackets outside strings), so hostile input is refused before a parser builds anything for it.
// What the pre-scan must notice about a byte. Ordered so that, inside a string, every class up
// to kClose is ordinary content and can be skipped in a tight loop.
enum ByteClass : uint8_t { kPlain, kOpen, kClose, kQuote, kBackslash, kNul, kNonAscii };

constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> table{};
  table['['] = table['{'] = kOpen;
  table[']'] = table['}'] = kClose;
  table['"'] = kQuote;
  table['\\'] = kBackslash;
  table[0] = kNul;
  for (std::size_t byte = 0x80; byte < 256; ++byte) table[byte] = kNonAscii;
  return table;
}();

std::optional<RequestError> prescan(std::string_view body, uint32_t max_depth) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(body.data());
  const std::size_t size = body.size();
  uint32_t depth = 0;
  bool in_string = false;
  std::size_t i = 0;
  while (i < size) {
    const uint8_t ordinary = in_string ? kClose : kPlain;
    while (i < size && kByteClass[bytes[i]] <= ordinary) ++i;
    if (i == size) break;
    switch (kByteClass[bytes[i]]) {
      case kNonAscii: {
        const std::size_t length = utf8_sequence_length(bytes + i, size - i);
        if (length == 0) {
          return bad_request("request body is not valid UTF-8 (bad byte at offset " + std::to_string(i) + ")");
        }
        i += length;
        continue;
      }
      case kNul:
        return bad_request("request body is not valid JSON (raw NUL byte at offset " + std::to_string(i) + ")");
      case kQuote:
        in_string = !in_string;
        break;
      case kBackslash:
        // Inside a string the escaped ASCII character cannot end it; a non-ASCII one is still
        // UTF-8-checked. Outside a string a backslash is a syntax error left to the parser.
        if (in_string && i + 1 < size && bytes[i + 1] < 0x80 && bytes[i + 1] != 0) ++i;
        break;
      case kOpen:  // only reached outside strings
        if (++depth > max_depth) {
          return bad_request("request body is nested deeper than " + std::to_string(max_depth) + " levels");
        }
        break;
      case kClose:
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
    ++i;
  }
  return std::nullopt;
}

enum class Kind : uint8_t { Absent, Null, Boolean, Number, String, Array, Object };

// nlohmann's out_of_range error id for a number that overflows a double.
constexpr int kNumberOverflow = 406;

// The top-level fields the router checks; everything else passes through untouched.
enum class Field : uint8_t { Other, Model, Stream, Payload };

// SAX handler for one nlohmann pass: records what the checks need without building a DOM.
// Duplicate keys: like a DOM parse, the last occurrence of a key wins. Through nlohmann's virtual
// SAX interface, like parse_json (json_tree.hpp), so the parser is compiled once for both.
class RequestScanner final : public json::json_sax_t {
 public:
  RequestScanner(std::string_view payload_key, bool payload_is_messages)
      : payload_key_(payload_key), payload_is_messages_(payload_is_messages) {}

  bool null() override { return on_scalar(Kind::Null); }
  bool boolean(bool value) override {
    if (depth_ == 1 && field_ == Field::Stream) stream_value = value;
    return on_scalar(Kind::Boolean);
  }
  bool number_integer(json::number_integer_t) override { return on_scalar(Kind::Number); }
  bool number_unsigned(json::number_unsigned_t) override { return on_scalar(Kind::Number); }
  bool number_float(json::number_float_t, const string_t&) override { return on_scalar(Kind::Number); }
  bool string(string_t& value) override {
    if (depth_ == 1 && field_ == Field::Model) model_value = std::move(value);
    if (depth_ == 1 && field_ == Field::Payload) payload_empty_string = value.empty();
    return on_scalar(Kind::String);
  }
  bool binary(json::binary_t&) override { return true; }  // never produced by JSON text
  bool start_object(std::size_t) override { return on_open(Kind::Object); }
  bool start_array(std::size_t) override { return on_open(Kind::Array); }
  bool end_object() override { return on_close(); }
  bool end_array() override { return on_close(); }
  bool key(string_t& name) override {
    if (depth_ == 1) {
      field_ = name == "model"         ? Field::Model
               : name == "stream"      ? Field::Stream
               : name == payload_key_  ? Field::Payload
                                       : Field::Other;
    } else if (depth_ == 3 && in_message_) {
      expecting_role_ = name == "role";
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const json::exception& error) override {
    syntax_error_at = position;
    non_finite_number = error.id == kNumberOverflow;
    return false;
  }

  Kind top = Kind::Absent;
  Kind model = Kind::Absent;
  std::string model_value;
  Kind stream = Kind::Absent;
  bool stream_value = false;
  Kind payload = Kind::Absent;
  bool payload_empty_string = false;
  std::size_t payload_items = 0;
  std::optional<std::size_t> bad_message;  // first element of `messages` that is not an object...
  bool bad_message_role = false;           // ...or (when true) has no string `role`
  bool non_finite_number = false;  // e.g. 1E1000: nlohmann refuses numbers no finite double holds
  std::optional<std::size_t> syntax_error_at;

 private:
  // Called for every value, before an opened container increases the depth.
  void on_value(Kind kind) {
    if (depth_ == 0) {
      top = kind;
    } else if (depth_ == 1) {
      switch (field_) {
        case Field::Model: model = kind; break;
        case Field::Stream: stream = kind; break;
        case Field::Payload:
          payload = kind;
          payload_items = 0;
          bad_message.reset();
          bad_message_role = false;
          break;
        case Field::Other: break;
      }
    } else if (depth_ == 2 && in_payload_array_) {
      const std::size_t index = payload_items++;
      if (payload_is_messages_ && kind != Kind::Object && !bad_message) bad_message = index;
    } else if (depth_ == 3 && in_message_ && expecting_role_) {
      message_has_role_ = kind == Kind::String;
      expecting_role_ = false;
    }
  }

  bool on_scalar(Kind kind) {
    on_value(kind);
    return true;
  }

  bool on_open(Kind kind) {
    on_value(kind);
    if (depth_ == 1 && field_ == Field::Payload && kind == Kind::Array) in_payload_array_ = true;
    if (depth_ == 2 && in_payload_array_ && payload_is_messages_ && kind == Kind::Object) {
      in_message_ = true;
      message_has_role_ = false;
      expecting_role_ = false;
    }
    ++depth_;
    return true;
  }

  bool on_close() {
    --depth_;
    if (depth_ == 2 && in_message_) {
      in_message_ = false;
      if (!message_has_role_ && !bad_message) {
        bad_message = payload_items - 1;
        bad_message_role = true;
      }
    } else if (depth_ == 1 && in_payload_array_) {
      in_payload_array_ = false;
    }
    return true;
  }

  std::string_view payload_key_;
  bool payload_is_messages_;
  uint32_t depth_ = 0;
  Field field_ = Field::Other;
  bool in_payload_array_ = false;
  bool in_message_ = false;
  bool message_has_role_ = false;
  bool expecting_role_ = false;
};

bool has_control_character(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

std::optional<RequestError> check_payload(Endpoint endpoint, const RequestScanner& scan) {
  switch (endpoint) {
    case Endpoint::ChatCompletions:
      if (scan.payload != Kind::Array || scan.payload_items == 0) {
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
      if (scan.payload != Kind::String && scan.payload != Kind::Array) {
        return bad_request("`prompt` is required and must be a string or an array", "prompt");
      }
      return std::nullopt;
    case Endpoint::Embeddings:
      if ((scan.payload != Kind::String && scan.payload != Kind::Array) ||
          (scan.payload == Kind::String && scan.payload_empty_string) ||
          (scan.payload == Kind::Array && scan.payload_items == 0)) {
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
  if (auto error = prescan(body, limits.max_depth)) return failure(std::move(*error));

  RequestScanner scan(payload_key(endpoint), endpoint == Endpoint::ChatCompletions);
  json::json_sax_t* events = &scan;  // the one SAX type the core instantiates
  const bool parsed = json::sax_parse(body.data(), body.data() + body.size(), events);
  if (scan.non_finite_number) {
    return failure(bad_request("request body contains a number too large to represent"));
  }
  if (!parsed) {
    std::string message = "request body is not valid JSON";
    // nlohmann's position is 1-based and counts the end of input as one more character.
    if (scan.syntax_error_at && *scan.syntax_error_at > body.size()) {
      message += " (the body ends too early)";
    } else if (scan.syntax_error_at) {
      message += " (error near byte " + std::to_string(*scan.syntax_error_at) + ")";
    }
    return failure(bad_request(std::move(message)));
  }
  if (scan.top != Kind::Object) return failure(bad_request("request body must be a JSON object"));

  if (scan.model != Kind::String || scan.model_value.empty()) {
    return failure(bad_request("`model` is required and must be a non-empty string", "model"));
  }
  if (scan.model_value.size() > kMaxModelBytes) {
    return failure(bad_request("`model` must be at most " + std::to_string(kMaxModelBytes) + " bytes", "model"));
  }
  if (has_control_character(scan.model_value)) {
    return failure(bad_request("`model` must not contain control characters", "model"));
  }
  // null is accepted as "not given", as OpenAI's API does for optional fields.
  if (scan.stream != Kind::Absent && scan.stream != Kind::Null && scan.stream != Kind::Boolean) {
    return failure(bad_request("`stream` must be a boolean", "stream"));
  }
  if (auto error = check_payload(endpoint, scan)) return failure(std::move(*error));

  return ValidationResult{ValidRequest{std::move(scan.model_value), scan.stream == Kind::Boolean && scan.stream_value},
                          std::nullopt};
}

}  // namespace router
