#include "json/json_scanner.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "json/decimal_conversion.hpp"
#include "json/utf8.hpp"

namespace router {
namespace {

// String content that needs no attention: printable ASCII other than '"' and '\'.
constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> table{};
  for (std::size_t byte = 0x20; byte < 0x80; ++byte) table[byte] = byte != '"' && byte != '\\';
  return table;
}();

// Skips plain string content from `pos`: eight bytes at a time while all eight are plain (most of
// a request body is prose in one string), then byte by byte up to the first byte that is not.
std::size_t skip_plain_string_bytes(const unsigned char* bytes, std::size_t pos, std::size_t size) {
  constexpr uint64_t kOnes = 0x0101010101010101u;
  constexpr uint64_t kHighBits = 0x8080808080808080u;
  while (size - pos >= 8) {
    uint64_t word;
    std::memcpy(&word, bytes + pos, 8);
    const uint64_t quotes = word ^ (kOnes * '"');
    const uint64_t backslashes = word ^ (kOnes * '\\');
    // With every byte below 0x80, a subtraction sets some byte's high bit exactly when some byte
    // is below the subtrahend (a borrow only follows such a byte): a control character, or a zero
    // after the XOR, i.e. '"' or '\'. A byte of 0x80 or more shows in `word` itself.
    if (((word - kOnes * 0x20) | (quotes - kOnes) | (backslashes - kOnes) | word) & kHighBits) break;
    pos += 8;
  }
  while (pos < size && kPlainStringByte[bytes[pos]]) ++pos;
  return pos;
}

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

int hex_digit_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_high_surrogate(int code_point) { return code_point >= 0xD800 && code_point <= 0xDBFF; }
bool is_low_surrogate(int code_point) { return code_point >= 0xDC00 && code_point <= 0xDFFF; }

// Whether each open container is an object, one bit per level: inline up to 256 levels (the most
// limits.maxDepth allows), on the heap only for a caller that asks for more.
class ContainerKinds {
 public:
  explicit ContainerKinds(uint32_t max_depth) {
    if (max_depth > kInlineLevels) heap_.resize(max_depth / 64 + 1);
  }
  void set(uint32_t level, bool object) {
    uint64_t& word = heap_.empty() ? inline_[level / 64] : heap_[level / 64];
    const uint64_t bit = uint64_t{1} << (level % 64);
    word = object ? (word | bit) : (word & ~bit);
  }
  bool object(uint32_t level) const {
    const uint64_t word = heap_.empty() ? inline_[level / 64] : heap_[level / 64];
    return (word >> (level % 64)) & 1;
  }

 private:
  static constexpr uint32_t kInlineLevels = 256;
  std::array<uint64_t, kInlineLevels / 64> inline_{};
  std::vector<uint64_t> heap_;
};

class Scanner {
 public:
  Scanner(std::string_view text, uint32_t max_depth, JsonEvents& events)
      : bytes_(reinterpret_cast<const unsigned char*>(text.data())), size_(text.size()), text_(text),
        max_depth_(max_depth), events_(events), kinds_(max_depth) {}

  std::optional<JsonScanError> run() {
    if (scan_document()) return std::nullopt;
    return error_;
  }

 private:
  bool scan_document() {
    if (size_ >= 3 && bytes_[0] == 0xEF && bytes_[1] == 0xBB && bytes_[2] == 0xBF) pos_ = 3;
    uint32_t depth = 0;
    while (true) {
      // A value is due.
      skip_whitespace();
      if (pos_ == size_) return fail_at(pos_);
      switch (bytes_[pos_]) {
        case '{':
        case '[': {
          const bool object = bytes_[pos_] == '{';
          if (depth >= max_depth_) return fail(JsonScanError::Kind::TooDeep, pos_);
          events_.value(depth, {object ? JsonKind::Object : JsonKind::Array, text_.substr(pos_, 1)});
          kinds_.set(depth++, object);
          ++pos_;
          skip_whitespace();
          if (pos_ < size_ && bytes_[pos_] == (object ? '}' : ']')) {
            ++pos_;
            events_.close(--depth);
            break;  // an empty container is a complete value
          }
          if (object && !scan_key(depth)) return false;
          continue;  // its first value is due
        }
        case '"': {
          JsonToken token{JsonKind::String, {}};
          if (!scan_string(token)) return false;
          events_.value(depth, token);
          break;
        }
        case 't':
          if (!scan_literal(depth, "true", JsonKind::Boolean)) return false;
          break;
        case 'f':
          if (!scan_literal(depth, "false", JsonKind::Boolean)) return false;
          break;
        case 'n':
          if (!scan_literal(depth, "null", JsonKind::Null)) return false;
          break;
        default:
          if (!scan_number(depth)) return false;
          break;
      }

      bool done = false;
      if (!after_value(depth, done)) return false;
      if (done) return true;
    }
  }

  // A value is complete: what follows it closes containers, or separates it from the next value
  // (then that value is due). `done`: the document ended (true returned when nothing follows it).
  bool after_value(uint32_t& depth, bool& done) {
    while (true) {
      skip_whitespace();
      if (depth == 0) {
        done = true;
        return pos_ == size_ || fail_at(pos_);
      }
      if (pos_ == size_) return fail_at(pos_);
      const bool object = kinds_.object(depth - 1);
      const unsigned char c = bytes_[pos_];
      if (c == ',') {
        ++pos_;
        if (object) {
          skip_whitespace();
          if (!scan_key(depth)) return false;
        }
        return true;  // the next value is due
      }
      if (c != (object ? '}' : ']')) return fail_at(pos_);
      ++pos_;
      events_.close(--depth);
    }
  }

  // A member's key and the colon after it; the value is next.
  bool scan_key(uint32_t depth) {
    if (pos_ == size_ || bytes_[pos_] != '"') return fail_at(pos_);
    JsonToken name{JsonKind::String, {}};
    if (!scan_string(name)) return false;
    events_.key(depth, name);
    skip_whitespace();
    if (pos_ == size_ || bytes_[pos_] != ':') return fail_at(pos_);
    ++pos_;
    return true;
  }

  // From the opening quote to past the closing one.
  bool scan_string(JsonToken& token) {
    const std::size_t start = ++pos_;
    bool escaped = false;
    while (true) {
      pos_ = skip_plain_string_bytes(bytes_, pos_, size_);
      if (pos_ == size_) return fail_at(pos_);
      const unsigned char c = bytes_[pos_];
      if (c == '"') break;
      if (c == '\\') {
        escaped = true;
        if (!scan_escape()) return false;
      } else if (c >= 0x80) {
        const std::size_t length = utf8_sequence_length(bytes_ + pos_, size_ - pos_);
        if (length == 0) return fail(JsonScanError::Kind::InvalidUtf8, pos_);
        pos_ += length;
      } else {
        return fail_at(pos_);  // a raw control character
      }
    }
    token.text = text_.substr(start, pos_ - start);
    token.escaped = escaped;
    ++pos_;
    return true;
  }

  // From the backslash to past the escape (two \u escapes for a surrogate pair).
  bool scan_escape() {
    ++pos_;
    if (pos_ == size_) return fail_at(pos_);
    switch (bytes_[pos_]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        ++pos_;
        return true;
      case 'u': {
        int code_point;
        if (!scan_code_point(code_point)) return false;
        // Errors point at the last hex digit of the escape that is wrong, as nlohmann's do.
        if (is_low_surrogate(code_point)) return fail(JsonScanError::Kind::Syntax, pos_ - 1);
        if (!is_high_surrogate(code_point)) return true;
        if (pos_ == size_ || bytes_[pos_] != '\\') return fail_at(pos_);
        ++pos_;
        if (pos_ == size_ || bytes_[pos_] != 'u') return fail_at(pos_);
        if (!scan_code_point(code_point)) return false;
        return is_low_surrogate(code_point) || fail(JsonScanError::Kind::Syntax, pos_ - 1);
      }
      default:
        return fail_at(pos_);
    }
  }

  // The four hex digits after the 'u' at pos_.
  bool scan_code_point(int& code_point) {
    ++pos_;
    code_point = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (pos_ == size_) return fail_at(pos_);
      const int digit = hex_digit_value(bytes_[pos_]);
      if (digit < 0) return fail_at(pos_);
      code_point = code_point * 16 + digit;
    }
    return true;
  }

  bool scan_literal(uint32_t depth, std::string_view word, JsonKind kind) {
    for (std::size_t i = 0; i < word.size(); ++i) {
      if (pos_ + i == size_ || bytes_[pos_ + i] != static_cast<unsigned char>(word[i])) return fail_at(pos_ + i);
    }
    events_.value(depth, {kind, text_.substr(pos_, word.size())});
    pos_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool scan_number(uint32_t depth) {
    const std::size_t start = pos_;
    if (bytes_[pos_] == '-') ++pos_;
    if (pos_ == size_ || !is_digit(bytes_[pos_])) return fail_at(pos_);
    std::size_t integer_digits = 0;  // without the lone leading zero of "0.5"
    if (bytes_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < size_ && is_digit(bytes_[pos_])) ++pos_, ++integer_digits;
    }
    if (pos_ < size_ && bytes_[pos_] == '.') {
      ++pos_;
      if (pos_ == size_ || !is_digit(bytes_[pos_])) return fail_at(pos_);
      while (pos_ < size_ && is_digit(bytes_[pos_])) ++pos_;
    }
    int64_t exponent = 0;
    if (pos_ < size_ && (bytes_[pos_] == 'e' || bytes_[pos_] == 'E')) {
      ++pos_;
      const bool negative = pos_ < size_ && bytes_[pos_] == '-';
      if (pos_ < size_ && (bytes_[pos_] == '-' || bytes_[pos_] == '+')) ++pos_;
      if (pos_ == size_ || !is_digit(bytes_[pos_])) return fail_at(pos_);
      for (; pos_ < size_ && is_digit(bytes_[pos_]); ++pos_) {
        // Saturates: past this it only decides whether the exact conversion below runs.
        if (exponent < 100'000'000) exponent = exponent * 10 + (bytes_[pos_] - '0');
      }
      if (negative) exponent = -exponent;
    }
    const std::string_view number = text_.substr(start, pos_ - start);
    // The number is below 10^(integer_digits + exponent), so only one at 10^309 or more can exceed
    // the largest double (~1.8e308); only then is it converted, exactly, as nlohmann's strtod does.
    if (static_cast<int64_t>(integer_digits) + exponent > 308) {
      double value = 0;
      decimal_to_double(number, value);
      if (std::isinf(value)) return fail(JsonScanError::Kind::NumberTooLarge, start);
    }
    events_.value(depth, {JsonKind::Number, number});
    return true;
  }

  void skip_whitespace() {
    while (pos_ < size_) {
      const unsigned char c = bytes_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  bool fail(JsonScanError::Kind kind, std::size_t offset) {
    error_ = JsonScanError{kind, offset};
    return false;
  }

  // The byte at `offset` cannot stand there: a NUL byte and an ill-formed UTF-8 sequence are
  // named as such, anything else (and the end of the text) is a syntax error.
  bool fail_at(std::size_t offset) {
    if (offset < size_ && bytes_[offset] == 0) return fail(JsonScanError::Kind::NulByte, offset);
    if (offset < size_ && bytes_[offset] >= 0x80 && utf8_sequence_length(bytes_ + offset, size_ - offset) == 0) {
      return fail(JsonScanError::Kind::InvalidUtf8, offset);
    }
    return fail(JsonScanError::Kind::Syntax, offset);
  }

  const unsigned char* bytes_;
  std::size_t size_;
  std::string_view text_;
  uint32_t max_depth_;
  JsonEvents& events_;
  ContainerKinds kinds_;
  std::size_t pos_ = 0;
  JsonScanError error_{JsonScanError::Kind::Syntax, 0};
};

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// The four hex digits at text[at..at+3], already checked by the scanner.
uint32_t code_point_at(std::string_view text, std::size_t at) {
  uint32_t code_point = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    code_point = code_point * 16 + static_cast<uint32_t>(hex_digit_value(static_cast<unsigned char>(text[i])));
  }
  return code_point;
}

}  // namespace

std::optional<JsonScanError> scan_json(std::string_view text, uint32_t max_depth, JsonEvents& events) {
  return Scanner(text, max_depth, events).run();
}

std::string decode_json_string(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t backslash = text.find('\\', i);
    if (backslash == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, backslash - i));
    const char escape = text[backslash + 1];
    i = backslash + 2;
    switch (escape) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t code_point = code_point_at(text, i);
        i += 4;
        if (code_point >= 0xD800 && code_point <= 0xDBFF) {  // a low surrogate's \u escape follows
          code_point = 0x10000 + ((code_point - 0xD800) << 10) + (code_point_at(text, i + 2) - 0xDC00);
          i += 6;
        }
        append_utf8(out, code_point);
        break;
      }
      default: out += escape; break;  // '"', '\\', '/'
    }
  }
  return out;
}

bool json_string_equals(const JsonToken& token, std::string_view word) {
  if (!token.escaped) return token.text == word;
  return decode_json_string(token.text) == word;
}

}  // namespace router
