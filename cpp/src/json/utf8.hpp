// UTF-8 well-formedness, shared by request validation and JSON output.
#pragma once

#include <cstddef>

namespace router {

// Length of the well-formed UTF-8 sequence starting at p[0] (a non-ASCII byte), or 0 when it is
// ill-formed: overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points above U+10FFFF
// are rejected (Unicode table 3-7).
inline std::size_t utf8_sequence_length(const unsigned char* p, std::size_t available) {
  const unsigned char lead = p[0];
  std::size_t length;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong below U+0800
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong below U+10000
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  if (available < length) return 0;
  if (p[1] < second_min || p[1] > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return length;
}

}  // namespace router
