// ApiKeys: the accepted key hashes (SHA-256 hex of the whole Authorization value, computed by the
// shim). Matching compares every stored hash in constant time, so timing reveals nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace router {

class ApiKeys {
 public:
  // Malformed entries (not 64 hex digits) never match but still make keys required: a shim bug
  // must close the door, not open it.
  void set(const std::vector<std::string>& hashes);
  bool required() const { return required_; }
  bool matches(std::string_view hash) const;

 private:
  std::vector<std::string> hashes_;  // lower-case hex
  bool required_ = false;
};

// Lower-cases a 64-digit hex SHA-256; "" when `text` is not one.
std::string normalize_sha256_hex(std::string_view text);
// Equal length and bytes, without an early exit on the first difference.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace router
