// JsonValue: a small read-only JSON tree for the core's occasional inputs (the configure request,
// ROUTER_CONFIG, the describe() answers), filled by nlohmann/json's SAX parser.
//
// Why not nlohmann's own DOM (basic_json): in Wasm its value type, std::map objects and the extra
// parser instantiation it needs cost ~20 KB; this tree costs a few. Only these inputs go through
// nlohmann (one SAX interface, nlohmann::json_sax, so its parser is compiled once); client
// bodies, read on every request, go through the core's own scanner (json_scanner.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace router {

class JsonValue {
 public:
  enum class Kind : uint8_t { Null, Boolean, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_boolean() const { return kind_ == Kind::Boolean; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }

  bool boolean() const { return boolean_; }
  double number() const { return number_; }  // integers too, converted as static_cast<double>
  const std::string& string() const { return string_; }

  // Arrays: the elements. Objects: the member values in document order, key(i) naming item(i).
  std::size_t size() const { return items_.size(); }
  const JsonValue& item(std::size_t i) const { return items_[i]; }
  const std::string& key(std::size_t i) const { return keys_[i]; }
  // The object member named `key` (the last one if repeated, as a DOM keeps it), or nullptr.
  const JsonValue* find(std::string_view key) const;

 private:
  friend class JsonTreeBuilder;

  Kind kind_ = Kind::Null;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<std::string> keys_;
  std::vector<JsonValue> items_;
};

struct JsonParse {
  bool ok = false;
  JsonValue root;
  // When !ok: nlohmann's error position (1-based; one past the end when the text ends early),
  // whether the error is a number beyond the range of a double (e.g. 1E1000), or whether the
  // text nests deeper than allowed (then error_position is 0).
  std::size_t error_position = 0;
  bool number_overflow = false;
  bool too_deep = false;
  // With find_duplicate_keys: the path ("retry.maxAttempts", "a[2].b", see append_path_key) of
  // the first key repeated within one object, "" when none is.
  std::string duplicate_key;
};

constexpr uint32_t kMaxJsonDepth = 64;

// Appends one object key to a field path such as "backends.BACKEND_A.weight". A key that is empty
// or holds anything but letters, digits, '_', '-', '$' or non-ASCII is written quoted, as in
// `backends["my backend"]` or `[""].a`, so that every path names exactly one place.
void append_path_key(std::string& path, std::string_view key);

// Parses strict JSON (RFC 8259, UTF-8 checked). `max_depth` (at most kMaxJsonDepth) bounds the
// nesting, which keeps the tree's recursive destruction shallow. Duplicate detection compares each
// key with its earlier siblings (quadratic): meant for trusted text such as ROUTER_CONFIG.
JsonParse parse_json(std::string_view text, uint32_t max_depth, bool find_duplicate_keys = false);

}  // namespace router
