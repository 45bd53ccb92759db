#include "json/json_writer.hpp"

#include <cmath>

#include "json/decimal_conversion.hpp"
#include "json/utf8.hpp"

namespace router {

namespace {
void append_unsigned(std::string& out, uint64_t n) {
  char digits[20];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n);
  while (len) out += digits[--len];
}

// Control characters are escaped; a byte that is not part of well-formed UTF-8 becomes U+FFFD, so
// the output is always valid JSON whatever text ended up in it.
void append_quoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char u = bytes[i];
    if (u == '"' || u == '\\') {
      out += '\\';
      out += static_cast<char>(u);
    } else if (u == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else if (u < 0x80) {
      out += static_cast<char>(u);
    } else if (const std::size_t length = utf8_sequence_length(bytes + i, text.size() - i); length != 0) {
      out.append(text.data() + i, length);
      i += length - 1;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    }
  }
  out += '"';
}
}  // namespace

std::string json_quote(std::string_view text) {
  std::string out;
  append_quoted(out, text);
  return out;
}

void JsonWriter::separate() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  out_ += '{';
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  separate();
  out_ += '[';
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  separate();
  append_quoted(out_, name);
  out_ += ':';
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  separate();
  append_quoted(out_, text);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t number) {
  separate();
  append_unsigned(out_, number);
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  separate();
  if (number == std::floor(number) && std::fabs(number) < 9007199254740992.0) {  // exact integers
    if (number < 0) out_ += '-';
    append_unsigned(out_, static_cast<uint64_t>(std::fabs(number)));
  } else {
    out_ += double_to_decimal(number);  // "null" when not finite
  }
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  separate();
  out_ += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  separate();
  out_ += json;
  return *this;
}

JsonWriter& JsonWriter::strings(const std::vector<std::string>& list) {
  begin_array();
  for (const auto& s : list) value(std::string_view(s));
  return end_array();
}

}  // namespace router
