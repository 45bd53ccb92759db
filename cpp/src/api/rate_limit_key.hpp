// The key the shim passes to the Workers Rate Limiting binding (RATE_LIMITER.limit({key})): who
// the client is, never a secret. With API keys configured it is a prefix of the SHA-256 of the
// client's Authorization value (one bucket per API key, not reversible to the key); without keys
// it is the client's address (cf-connecting-ip), or one shared bucket when that is absent or odd.
#pragma once

#include <string>
#include <string_view>

namespace router {

// `auth_hash`: SHA-256 hex of the Authorization value, already matched against the keys.
std::string rate_limit_key(bool keys_required, std::string_view auth_hash, std::string_view client_ip);

}  // namespace router
