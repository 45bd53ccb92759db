#include "small_printf.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace router {
namespace {

struct Formatted {
  int length;
  std::string text;
};

Formatted ours(std::size_t size, const char* format, ...) {
  std::vector<char> buffer(size + 1, '#');
  va_list args;
  va_start(args, format);
  const int length = small_vsnprintf(buffer.data(), size, format, args);
  va_end(args);
  EXPECT_EQ(buffer[size], '#') << "wrote past the size for " << format;
  return {length, size == 0 ? std::string() : std::string(buffer.data())};
}

Formatted glibc(std::size_t size, const char* format, ...) {
  std::vector<char> buffer(size + 1, '#');
  va_list args;
  va_start(args, format);
  const int length = std::vsnprintf(buffer.data(), size, format, args);
  va_end(args);
  return {length, size == 0 ? std::string() : std::string(buffer.data())};
}

#define EXPECT_LIKE_GLIBC(size, ...)                        \
  do {                                                      \
    const Formatted a = ours(size, __VA_ARGS__);            \
    const Formatted b = glibc(size, __VA_ARGS__);           \
    EXPECT_EQ(a.length, b.length) << #__VA_ARGS__;          \
    EXPECT_EQ(a.text, b.text) << #__VA_ARGS__;              \
  } while (0)

TEST(SmallPrintf, WhatNlohmannFormats) {
  char buffer[9];
  const char* format = "<U+%.4X>";
  for (int c = 0; c < 0x20; ++c) {
    EXPECT_LIKE_GLIBC(sizeof buffer, format, static_cast<unsigned char>(c));
  }
  EXPECT_EQ(ours(sizeof buffer, format, static_cast<unsigned char>(0x1f)).text, "<U+001F>");
}

// Every supported flag, width, precision and length modifier, with values at the edges of each type.
TEST(SmallPrintf, IntegersMatchGlibc) {
  const char* flags[] = {"", "0"};
  const char* widths[] = {"", "1", "6", "25"};
  const char* precisions[] = {"", ".0", ".3", ".22"};
  const long long signed_values[] = {0, 1, -1, 7, -42, 255, 65535, INT_MAX, INT_MIN, LLONG_MAX, LLONG_MIN};
  const unsigned long long unsigned_values[] = {0, 1, 9, 10, 255, 256, 65535, UINT_MAX, ULLONG_MAX};
  for (const char* flag : flags) {
    for (const char* width : widths) {
      for (const char* precision : precisions) {
        const std::string spec = std::string("[%") + flag + width + precision;
        for (const long long v : signed_values) {
          EXPECT_LIKE_GLIBC(64, (spec + "d]").c_str(), static_cast<int>(v));
          EXPECT_LIKE_GLIBC(64, (spec + "i]").c_str(), static_cast<int>(v));
          EXPECT_LIKE_GLIBC(64, (spec + "hhd]").c_str(), static_cast<int>(v));
          EXPECT_LIKE_GLIBC(64, (spec + "hd]").c_str(), static_cast<int>(v));
          EXPECT_LIKE_GLIBC(64, (spec + "ld]").c_str(), static_cast<long>(v));
          EXPECT_LIKE_GLIBC(64, (spec + "lld]").c_str(), v);
          EXPECT_LIKE_GLIBC(64, (spec + "zd]").c_str(), static_cast<std::ptrdiff_t>(v));
        }
        for (const unsigned long long v : unsigned_values) {
          for (const char* conversion : {"u]", "x]", "X]"}) {
            EXPECT_LIKE_GLIBC(64, (spec + conversion).c_str(), static_cast<unsigned>(v));
            EXPECT_LIKE_GLIBC(64, (spec + "hh" + conversion).c_str(), static_cast<unsigned>(v));
            EXPECT_LIKE_GLIBC(64, (spec + "h" + conversion).c_str(), static_cast<unsigned>(v));
            EXPECT_LIKE_GLIBC(64, (spec + "l" + conversion).c_str(), static_cast<unsigned long>(v));
            EXPECT_LIKE_GLIBC(64, (spec + "ll" + conversion).c_str(), v);
            EXPECT_LIKE_GLIBC(64, (spec + "z" + conversion).c_str(), static_cast<std::size_t>(v));
          }
        }
      }
    }
  }
}

TEST(SmallPrintf, TextAndPercent) {
  EXPECT_LIKE_GLIBC(64, "plain text, no conversion");
  EXPECT_LIKE_GLIBC(64, "100%% of %d%%", 42);
  EXPECT_LIKE_GLIBC(64, "a=%d; b=%u; c=%x", -1, 4000000000u, 255u);
}

TEST(SmallPrintf, TruncatesLikeSnprintf) {
  for (std::size_t size : {0u, 1u, 2u, 5u, 8u, 9u, 10u}) {
    EXPECT_LIKE_GLIBC(size, "<U+%.4X>", 0x1fu);
    EXPECT_LIKE_GLIBC(size, "%d and %05u", 12345, 7u);
  }
}

TEST(SmallPrintf, RefusesWhatItDoesNotSupport) {
  for (const char* format : {"%f", "%.2f", "%g", "%e", "%a", "%p", "%n", "%s", "%c", "%-5d", "%+d", "% d", "%#x",
                             "%*d", "%.*d", "%o", "%Lf", "%ls", "%"}) {
    EXPECT_EQ(ours(16, format, 1.5).length, -1) << format;
    EXPECT_EQ(ours(16, format, 1.5).text, "") << format;
  }
}

}  // namespace
}  // namespace router
