// small_vsnprintf: the integer subset of vsnprintf, for router.wasm's snprintf.
//
// nlohmann/json formats text with snprintf in one place the core reaches: "<U+%.4X>" for a control
// character in a parse error message. musl's printf brings ~4 KB (and its float formatting more);
// cpp/wasm/snprintf.cpp routes the module's snprintf here instead (see docs/core.md, "Size").
//
// Supported: "%%", and the integer conversions d i u x X with an optional '0' flag, width,
// precision and length modifier (hh h l ll z). Anything else (floating point, %s, %c, '-', '+',
// '#', ' ', '*', %n, %p, ...) is refused: the result is -1 and `out` holds "" (when `size` > 0).
#pragma once

#include <cstdarg>
#include <cstddef>

namespace router {

// Like std::vsnprintf: writes at most size - 1 characters and a NUL, returns the length the
// whole text would have had.
int small_vsnprintf(char* out, std::size_t size, const char* format, std::va_list args);

}  // namespace router
