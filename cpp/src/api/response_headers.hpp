// Values of the router's own response headers that carry data from elsewhere: Server-Timing (the
// time a request spent in the router and in its backends) and any text that must be made safe for
// a header line (a client's model name may hold any character).
#pragma once

#include <string>
#include <string_view>

namespace router {

// `router;dur=<ms>` and, when a backend was called, `, backend;dur=<ms>` (W3C Server-Timing, one
// decimal). `total_ms`: since the request arrived; `backend_ms`: spent waiting on backend calls.
std::string server_timing_value(double total_ms, double backend_ms, bool backend_called);

// `text` as a header value: printable ASCII kept, every other byte and '%' percent-encoded, at most
// `max_bytes` bytes of input used (a header is no place for a megabyte).
std::string header_safe_text(std::string_view text, size_t max_bytes = 256);

}  // namespace router
