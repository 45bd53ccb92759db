#include "api/retry_after.hpp"

#include <cstdint>

namespace router {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Non-negative decimal number ("12", "1.5"); nullopt for anything else.
std::optional<double> parse_non_negative(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 15) return std::nullopt;
  double value = 0, scale = 0;
  bool digits = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digits = true;
      if (scale == 0) value = value * 10 + (c - '0');
      else { value += (c - '0') * scale; scale /= 10; }
    } else if (c == '.' && scale == 0) {
      scale = 0.1;
    } else {
      return std::nullopt;
    }
  }
  if (!digits) return std::nullopt;
  return value;
}

bool parse_fixed_digits(std::string_view s, size_t pos, size_t count, int& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (civil calendar arithmetic).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

std::optional<double> parse_imf_fixdate(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed layout, 29 characters.
  std::string_view s = trim(text);
  if (s.size() != 29) return std::nullopt;
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  bool day_ok = false;
  for (auto d : kDays) day_ok |= s.substr(0, 3) == d;
  if (!day_ok || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  int day, year, hour, minute, second, month = 0;
  for (int i = 0; i < 12; ++i)
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  if (month == 0 || !parse_fixed_digits(s, 5, 2, day) || !parse_fixed_digits(s, 12, 4, year) ||
      !parse_fixed_digits(s, 17, 2, hour) || !parse_fixed_digits(s, 20, 2, minute) ||
      !parse_fixed_digits(s, 23, 2, second))
    return std::nullopt;
  static constexpr int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int month_days = kMonthDays[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day < 1 || day > month_days || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  int64_t days = days_from_civil(year, month, day);
  return static_cast<double>(((days * 24 + hour) * 60 + minute) * 60 + second) * 1000.0;
}

std::optional<double> parse_retry_after(std::string_view retry_after, std::string_view retry_after_ms, double now) {
  if (auto ms = parse_non_negative(retry_after_ms)) return *ms;
  if (auto seconds = parse_non_negative(retry_after)) return *seconds * 1000.0;
  if (auto date = parse_imf_fixdate(retry_after)) return *date > now ? *date - now : 0.0;
  return std::nullopt;
}

}  // namespace router
