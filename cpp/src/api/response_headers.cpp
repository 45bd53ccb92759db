#include "api/response_headers.hpp"

#include <cmath>
#include <cstdint>

namespace router {
namespace {

// Milliseconds with one decimal ("12", "12.5"); negative and non-finite values read as 0 (a clock
// that stepped back must not produce a header a parser rejects).
std::string duration_text(double ms) {
  if (!(ms > 0) || !std::isfinite(ms)) return "0";
  const uint64_t tenths = static_cast<uint64_t>(std::llround(ms * 10));
  std::string out = std::to_string(tenths / 10);
  if (tenths % 10 != 0) out += "." + std::to_string(tenths % 10);
  return out;
}

}  // namespace

std::string server_timing_value(double total_ms, double backend_ms, bool backend_called) {
  if (!(backend_ms > 0) || !std::isfinite(backend_ms)) backend_ms = 0;
  if (!(total_ms > backend_ms) || !std::isfinite(total_ms)) total_ms = backend_ms;
  std::string value = "router;dur=" + duration_text(total_ms - backend_ms);
  if (backend_called) value += ", backend;dur=" + duration_text(backend_ms);
  return value;
}

std::string header_safe_text(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text.substr(0, max_bytes)) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace router
