// JSON scanner: one pass over a JSON text that checks it strictly and reports each key and value
// to a handler, building nothing. Request validation runs it on every client body, so it allocates
// nothing and copies no string; a handler that needs a string's content decodes it with
// decode_json_string().
//
// What it accepts is exactly what nlohmann/json's strict parser accepts (RFC 8259): no comments,
// trailing commas, leading zeros, single quotes or trailing data; raw control characters are not
// allowed in strings; escapes are the eight RFC ones and \uXXXX, where a high surrogate must be
// followed by a \u low surrogate and a low surrogate cannot stand alone; every byte is well-formed
// UTF-8; a number must fit a double (1E1000 is refused, 1E-400 is accepted as zero); a UTF-8 byte
// order mark at the very start is skipped. cpp/fuzz/fuzz_request_validator compares the two.
// Beyond that it refuses a raw NUL byte and nesting deeper than `max_depth`, the latter as soon
// as a container opens one level too many, so deep input costs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace router {

enum class JsonKind : uint8_t { Null, Boolean, Number, String, Array, Object };

// A key or value as it stands in the text. A string's `text` is the bytes between its quotes with
// escapes left as they are (`escaped` says whether there are any); a literal's or number's `text`
// is its characters; a container's is its opening bracket.
struct JsonToken {
  JsonKind kind;
  std::string_view text;
  bool escaped = false;
};

// Receives what scan_json() finds, in document order. `depth` is the number of containers around
// the value: 0 for the top-level value, 1 for its members.
class JsonEvents {
 public:
  // Every value; a container before its contents.
  virtual void value(uint32_t depth, const JsonToken& token) = 0;
  // An object member's key, just before its value; `depth` is the value's.
  virtual void key(uint32_t depth, const JsonToken& name) = 0;
  // The end of a container that value() reported at `depth`.
  virtual void close(uint32_t depth) = 0;

 protected:
  ~JsonEvents() = default;
};

// The first problem in the text, in byte order; scanning stops there.
struct JsonScanError {
  enum class Kind : uint8_t {
    Syntax,          // not JSON; `offset` is the byte that cannot be there, text.size() when the text ends early
    InvalidUtf8,     // `offset` is the first byte of the ill-formed sequence
    NulByte,         // a raw NUL byte, in a string or not
    TooDeep,         // `offset` is the bracket that opens level max_depth + 1
    NumberTooLarge,  // `offset` is the number's first byte
  };
  Kind kind;
  std::size_t offset;  // 0-based
};

std::optional<JsonScanError> scan_json(std::string_view text, uint32_t max_depth, JsonEvents& events);

// The content of a string token's `text` (escapes decoded; \u escapes become UTF-8). Only for text
// that scan_json() accepted as a string.
std::string decode_json_string(std::string_view text);

// Whether a key or string token reads as `word` once decoded (decodes only when it holds escapes).
bool json_string_equals(const JsonToken& token, std::string_view word);

}  // namespace router
