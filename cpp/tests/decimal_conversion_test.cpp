#include "json/decimal_conversion.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace router {
namespace {

double read(std::string_view text) {
  double value = -12345;
  EXPECT_EQ(decimal_to_double(text, value), text.size()) << text;
  return value;
}

uint64_t bits(double value) { return std::bit_cast<uint64_t>(value); }

// glibc's strtod rounds correctly (round half to even) for any number of digits: the reference.
double reference(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

#define EXPECT_SAME_DOUBLE(actual, expected) EXPECT_EQ(bits(actual), bits(expected)) << (actual) << " vs " << (expected)

TEST(DecimalToDouble, TypicalConfigValuesAreExact) {
  EXPECT_SAME_DOUBLE(read("0.1"), 0.1);
  EXPECT_SAME_DOUBLE(read("100.5"), 100.5);
  EXPECT_SAME_DOUBLE(read("33.3"), 33.3);
  EXPECT_SAME_DOUBLE(read("99.75"), 99.75);
  EXPECT_SAME_DOUBLE(read("1234.5"), 1234.5);
  EXPECT_SAME_DOUBLE(read("86400000"), 86400000.0);
  EXPECT_SAME_DOUBLE(read("86400000.0"), 86400000.0);
  EXPECT_SAME_DOUBLE(read("1e6"), 1e6);
  EXPECT_SAME_DOUBLE(read("2.5E3"), 2500.0);
  EXPECT_SAME_DOUBLE(read("0.000001"), 0.000001);
  EXPECT_SAME_DOUBLE(read("0.3333333333333333"), 1.0 / 3.0);
  EXPECT_SAME_DOUBLE(read("0.30000000000000004"), 0.1 + 0.2);
  EXPECT_SAME_DOUBLE(read("-2.5"), -2.5);
  EXPECT_SAME_DOUBLE(read("+7"), 7.0);
}

TEST(DecimalToDouble, ExponentsAndHardCases) {
  EXPECT_SAME_DOUBLE(read("1e22"), 1e22);
  EXPECT_SAME_DOUBLE(read("1e23"), 1e23);  // not exact: 99999999999999991611392
  EXPECT_SAME_DOUBLE(read("5e25"), 5e25);
  EXPECT_SAME_DOUBLE(read("1e-22"), 1e-22);
  EXPECT_SAME_DOUBLE(read("1e-23"), 1e-23);
  EXPECT_SAME_DOUBLE(read("123456789012345678901234567890"), 123456789012345678901234567890.0);
  EXPECT_SAME_DOUBLE(read("2.2250738585072011e-308"), reference("2.2250738585072011e-308"));
  EXPECT_SAME_DOUBLE(read("2.2250738585072012e-308"), DBL_MIN);
  EXPECT_SAME_DOUBLE(read("4.9406564584124654e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_SAME_DOUBLE(read("1e0000000000000000000000000001"), 10.0);
  EXPECT_SAME_DOUBLE(read("0.00000000000000000000000000000000000001e38"), 1.0);
}

TEST(DecimalToDouble, OverflowIsInfinite) {
  EXPECT_TRUE(std::isinf(read("1E1000")));
  EXPECT_TRUE(std::isinf(read("1e309")));
  EXPECT_TRUE(std::isinf(read("-1e99999999999999999999")));
  EXPECT_LT(read("-1e309"), 0);
  EXPECT_SAME_DOUBLE(read("1.7976931348623157e308"), DBL_MAX);
  EXPECT_SAME_DOUBLE(read("1.7976931348623158e308"), DBL_MAX);  // below the midpoint to 2^1024
  EXPECT_TRUE(std::isinf(read("1.7976931348623159e308")));
  // The midpoint itself rounds to even, i.e. up, i.e. to infinity.
  EXPECT_TRUE(std::isinf(read("179769313486231580793728971405303415079934132710037826936173778980444968292764750946"
                              "649017977587207096330286416692887910946555547851940402630657488671505820681908902000"
                              "708383676273854845817711531764475730270069855571366959622842914819860834936475292719"
                              "074168444365510704342711559699508093042880177904174497792")));
}

TEST(DecimalToDouble, UnderflowGoesToSubnormalsAndZero) {
  EXPECT_SAME_DOUBLE(read("1e-400"), 0.0);
  EXPECT_SAME_DOUBLE(read("-1e-400"), -0.0);
  // 2^-1075, half the smallest subnormal, is 2.4703282292062327208828...e-324: ties to even (zero).
  EXPECT_SAME_DOUBLE(read("2.4703282292062327e-324"), 0.0);
  EXPECT_SAME_DOUBLE(read("2.4703282292062328e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_SAME_DOUBLE(read("1e-310"), reference("1e-310"));
}

TEST(DecimalToDouble, NegativeZero) {
  EXPECT_TRUE(std::signbit(read("-0")));
  EXPECT_TRUE(std::signbit(read("-0.0")));
  EXPECT_TRUE(std::signbit(read("-0e5")));
  EXPECT_TRUE(std::signbit(read("-0.000e-99999")));
  EXPECT_FALSE(std::signbit(read("0")));
  EXPECT_FALSE(std::signbit(read("0.0e10")));
}

TEST(DecimalToDouble, TiesGoToEvenAndLaterDigitsCount) {
  EXPECT_SAME_DOUBLE(read("9007199254740993"), 9007199254740992.0);  // 2^53 + 1: tie, down to even
  EXPECT_SAME_DOUBLE(read("9007199254740995"), 9007199254740996.0);  // tie, up to even
  EXPECT_SAME_DOUBLE(read("9007199254740993.0000000000000000000000001"), 9007199254740994.0);
  std::string far = "9007199254740993." + std::string(1000, '0') + "1";  // past the 800 digits used
  EXPECT_SAME_DOUBLE(read(far), 9007199254740994.0);
  std::string zeros = "9007199254740993." + std::string(1000, '0');
  EXPECT_SAME_DOUBLE(read(zeros), 9007199254740992.0);
}

TEST(DecimalToDouble, ReadsOnlyTheNumber) {
  double value = 0;
  EXPECT_EQ(decimal_to_double("12abc", value), 2u);
  EXPECT_EQ(value, 12.0);
  EXPECT_EQ(decimal_to_double("1e", value), 1u);
  EXPECT_EQ(decimal_to_double("1e+", value), 1u);
  EXPECT_EQ(decimal_to_double("1e+2,", value), 4u);
  EXPECT_EQ(value, 100.0);
  EXPECT_EQ(decimal_to_double(".5", value), 2u);
  EXPECT_EQ(value, 0.5);
  EXPECT_EQ(decimal_to_double("5.", value), 2u);
  EXPECT_EQ(decimal_to_double("1.2.3", value), 3u);
  EXPECT_EQ(decimal_to_double(".", value), 0u);
  EXPECT_EQ(decimal_to_double("-", value), 0u);
  EXPECT_EQ(decimal_to_double("", value), 0u);
  EXPECT_EQ(decimal_to_double(" 1", value), 0u);
  EXPECT_EQ(decimal_to_double("inf", value), 0u);
  EXPECT_EQ(value, 0.0);
}

// Random digit strings of every length class and exponents across the whole range, compared
// with glibc bit for bit.
TEST(DecimalToDouble, MatchesCorrectRoundingOnRandomInput) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 15000; ++i) {
    std::string text;
    if (rng() % 4 == 0) text += '-';
    const int length = 1 + static_cast<int>(rng() % (i % 10 == 0 ? 120 : 25));
    const int point = static_cast<int>(rng() % (length + 1));
    for (int d = 0; d < length; ++d) {
      if (d == point && d != 0) text += '.';
      text += static_cast<char>('0' + rng() % 10);
    }
    text += 'e' + std::to_string(static_cast<int>(rng() % 700) - 360);
    EXPECT_SAME_DOUBLE(read(text), reference(text)) << text;
  }
}

// The exact midpoints between neighbouring doubles (normal and subnormal), and a hair above and
// below them: the cases where only exact arithmetic rounds right.
TEST(DecimalToDouble, MatchesCorrectRoundingAtMidpoints) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1500; ++i) {
    double low = std::bit_cast<double>(rng() % 0x7FEFFFFFFFFFFFFFull);
    if (i % 5 == 0) low = std::bit_cast<double>(rng() % (uint64_t{1} << 52));  // subnormal
    const long double midpoint = (static_cast<long double>(low) + std::nextafter(low, HUGE_VAL)) / 2;  // exact
    char text[1200];
    std::snprintf(text, sizeof text, "%.780Le", midpoint);  // enough digits to be exact
    EXPECT_SAME_DOUBLE(read(text), reference(text)) << text;
    std::string above = text;
    above.insert(above.find('e'), "0000001");
    EXPECT_SAME_DOUBLE(read(above), reference(above)) << above;
    std::snprintf(text, sizeof text, "%.25Le", midpoint);  // rounded: just off the midpoint
    EXPECT_SAME_DOUBLE(read(text), reference(text)) << text;
  }
}

TEST(DoubleToDecimal, ShortestForms) {
  EXPECT_EQ(double_to_decimal(0.1), "0.1");
  EXPECT_EQ(double_to_decimal(0.5), "0.5");
  EXPECT_EQ(double_to_decimal(-2.5), "-2.5");
  EXPECT_EQ(double_to_decimal(100.5), "100.5");
  EXPECT_EQ(double_to_decimal(100.0), "100.0");
  EXPECT_EQ(double_to_decimal(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(double_to_decimal(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(double_to_decimal(0.0001), "0.0001");
  EXPECT_EQ(double_to_decimal(1e-7), "1e-07");
  EXPECT_EQ(double_to_decimal(1.5e20), "1.5e+20");
  EXPECT_EQ(double_to_decimal(1e15), "1e+15");
  EXPECT_EQ(double_to_decimal(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(double_to_decimal(DBL_MAX), "1.7976931348623157e+308");
  EXPECT_EQ(double_to_decimal(std::numeric_limits<double>::denorm_min()), "5e-324");
  EXPECT_EQ(double_to_decimal(0.0), "0.0");
  EXPECT_EQ(double_to_decimal(-0.0), "-0.0");
  EXPECT_EQ(double_to_decimal(HUGE_VAL), "null");
  EXPECT_EQ(double_to_decimal(std::nan("")), "null");
}

// Any double: the text reads back exactly (with our reader and glibc's), uses no more digits
// than the shortest %.Ng that round-trips, and is never longer than nlohmann/json's own output.
TEST(DoubleToDecimal, RoundTripsWithTheFewestDigits) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 5000; ++i) {
    double value = std::bit_cast<double>(rng());
    if (!std::isfinite(value)) continue;
    if (i % 3 == 0) value = static_cast<double>(rng() % 100000) / static_cast<double>(1 + rng() % 1000);
    const std::string text = double_to_decimal(value);
    double back = 0;
    ASSERT_EQ(decimal_to_double(text, back), text.size()) << text;
    EXPECT_SAME_DOUBLE(back, value) << text;
    EXPECT_SAME_DOUBLE(reference(text), value) << text;

    int shortest = 1;
    char buffer[40];
    for (;; ++shortest) {
      std::snprintf(buffer, sizeof buffer, "%.*g", shortest, value);
      if (reference(buffer) == value) break;
    }
    int digits = 0;
    for (std::size_t j = 0; j < text.size() && text[j] != 'e'; ++j) digits += text[j] >= '0' && text[j] <= '9';
    const bool trailing_point_zero = text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0;
    int significant = digits - (trailing_point_zero ? 1 : 0);
    std::size_t first = text.find_first_of("123456789");
    significant -= static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(first), '0'));
    if (!trailing_point_zero) EXPECT_EQ(significant, shortest) << text;

    const std::string theirs = nlohmann::json(value).dump();
    EXPECT_EQ(nlohmann::json::parse(text).get<double>(), value) << text;
    EXPECT_LE(text.size(), theirs.size()) << text << " vs " << theirs;
  }
}

}  // namespace
}  // namespace router
