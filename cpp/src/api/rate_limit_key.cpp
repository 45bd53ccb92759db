#include "api/rate_limit_key.hpp"

#include "api/api_keys.hpp"

namespace router {

namespace {

// 64 bits of the hash: distinct keys do not share a bucket, and the key cannot be recovered.
constexpr size_t kHashPrefixDigits = 16;

// An IPv4 or IPv6 address as Cloudflare writes it: hex digits, '.', ':'. Anything else (a header
// forged by hand outside Cloudflare, say) is not used as a key.
bool plausible_address(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return false;
  for (char c : ip) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string rate_limit_key(bool keys_required, std::string_view auth_hash, std::string_view client_ip) {
  if (keys_required) {
    std::string hash = normalize_sha256_hex(auth_hash);
    if (!hash.empty()) return "key:" + hash.substr(0, kHashPrefixDigits);
  }
  if (plausible_address(client_ip)) return "ip:" + std::string(client_ip);
  return "ip:unknown";
}

}  // namespace router
