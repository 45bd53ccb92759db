// snprintf() for router.wasm only (not the native build), linked with -Wl,--wrap=snprintf.
//
// The module's one snprintf call is nlohmann/json's lexer writing "<U+%.4X>" into a parse error
// message. musl's snprintf is the whole printf engine (~4 KB of code, with its float formatting);
// router::small_vsnprintf is the integer subset, tested against glibc in
// cpp/tests/small_printf_test.cpp. It refuses (-1, empty text) what it does not support, such as
// floating point. See docs/core.md, "Size".
#include <cstdarg>
#include <cstddef>

#include "small_printf.hpp"

extern "C" int __wrap_snprintf(char* out, std::size_t size, const char* format, ...) {
  va_list args;
  va_start(args, format);
  const int length = router::small_vsnprintf(out, size, format, args);
  va_end(args);
  return length;
}
