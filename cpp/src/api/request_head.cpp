#include "api/request_head.hpp"

namespace router {

RequestHead parse_request_head(std::string_view text) {
  RequestHead head;
  std::string scheme;
  std::string* fields[] = {&head.method,     &head.path,      &head.content_type, &head.content_length,
                           &head.request_id, &head.auth_hash, &head.client_ip,    &scheme};
  size_t field = 0;
  while (field < 8) {
    size_t nl = text.find('\n');
    *fields[field++] = std::string(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  head.basic_auth = scheme == "basic";
  return head;
}

}  // namespace router
