#include "api/api_keys.hpp"

namespace router {

std::string normalize_sha256_hex(std::string_view text) {
  if (text.size() != 64) return {};
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void ApiKeys::set(const std::vector<std::string>& hashes) {
  hashes_.clear();
  required_ = !hashes.empty();
  for (const auto& h : hashes) {
    std::string n = normalize_sha256_hex(h);
    if (!n.empty()) hashes_.push_back(std::move(n));
  }
}

bool ApiKeys::matches(std::string_view hash) const {
  std::string candidate = normalize_sha256_hex(hash);
  if (candidate.empty()) return false;
  bool found = false;
  for (const auto& h : hashes_) found |= constant_time_equal(h, candidate);  // no early exit
  return found;
}

}  // namespace router
