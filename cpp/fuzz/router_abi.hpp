// The extern "C" surface of cpp/src/abi/abi.cpp as the fuzz harness calls it natively, and readers for
// its action record. Natively the record's 32-bit out_ptr cannot hold a pointer, so the output
// bytes are read through rt_out_ptr / rt_out_len, which the record's out_len must agree with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "abi/abi.h"

// Short names for the action kinds of abi.h (kError = kActionError, ...), from abi_layout.def.
enum ActionKind : uint32_t {
#define RT_ABI_ACTION(Name, js_name, code) k##Name = kAction##Name,
#include "abi/abi_layout.def"
};

inline ActionRecord action_record(uint32_t router) {
  ActionRecord record;
  std::memcpy(&record, rt_action_ptr(router), sizeof record);
  return record;
}

// The router's output buffer (the last action's text, a configure answer, or drained logs).
inline std::string router_output(uint32_t router) {
  const int32_t length = rt_out_len(router);
  return length <= 0 ? std::string() : std::string(rt_out_ptr(router), static_cast<size_t>(length));
}

// Bytes handed to the core in an allocation of exactly their size (rt_alloc, as the shim does), so
// AddressSanitizer sees any read past the end.
class AbiBytes {
 public:
  explicit AbiBytes(std::string_view text) : ptr_(static_cast<char*>(rt_alloc(text.size()))), size_(text.size()) {
    if (size_ > 0) std::memcpy(ptr_, text.data(), size_);
  }
  AbiBytes(const AbiBytes&) = delete;
  AbiBytes& operator=(const AbiBytes&) = delete;
  ~AbiBytes() { rt_free(ptr_); }

  const char* ptr() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  char* ptr_;
  size_t size_;
};
