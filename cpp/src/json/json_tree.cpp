#include "json/json_tree.hpp"

#include <utility>

#include <nlohmann/json.hpp>

#include "json/json_writer.hpp"

namespace router {

namespace {

bool plain_path_key(std::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
                       byte == '_' || byte == '-' || byte == '$' || byte >= 0x80;
    if (!plain) return false;
  }
  return true;
}

}  // namespace

void append_path_key(std::string& path, std::string_view key) {
  if (!plain_path_key(key)) {
    path += '[';
    path += json_quote(key);
    path += ']';
    return;
  }
  if (!path.empty()) path += '.';
  path += key;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  for (std::size_t i = keys_.size(); i-- > 0;) {
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

// nlohmann's number_float arrives already converted (the Wasm build's strtod is
// decimal_to_double, see cpp/wasm/strtod.cpp).
class JsonTreeBuilder final : public nlohmann::json::json_sax_t {
 public:
  JsonTreeBuilder(JsonParse& result, uint32_t max_depth, bool find_duplicate_keys)
      : result_(result), max_depth_(max_depth < kMaxJsonDepth ? max_depth : kMaxJsonDepth),
        find_duplicate_keys_(find_duplicate_keys) {}

  bool null() override {
    add(JsonValue::Kind::Null);
    return true;
  }
  bool boolean(bool value) override {
    add(JsonValue::Kind::Boolean).boolean_ = value;
    return true;
  }
  bool number_integer(number_integer_t value) override { return number(static_cast<double>(value)); }
  bool number_unsigned(number_unsigned_t value) override { return number(static_cast<double>(value)); }
  bool number_float(number_float_t value, const string_t&) override { return number(value); }
  bool string(string_t& value) override {
    add(JsonValue::Kind::String).string_ = std::move(value);
    return true;
  }
  bool binary(binary_t&) override { return true; }  // JSON text has none
  bool start_object(std::size_t) override { return open(JsonValue::Kind::Object); }
  bool start_array(std::size_t) override { return open(JsonValue::Kind::Array); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& name) override {
    JsonValue& object = *open_[depth_ - 1];
    if (find_duplicate_keys_ && result_.duplicate_key.empty()) {
      for (const auto& earlier : object.keys_) {
        if (earlier == name) {
          result_.duplicate_key = path_to(name);
          break;
        }
      }
    }
    object.keys_.push_back(std::move(name));
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::json::exception& error) override {
    result_.error_position = position;
    result_.number_overflow = error.id == 406;  // nlohmann's out_of_range id for a number beyond a double
    return false;
  }

 private:
  // The new value: the root, the next array element, or the value of the object's last key.
  JsonValue& add(JsonValue::Kind kind) {
    JsonValue& value = depth_ == 0 ? result_.root : open_[depth_ - 1]->items_.emplace_back();
    value.kind_ = kind;
    return value;
  }

  bool number(double value) {
    add(JsonValue::Kind::Number).number_ = value;
    return true;
  }

  // Children are only added to the innermost open container, so these pointers stay valid.
  bool open(JsonValue::Kind kind) {
    if (depth_ >= max_depth_) {
      result_.too_deep = true;
      return false;  // stops the parser
    }
    JsonValue* value = &add(kind);
    open_[depth_++] = value;
    return true;
  }

  bool close() {
    --depth_;
    return true;
  }

  std::string path_to(std::string_view key) const {
    std::string path;
    for (uint32_t i = 1; i < depth_; ++i) {
      const JsonValue& parent = *open_[i - 1];
      if (parent.is_object()) {
        append_path_key(path, parent.keys_.back());
      } else {
        path += '[' + std::to_string(parent.items_.size() - 1) + ']';
      }
    }
    append_path_key(path, key);
    return path;
  }

  JsonParse& result_;
  uint32_t max_depth_;
  bool find_duplicate_keys_;
  JsonValue* open_[kMaxJsonDepth];  // the containers being filled, outermost first
  uint32_t depth_ = 0;
};

JsonParse parse_json(std::string_view text, uint32_t max_depth, bool find_duplicate_keys) {
  JsonParse result;
  JsonTreeBuilder builder(result, max_depth, find_duplicate_keys);
  nlohmann::json::json_sax_t* events = &builder;  // the one SAX type the core instantiates
  result.ok = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), events);
  if (!result.ok) result.root = JsonValue();
  return result;
}

}  // namespace router
