// Decimal text <-> double, correctly rounded, without the C library.
//
// Why not strtod / printf: on wasm32 `long double` is a 128-bit software float, and musl's strtod
// (and nlohmann's number printing) pull in that arithmetic: about a tenth of router.wasm. The Wasm
// build therefore links cpp/wasm/strtod.cpp, whose strtod() is decimal_to_double(), and the core
// prints numbers with double_to_decimal(). Both are exact, so nothing is lost:
//   - decimal_to_double rounds to nearest, ties to even, like a conforming strtod;
//   - double_to_decimal gives the shortest text that decimal_to_double reads back as the same double.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace router {

// Reads the decimal number at the start of `text`: an optional sign, digits with an optional '.'
// (at least one digit), and an optional exponent ([eE][+-]digits, only taken when it has digits).
// No leading whitespace, hexadecimal, "inf" or "nan". Overflow gives +-infinity, underflow +-0 or a
// subnormal. Returns the number of bytes read, 0 when `text` does not start with a number (then
// `value` is 0).
std::size_t decimal_to_double(std::string_view text, double& value);

// The shortest decimal text that decimal_to_double() reads back as exactly `value` (a finite
// double), in JSON number syntax: "0.1", "-2.5", "1e-07", "1.5e+20", "100.0". Non-finite values
// give "null", as JSON has no literal for them.
std::string double_to_decimal(double value);

}  // namespace router
