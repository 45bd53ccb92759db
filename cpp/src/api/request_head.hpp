// RequestHead: the parts of a client request the core needs before the body, as the shim sends
// them: "method\npathname\ncontent-type\ncontent-length\nx-request-id\nauthorization-sha256-hex\nclient-ip\n
// auth-scheme". For HTTP Basic credentials (a browser's, on /dashboard) the shim hashes
// "Bearer <password>" and sends the scheme "basic", so they compare against the same key hashes.
#pragma once

#include <string>
#include <string_view>

namespace router {

struct RequestHead {
  std::string method;
  std::string path;
  std::string content_type;    // "" when absent
  std::string content_length;  // "" when absent
  std::string request_id;      // "" when absent
  std::string auth_hash;       // SHA-256 hex of the whole Authorization value; "" when absent
  std::string client_ip;       // cf-connecting-ip, for rate limiting without API keys; "" when absent
  bool basic_auth = false;     // auth_hash came from HTTP Basic credentials (only the admin routes take them)
};

// Missing trailing fields are taken as absent.
RequestHead parse_request_head(std::string_view text);

}  // namespace router
