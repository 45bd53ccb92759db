// FUZZ_CHECK: the fuzz targets' assertion. When the condition is false it prints the condition and
// a detail (an expression yielding std::string, evaluated only then) and traps, so libFuzzer
// reports a crash and saves the input. Unlike assert() it is never compiled out.
#pragma once

#include <cstdio>
#include <string>

#define FUZZ_CHECK(condition, detail)                                                             \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      const std::string fuzz_check_detail = (detail);                                             \
      std::fprintf(stderr, "\n==== invariant violated: %s\n     at %s:%d\n     %s\n", #condition, \
                   __FILE__, __LINE__, fuzz_check_detail.c_str());                                \
      __builtin_trap();                                                                           \
    }                                                                                             \
  } while (0)
