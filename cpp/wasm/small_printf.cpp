#include "small_printf.hpp"

#include <cstdint>

namespace router {
namespace {

int read_number(const char*& f) {
  int n = 0;
  for (; *f >= '0' && *f <= '9'; ++f) n = n * 10 + (*f - '0');
  return n;
}

}  // namespace

int small_vsnprintf(char* out, std::size_t size, const char* format, std::va_list args) {
  std::size_t length = 0;  // what the whole text needs; the part that fits is written
  auto put = [&](char c) {
    if (length + 1 < size) out[length] = c;
    ++length;
  };
  for (const char* f = format; *f != '\0'; ++f) {
    if (*f != '%' || *++f == '%') {
      put(*f);
      continue;
    }
    const bool zero = *f == '0';
    if (zero) ++f;
    const int width = read_number(f);
    int precision = -1;  // none
    if (*f == '.') precision = read_number(++f);
    enum class Argument { Int, Long, LongLong } argument = Argument::Int;
    int bits = 0;  // hh and h: the int argument is cut to 8 or 16 bits
    if (*f == 'h') {
      bits = *++f == 'h' ? (++f, 8) : 16;
    } else if (*f == 'l') {
      argument = *++f == 'l' ? (++f, Argument::LongLong) : Argument::Long;
    } else if (*f == 'z') {  // size_t is unsigned long on wasm32 and on 64-bit Linux
      static_assert(sizeof(std::size_t) == sizeof(unsigned long));
      ++f;
      argument = Argument::Long;
    }
    const char conversion = *f;
    const bool is_signed = conversion == 'd' || conversion == 'i';
    const unsigned base = conversion == 'x' || conversion == 'X' ? 16 : 10;
    if (!is_signed && conversion != 'u' && base != 16) {  // floating point, %s, %n, other flags, ...
      if (size > 0) out[0] = '\0';
      return -1;
    }

    // The value, as its promoted type; hh and h then cut it and extend the sign again.
    uint64_t value;
    if (argument == Argument::LongLong) {
      value = is_signed ? static_cast<uint64_t>(va_arg(args, long long)) : va_arg(args, unsigned long long);
    } else if (argument == Argument::Long) {
      value = is_signed ? static_cast<uint64_t>(va_arg(args, long)) : va_arg(args, unsigned long);
    } else {
      value = is_signed ? static_cast<uint64_t>(va_arg(args, int)) : va_arg(args, unsigned);
    }
    if (bits != 0) {
      value &= (uint64_t{1} << bits) - 1;
      if (is_signed && (value >> (bits - 1)) != 0) value |= ~uint64_t{0} << bits;
    }
    const bool negative = is_signed && static_cast<int64_t>(value) < 0;
    if (negative) value = 0 - value;

    char digits[24];  // reversed
    int count = 0;
    if (precision != 0 || value != 0) {  // "%.0d" prints nothing for 0
      do {
        const unsigned digit = static_cast<unsigned>(value % base);
        digits[count++] = static_cast<char>(digit < 10 ? '0' + digit : (conversion == 'X' ? 'A' : 'a') + digit - 10);
        value /= base;
      } while (value != 0);
    }
    int zeros = precision > count ? precision - count : 0;
    const int used = (negative ? 1 : 0) + zeros + count;
    int spaces = width > used ? width - used : 0;
    if (zero && precision < 0) {  // '0' pads with zeros unless a precision is given
      zeros += spaces;
      spaces = 0;
    }
    for (; spaces > 0; --spaces) put(' ');
    if (negative) put('-');
    for (; zeros > 0; --zeros) put('0');
    while (count > 0) put(digits[--count]);
  }
  if (size > 0) out[length < size ? length : size - 1] = '\0';
  return static_cast<int>(length);
}

}  // namespace router
