// Retry-After parsing: "retry-after-ms" (milliseconds), "Retry-After" as delta-seconds or as an
// HTTP date (IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT").
#pragma once

#include <optional>
#include <string_view>

namespace router {

// Milliseconds from `now` (epoch ms) the backend asked us to wait; retry-after-ms wins when valid.
// A date in the past gives 0. nullopt when both are absent or unparseable.
std::optional<double> parse_retry_after(std::string_view retry_after, std::string_view retry_after_ms, double now);

// Epoch milliseconds of an IMF-fixdate, nullopt when malformed.
std::optional<double> parse_imf_fixdate(std::string_view text);

}  // namespace router
