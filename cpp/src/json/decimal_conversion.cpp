#include "json/decimal_conversion.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

namespace router {
namespace {

// Exactly representable powers of ten (10^22 < 2^53 * 2^22): the fast path's only operands.
constexpr double kExactPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Significant digits used exactly; later ones only count as "more than zero". Enough: the midpoint
// between two adjacent doubles has at most 767 significant digits, so deciding which side of it
// the number lies on never needs digit 801.
constexpr int kMaxDigits = 800;

// Numbers of at least 10^310 overflow, numbers below 10^-324 (< 2^-1075, half the smallest
// subnormal) round to zero; between those bounds the exact path below runs.
constexpr int kMaxPoint = 310;
constexpr int kMinPoint = -324;

// Unsigned integer with 32-bit limbs, least significant first. The capacity holds every value
// the conversions form (largest: 10^1124 in decimal_to_double, ~3735 bits; see there).
class BigInt {
 public:
  explicit BigInt(uint64_t value = 0) {
    while (value != 0) {
      push(static_cast<uint32_t>(value));
      value >>= 32;
    }
  }

  // *this = *this * factor + addend
  void multiply_add(uint32_t factor, uint32_t addend) {
    uint64_t carry = addend;
    for (int i = 0; i < size_; ++i) {
      const uint64_t t = uint64_t{limbs_[i]} * factor + carry;
      limbs_[i] = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    if (carry != 0) push(static_cast<uint32_t>(carry));
  }

  void multiply_pow5(int n) {
    constexpr uint32_t kPow5[] = {1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125, 9765625, 48828125,
                                  244140625, 1220703125};  // 5^13 is the largest that fits 32 bits
    for (; n >= 13; n -= 13) multiply_add(kPow5[13], 0);
    if (n > 0) multiply_add(kPow5[n], 0);
  }

  void shift_left(int bits) {
    if (size_ == 0 || bits == 0) return;
    const int words = bits / 32;
    const int offset = bits % 32;
    if (offset != 0) {
      uint32_t carry = 0;
      for (int i = 0; i < size_; ++i) {
        const uint32_t limb = limbs_[i];
        limbs_[i] = (limb << offset) | carry;
        carry = limb >> (32 - offset);
      }
      if (carry != 0) push(carry);
    }
    if (words != 0) {
      const int size = size_ + words > kCapacity ? kCapacity : size_ + words;
      for (int i = size - 1; i >= words; --i) limbs_[i] = limbs_[i - words];
      for (int i = 0; i < words; ++i) limbs_[i] = 0;
      size_ = size;
    }
  }

  int bit_length() const { return size_ == 0 ? 0 : 32 * size_ - __builtin_clz(limbs_[size_ - 1]); }

  // The 64 bits just below bit `end` (bits end-64 .. end-1; missing low bits read as zero).
  uint64_t bits_below(int end) const {
    const int low = end - 64;
    if (low <= 0) return (limb(0) | (limb(1) << 32)) << -low;
    const int word = low / 32;
    const int offset = low % 32;
    const uint64_t bits = limb(word) | (limb(word + 1) << 32);
    return offset == 0 ? bits : (bits >> offset) | (limb(word + 2) << (64 - offset));
  }

  // Whether any bit below `bit` is set.
  bool any_below(int bit) const {
    if (bit <= 0) return false;
    const int word = bit / 32;
    for (int i = 0; i < word && i < size_; ++i) {
      if (limbs_[i] != 0) return true;
    }
    return bit % 32 != 0 && (limb(word) & ((uint64_t{1} << (bit % 32)) - 1)) != 0;
  }

  int compare(const BigInt& other) const {
    if (size_ != other.size_) return size_ < other.size_ ? -1 : 1;
    for (int i = size_ - 1; i >= 0; --i) {
      if (limbs_[i] != other.limbs_[i]) return limbs_[i] < other.limbs_[i] ? -1 : 1;
    }
    return 0;
  }

  // *this -= other; requires *this >= other.
  void subtract(const BigInt& other) {
    int64_t borrow = 0;
    for (int i = 0; i < size_; ++i) {
      const int64_t t = int64_t{limbs_[i]} - other.limb(i) - borrow;
      limbs_[i] = static_cast<uint32_t>(t);
      borrow = t < 0 ? 1 : 0;
    }
    trim();
  }

  // *this /= divisor; returns the remainder.
  uint32_t divide(uint32_t divisor) {
    uint64_t remainder = 0;
    for (int i = size_ - 1; i >= 0; --i) {
      const uint64_t t = (remainder << 32) | limbs_[i];
      limbs_[i] = static_cast<uint32_t>(t / divisor);
      remainder = t % divisor;
    }
    trim();
    return static_cast<uint32_t>(remainder);
  }

  bool is_zero() const { return size_ == 0; }

 private:
  static constexpr int kCapacity = 128;

  uint64_t limb(int i) const { return i < size_ ? limbs_[i] : 0; }
  void push(uint32_t limb) {
    if (size_ < kCapacity) limbs_[size_++] = limb;
  }
  void trim() {
    while (size_ > 0 && limbs_[size_ - 1] == 0) --size_;
  }

  uint32_t limbs_[kCapacity];
  int size_ = 0;
};

// (libc++ of Emscripten 3.1.6 has no std::bit_cast.)
double from_bits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint64_t to_bits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

constexpr uint64_t kHiddenBit = uint64_t{1} << 52;

// The double nearest to (mantissa + a fraction) * 2^exponent, where `mantissa` has its top bit
// set and `inexact` says the fraction is not zero. Ties go to the even mantissa.
double round_to_double(uint64_t mantissa, int exponent, bool inexact) {
  const int top = exponent + 63;  // the leading bit is worth 2^top
  if (top > 1023) return HUGE_VAL;
  int drop = 11;  // 64 - 53 bits
  uint64_t biased = static_cast<uint64_t>(top + 1023);
  if (top < -1022) {  // subnormal: fewer mantissa bits
    drop += -1022 - top;
    biased = 0;
    if (drop > 64) return 0.0;  // below 2^-1075
  }
  uint64_t kept = drop == 64 ? 0 : mantissa >> drop;
  const uint64_t rest = drop == 64 ? mantissa : mantissa & ((uint64_t{1} << drop) - 1);
  const uint64_t half = uint64_t{1} << (drop - 1);
  if (rest > half || (rest == half && (inexact || (kept & 1) != 0))) ++kept;
  if (biased == 0) return from_bits(kept);  // 2^52 after rounding is the smallest normal
  if (kept == kHiddenBit << 1) {
    kept >>= 1;
    if (++biased >= 2047) return HUGE_VAL;
  }
  return from_bits((biased << 52) | (kept & (kHiddenBit - 1)));
}

// The significant digits of a number as read by decimal_to_double: `text` from the first non-zero
// digit, `count` digits in it (a '.' may sit among them), value 0.d1d2... * 10^point.
struct Significand {
  std::string_view text;
  int count = 0;
  int point = 0;
};

// The exact path: the digits as a big integer, scaled exactly, then rounded once.
double exact_value(const Significand& digits) {
  const int used = digits.count < kMaxDigits ? digits.count : kMaxDigits;
  const bool truncated = digits.count > used;  // the last digit counted is non-zero
  BigInt value;
  int taken = 0;
  uint32_t chunk = 0;
  int chunk_digits = 0;
  constexpr uint32_t kChunkScale[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
  for (std::size_t i = 0; taken < used; ++i) {
    if (digits.text[i] == '.') continue;
    chunk = chunk * 10 + static_cast<uint32_t>(digits.text[i] - '0');
    ++taken;
    if (++chunk_digits == 9 || taken == used) {
      value.multiply_add(kChunkScale[chunk_digits], chunk);
      chunk = 0;
      chunk_digits = 0;
    }
  }
  const int exponent10 = digits.point - used;  // value * 10^exponent10; in [-1124, 309]

  if (exponent10 >= 0) {  // an integer below 10^310: about 1030 bits
    value.multiply_pow5(exponent10);
    value.shift_left(exponent10);
    const int length = value.bit_length();
    return round_to_double(value.bits_below(length), length - 64, truncated || value.any_below(length - 64));
  }

  // value / 10^-exponent10 by long division, 64 quotient bits. The divisor is at most 10^1124
  // (800 digits after 324 zeros); the dividend is aligned to it, so neither exceeds ~3736 bits.
  BigInt divisor(1);
  divisor.multiply_pow5(-exponent10);
  divisor.shift_left(-exponent10);
  int scale = 0;  // the number is (value / divisor) * 2^scale
  const int gap = divisor.bit_length() - value.bit_length();
  if (gap > 0) {
    value.shift_left(gap);
  } else if (gap < 0) {
    divisor.shift_left(-gap);
  }
  scale -= gap;
  if (value.compare(divisor) < 0) {  // now divisor <= value < 2 * divisor
    value.shift_left(1);
    --scale;
  }
  uint64_t quotient = 0;  // (value / divisor) * 2^63, its leading bit set
  for (int bit = 0; bit < 64; ++bit) {
    quotient <<= 1;
    if (value.compare(divisor) >= 0) {
      value.subtract(divisor);
      quotient |= 1;
    }
    value.shift_left(1);
  }
  return round_to_double(quotient, scale - 63, truncated || !value.is_zero());
}

// Writes the exact decimal digits of a positive finite double to `digits` (room for 800; at most
// 767 are significant), without trailing zeros, and returns their count: value = 0.digits * 10^point.
int exact_digits(double value, char* digits, int& point) {
  const uint64_t bits = to_bits(value);
  const int biased = static_cast<int>(bits >> 52);
  const uint64_t mantissa = (bits & (kHiddenBit - 1)) | (biased != 0 ? kHiddenBit : 0);
  const int exponent2 = (biased != 0 ? biased : 1) - 1075;  // value = mantissa * 2^exponent2
  BigInt integer(mantissa);
  point = 0;  // until the digits are known: value = integer * 10^point
  if (exponent2 >= 0) {
    integer.shift_left(exponent2);
  } else {  // m / 2^k = m * 5^k / 10^k
    integer.multiply_pow5(-exponent2);
    point = exponent2;
  }
  int length = 0;  // least significant first, 9 per chunk
  while (!integer.is_zero()) {
    uint32_t chunk = integer.divide(1000000000);
    for (int i = 0; i < 9; ++i, chunk /= 10) digits[length++] = static_cast<char>('0' + chunk % 10);
  }
  while (digits[length - 1] == '0') --length;  // leading zeros of the top chunk
  point += length;
  int low = 0;
  while (digits[low] == '0') ++low;  // trailing zeros of the number
  for (int i = low, j = length - 1; i < j; ++i, --j) std::swap(digits[i], digits[j]);
  for (int i = low; i < length; ++i) digits[i - low] = digits[i];
  return length - low;
}

// Whether "<digits>e<exponent>" reads back as exactly `expected`.
bool reads_back_as(const char* digits, int count, int point, double expected) {
  std::string text(digits, static_cast<std::size_t>(count));
  text += 'e';
  text += std::to_string(point - count);
  double value = 0;
  decimal_to_double(text, value);
  return to_bits(value) == to_bits(expected);
}

// An exponent ("e-12") at text[i]: stored in `exponent`, and the index after it returned; without
// one (or with a bare "e"), i and `exponent` unchanged.
std::size_t read_exponent(std::string_view text, std::size_t i, int& exponent) {
  if (i + 1 >= text.size() || (text[i] != 'e' && text[i] != 'E')) return i;
  std::size_t j = i + 1;
  const bool negative_exponent = text[j] == '-';
  if (text[j] == '-' || text[j] == '+') ++j;
  if (j >= text.size() || text[j] < '0' || text[j] > '9') return i;
  int value = 0;
  for (; j < text.size() && text[j] >= '0' && text[j] <= '9'; ++j) {
    if (value < 100000) value = value * 10 + (text[j] - '0');  // beyond: same result
  }
  exponent = negative_exponent ? -value : value;
  return j;
}

// Appends `count` digits with the decimal point `point` places from their start, as nlohmann/json
// prints doubles, so /status keeps its look: plain notation for 1e-5 < |value| < 1e15, an exponent
// with a sign and at least two digits otherwise.
void append_layout(std::string& out, const char* digits, int count, int point) {
  if (0 < point && point <= 15) {
    const int whole = point < count ? point : count;
    out.append(digits, static_cast<std::size_t>(whole));
    out.append(static_cast<std::size_t>(point - whole), '0');
    out += '.';
    if (whole < count) {
      out.append(digits + whole, static_cast<std::size_t>(count - whole));
    } else {
      out += '0';
    }
  } else if (-4 < point && point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out.append(digits, static_cast<std::size_t>(count));
  } else {
    out += digits[0];
    if (count > 1) {
      out += '.';
      out.append(digits + 1, static_cast<std::size_t>(count - 1));
    }
    const int exponent = point - 1;
    out += exponent < 0 ? "e-" : "e+";
    if (exponent > -10 && exponent < 10) out += '0';
    out += std::to_string(exponent < 0 ? -exponent : exponent);
  }
}

}  // namespace

std::size_t decimal_to_double(std::string_view text, double& value) {
  value = 0;
  std::size_t i = 0;
  const bool negative = i < text.size() && text[i] == '-';
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;

  Significand digits;
  bool any_digit = false;
  bool seen_point = false;
  int zeros_after_point = 0;  // before the first significant digit
  int significant_before_point = 0;
  int last_nonzero = 0;  // significant digits up to and including the last non-zero one
  uint64_t leading = 0;  // the first 19 significant digits
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any_digit = true;
    if (digits.count == 0 && c == '0') {
      if (seen_point) ++zeros_after_point;
      continue;
    }
    if (digits.count == 0) digits.text = text.substr(i);
    if (digits.count < 19) leading = leading * 10 + static_cast<uint64_t>(c - '0');
    ++digits.count;
    if (!seen_point) ++significant_before_point;
    if (c != '0') last_nonzero = digits.count;
  }
  if (!any_digit) return 0;

  i = read_exponent(text, i, digits.point);

  double magnitude = 0;
  if (digits.count != 0) {
    digits.point += significant_before_point != 0 ? significant_before_point : -zeros_after_point;
    const int all_digits = digits.count;  // trailing zeros included, as in `leading`
    const int exponent10 = digits.point - all_digits;
    digits.count = last_nonzero;  // the exact path needs no trailing zeros
    constexpr uint64_t kExactLimit = uint64_t{1} << 53;
    if (all_digits <= 19 && leading <= kExactLimit && exponent10 >= -22 && exponent10 <= 22) {
      // Clinger's fast path: both operands exact, so the one rounding is the correct one.
      magnitude = exponent10 < 0 ? static_cast<double>(leading) / kExactPowersOfTen[-exponent10]
                                 : static_cast<double>(leading) * kExactPowersOfTen[exponent10];
    } else if (digits.point > kMaxPoint) {
      magnitude = HUGE_VAL;
    } else if (digits.point < kMinPoint) {
      magnitude = 0;
    } else {
      magnitude = exact_value(digits);
    }
  }
  value = negative ? -magnitude : magnitude;
  return i;
}

std::string double_to_decimal(double value) {
  if (value != value || value - value != 0) return "null";  // NaN or infinity
  std::string out = std::signbit(value) ? "-" : "";
  if (value == 0) return out + "0.0";
  if (value < 0) value = -value;

  char exact[800];
  int exact_point = 0;
  const int length = exact_digits(value, exact, exact_point);
  // The fewest digits that read back as `value`: the exact digits rounded (half to even) to 1, 2, ...
  // digits. 17 always suffice; an exact expansion that is shorter is its own answer.
  char digits[17];
  int count = 1;
  int point = exact_point;
  for (;; ++count) {
    for (int i = 0; i < count; ++i) digits[i] = exact[i];
    point = exact_point;
    if (count >= length) break;
    const char next = exact[count];  // no trailing zeros: anything after `next` is non-zero
    if (next > '5' || (next == '5' && (length > count + 1 || (digits[count - 1] - '0') % 2 == 1))) {
      int at = count;
      while (at > 0 && digits[at - 1] == '9') digits[--at] = '0';
      if (at == 0) {  // 99.7 -> 100
        digits[0] = '1';
        ++point;
      } else {
        ++digits[at - 1];
      }
    }
    if (reads_back_as(digits, count, point, value) || count == 17) break;
  }
  while (count > 1 && digits[count - 1] == '0') --count;
  append_layout(out, digits, count, point);
  return out;
}

}  // namespace router
