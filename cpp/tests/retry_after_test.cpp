#include "retry_after.hpp"

#include <gtest/gtest.h>

namespace router {
namespace {

// Sun, 06 Nov 1994 08:49:37 GMT
constexpr double kRfcExample = 784111777000;

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("120", "", 0), 120000);
  EXPECT_EQ(parse_retry_after(" 0 ", "", 0), 0);
  EXPECT_EQ(parse_retry_after("1.5", "", 0), 1500);
}

TEST(RetryAfter, MillisecondsWinOverSeconds) {
  EXPECT_EQ(parse_retry_after("120", "250", 0), 250);
  EXPECT_EQ(parse_retry_after("", "42.5", 0), 42.5);
  // A broken retry-after-ms falls back to Retry-After.
  EXPECT_EQ(parse_retry_after("3", "soon", 0), 3000);
}

TEST(RetryAfter, HttpDate) {
  EXPECT_EQ(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_imf_fixdate("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799000);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", "", kRfcExample - 5000), 5000);
  // A date already past means "now".
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", "", kRfcExample + 5000), 0);
}

TEST(RetryAfter, GarbageIsIgnored) {
  for (const char* bad : {"", "soon", "-5", "1e3", "12abc", "Sunday, 06-Nov-94 08:49:37 GMT",
                          "Sun Nov  6 08:49:37 1994", "Sun, 31 Feb 2001 00:00:00 GMT", "Sun, 06 Nov 1994 25:00:00 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "1234567890123456789"}) {
    EXPECT_FALSE(parse_retry_after(bad, "", 0).has_value()) << bad;
  }
  EXPECT_FALSE(parse_retry_after("", "-1", 0).has_value());
}

}  // namespace
}  // namespace router
