// ByteReader: turns a fuzz input into choices, reading from the front so a seed file reads in the
// order the harness uses it. An exhausted input reads as zeros; callers stop when empty().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : next_(data), end_(data + size) {}

  bool empty() const { return next_ == end_; }
  uint8_t u8() { return next_ == end_ ? 0 : *next_++; }
  uint16_t u16() {
    const uint16_t high = u8();
    return static_cast<uint16_t>(high << 8 | u8());
  }
  bool flag() { return (u8() & 1) != 0; }
  // One in `n` (n >= 1).
  bool one_in(uint8_t n) { return u8() % n == 0; }
  // Uniform-ish in [0, n) for n <= 256.
  uint32_t below(uint32_t n) { return n == 0 ? 0 : u8() % n; }
  template <class T, size_t N>
  const T& pick(const T (&options)[N]) {
    return options[u8() % N];
  }
  // Up to `max` raw bytes (the length comes first).
  std::string bytes(size_t max) {
    size_t length = u8() % (max + 1);
    std::string out;
    while (length-- > 0 && !empty()) out += static_cast<char>(u8());
    return out;
  }

 private:
  const uint8_t* next_;
  const uint8_t* end_;
};
