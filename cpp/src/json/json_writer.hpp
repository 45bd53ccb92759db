// JsonWriter: appends compact JSON text. The core's outputs (/status, /v1/models, configure
// answers, log lines) are written with it rather than built as nlohmann::json trees: the tree
// building code is large in Wasm, and these shapes are fixed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace router {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  // Integers as such; others as the shortest text that reads back exactly (decimal_conversion.hpp);
  // not finite: null.
  JsonWriter& value(double number);
  JsonWriter& value(uint64_t number);
  JsonWriter& value(uint32_t number) { return value(static_cast<uint64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  // Already serialized JSON, inserted as one value.
  JsonWriter& raw(std::string_view json);
  JsonWriter& strings(const std::vector<std::string>& list);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void separate();

  std::string out_;
  bool need_comma_ = false;
};

// A JSON string literal for `text` (quotes included). Well-formed UTF-8 passes through unchanged;
// any other byte >= 0x80 becomes U+FFFD.
std::string json_quote(std::string_view text);

}  // namespace router
