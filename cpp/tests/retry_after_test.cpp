#include "api/retry_after.hpp"

#include <gtest/gtest.h>

namespace router {
namespace {

// Sun, 06 Nov 1994 08:49:37 GMT
constexpr double kRfcExample = 784111777000;

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("120", "", 0), 120000);
  EXPECT_EQ(parse_retry_after(" 0 ", "", 0), 0);
  EXPECT_EQ(parse_retry_after("1.5", "", 0), 1500);
  EXPECT_EQ(parse_retry_after("9", "", 0), 9000);
  EXPECT_EQ(parse_retry_after("1.25", "", 0), 1250);
  EXPECT_EQ(parse_retry_after("", "0.125", 0), 0.125);
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
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "1234567890123456789",
                          ".", " . "}) {
    EXPECT_FALSE(parse_retry_after(bad, "", 0).has_value()) << bad;
  }
  EXPECT_FALSE(parse_retry_after("", "-1", 0).has_value());
}

// RFC 9110 section 5.6.7: the day name, the separators, the month and each numeric field must be
// exactly right; anything else is not a date (and the Retry-After is ignored).
TEST(RetryAfter, EveryPartOfTheDateIsChecked) {
  const std::string good = "Sun, 06 Nov 1994 08:49:37 GMT";
  ASSERT_EQ(parse_imf_fixdate(good), kRfcExample);
  // Each separator alone replaced: ", " after the day, the spaces, the colons, " GMT".
  for (size_t at : {3, 4, 7, 11, 16, 19, 22, 25}) {
    std::string bad = good;
    bad[at] = 'x';
    EXPECT_FALSE(parse_imf_fixdate(bad).has_value()) << bad;
  }
  // A non-digit in each numeric field (each would still be in range as a number).
  for (size_t at : {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24}) {
    std::string bad = good;
    bad[at] = at == 14 ? '/' : ':';
    EXPECT_FALSE(parse_imf_fixdate(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_imf_fixdate("Sun, 06 Nov 19x4 08:49:37 GMT").has_value());
  EXPECT_FALSE(parse_imf_fixdate("Xyz, 06 Nov 1994 08:49:37 GMT").has_value()) << "an unknown day name";
  for (const char* day : {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat"})
    EXPECT_EQ(parse_imf_fixdate(std::string(day) + good.substr(3)), kRfcExample) << "the day name is not cross-checked";
}

TEST(RetryAfter, FieldRangesAndMonthLengths) {
  for (const char* bad : {"Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Sat, 31 Jun 2024 00:00:00 GMT",
                          "Wed, 30 Feb 2000 00:00:00 GMT", "Wed, 29 Feb 2023 00:00:00 GMT", "Thu, 29 Feb 1900 00:00:00 GMT",
                          "Sun, 32 Dec 1994 00:00:00 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
                          "Sun, 06 Nov 1994 08:49:61 GMT"}) {
    EXPECT_FALSE(parse_imf_fixdate(bad).has_value()) << bad;
  }
  // Leap years: divisible by 4, except centuries not divisible by 400.
  EXPECT_EQ(parse_imf_fixdate("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000000);
  EXPECT_EQ(parse_imf_fixdate("Sun, 31 Dec 1995 23:59:59 GMT"), 820454399000);
  EXPECT_EQ(parse_imf_fixdate("Wed, 31 Jan 2024 00:00:00 GMT"), 1706659200000);
  // A leap second is a valid time.
  EXPECT_EQ(parse_imf_fixdate("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800000);
  // Years before the epoch, down to 0000 (proleptic Gregorian calendar).
  EXPECT_EQ(parse_imf_fixdate("Sat, 01 Jan 0000 00:00:00 GMT"), -62167219200000);
  EXPECT_EQ(parse_imf_fixdate("Mon, 01 Mar 0000 00:00:00 GMT"), -62162035200000);
}

}  // namespace
}  // namespace router
