// strtod() for router.wasm only (not the native build), linked with -Wl,--wrap=strtod.
//
// nlohmann/json's lexer converts every number with a fraction or an exponent (and every integer
// beyond 64 bits) with std::strtod, before any SAX handler sees it. musl's strtod computes in
// `long double`, a 128-bit float that wasm32 emulates in software: with it came ~10 KB of code
// (__floatscan, __multf3, __divtf3, __addtf3, fmodl, scalbnl, ...). The link uses
// -Wl,--wrap=strtod, so every strtod call lands here (musl's strtod.o is still pulled in by
// libc++'s std::stod, then dropped as unused). The conversion is the core's own
// decimal_to_double, tested bit for bit against glibc in cpp/tests/decimal_conversion_test.cpp,
// so every number still rounds correctly.
//
// It reads the decimal form only (C89 style: no hexadecimal floats, "inf" or "nan"): JSON has
// nothing else, and nlohmann's lexer is the module's only caller (see docs/core.md, "Size").
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "json/decimal_conversion.hpp"

extern "C" double __wrap_strtod(const char* text, char** end) {
  const char* start = text;
  while (*text == ' ' || (*text >= '\t' && *text <= '\r')) ++text;
  double value = 0;
  const std::size_t length = router::decimal_to_double(std::string_view(text, std::strlen(text)), value);
  if (end != nullptr) *end = const_cast<char*>(length == 0 ? start : text + length);
  if (std::isinf(value)) errno = ERANGE;
  return value;
}
