#include "small_printf.hpp"

#include <cstdint>

namespace router {
namespace {

int read_number(const char*& f) {
  int n = 0;
  for (; *f >= '0' && *f <= '9'; ++f) n = n * 10 + (*f - '0');
  return n;
}

// The text so far: the part that fits is written to `out` (at most size - 1 characters), and
// `length` counts what the whole text needs.
struct Output {
  char* out;
  std::size_t size;
  std::size_t length = 0;

  void put(char c) {
    if (length + 1 < size) out[length] = c;
    ++length;
  }
};

enum class Argument { Int, Long, LongLong };

// One conversion: '%' [0] [width] [.precision] [hh | h | l | ll | z] conversion.
struct Spec {
  bool zero = false;
  int width = 0;
  int precision = -1;  // none
  Argument argument = Argument::Int;
  int bits = 0;  // hh and h: the int argument is cut to 8 or 16 bits
  char conversion = '\0';
};

// Reads the conversion that follows a '%'; leaves `f` on its conversion character.
Spec read_spec(const char*& f) {
  Spec spec;
  spec.zero = *f == '0';
  if (spec.zero) ++f;
  spec.width = read_number(f);
  if (*f == '.') spec.precision = read_number(++f);
  if (*f == 'h') {
    spec.bits = *++f == 'h' ? (++f, 8) : 16;
  } else if (*f == 'l') {
    spec.argument = *++f == 'l' ? (++f, Argument::LongLong) : Argument::Long;
  } else if (*f == 'z') {  // size_t is unsigned long on wasm32 and on 64-bit Linux
    static_assert(sizeof(std::size_t) == sizeof(unsigned long));
    ++f;
    spec.argument = Argument::Long;
  }
  spec.conversion = *f;
  return spec;
}

// Writes `value` (the argument as its promoted type) as `spec` says, in `base`.
void put_integer(Output& output, const Spec& spec, bool is_signed, unsigned base, uint64_t value) {
  // hh and h cut the value and extend the sign again.
  if (spec.bits != 0) {
    value &= (uint64_t{1} << spec.bits) - 1;
    if (is_signed && (value >> (spec.bits - 1)) != 0) value |= ~uint64_t{0} << spec.bits;
  }
  const bool negative = is_signed && static_cast<int64_t>(value) < 0;
  if (negative) value = 0 - value;

  char digits[24];  // reversed
  int count = 0;
  if (spec.precision != 0 || value != 0) {  // "%.0d" prints nothing for 0
    do {
      const unsigned digit = static_cast<unsigned>(value % base);
      digits[count++] = static_cast<char>(digit < 10 ? '0' + digit : (spec.conversion == 'X' ? 'A' : 'a') + digit - 10);
      value /= base;
    } while (value != 0);
  }
  int zeros = spec.precision > count ? spec.precision - count : 0;
  const int used = (negative ? 1 : 0) + zeros + count;
  int spaces = spec.width > used ? spec.width - used : 0;
  if (spec.zero && spec.precision < 0) {  // '0' pads with zeros unless a precision is given
    zeros += spaces;
    spaces = 0;
  }
  for (; spaces > 0; --spaces) output.put(' ');
  if (negative) output.put('-');
  for (; zeros > 0; --zeros) output.put('0');
  while (count > 0) output.put(digits[--count]);
}

}  // namespace

int small_vsnprintf(char* out, std::size_t size, const char* format, std::va_list args) {
  Output output{out, size};
  for (const char* f = format; *f != '\0'; ++f) {
    if (*f != '%' || *++f == '%') {
      output.put(*f);
      continue;
    }
    const Spec spec = read_spec(f);
    const bool is_signed = spec.conversion == 'd' || spec.conversion == 'i';
    const unsigned base = spec.conversion == 'x' || spec.conversion == 'X' ? 16 : 10;
    if (!is_signed && spec.conversion != 'u' && base != 16) {  // floating point, %s, %n, other flags, ...
      if (size > 0) out[0] = '\0';
      return -1;
    }
    // va_arg stays here: a va_list parameter cannot portably be passed on by reference.
    uint64_t value;
    if (spec.argument == Argument::LongLong) {
      value = is_signed ? static_cast<uint64_t>(va_arg(args, long long)) : va_arg(args, unsigned long long);
    } else if (spec.argument == Argument::Long) {
      value = is_signed ? static_cast<uint64_t>(va_arg(args, long)) : va_arg(args, unsigned long);
    } else {
      value = is_signed ? static_cast<uint64_t>(va_arg(args, int)) : va_arg(args, unsigned);
    }
    put_integer(output, spec, is_signed, base, value);
  }
  const std::size_t length = output.length;
  if (size > 0) out[length < size ? length : size - 1] = '\0';
  return static_cast<int>(length);
}

}  // namespace router
