#include "api/endpoint.hpp"

namespace router {
namespace {

constexpr std::string_view kPaths[kEndpointCount] = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                                                     "/v1/responses"};
constexpr std::string_view kPrefix = "/v1/";
constexpr Endpoint kAll[kEndpointCount] = {Endpoint::ChatCompletions, Endpoint::Completions, Endpoint::Embeddings,
                             Endpoint::Responses};

}  // namespace

std::string_view endpoint_path(Endpoint e) { return kPaths[static_cast<unsigned>(e)]; }

std::string_view endpoint_name(Endpoint e) { return endpoint_path(e).substr(kPrefix.size()); }

std::optional<Endpoint> endpoint_of_path(std::string_view path) {
  for (Endpoint e : kAll)
    if (endpoint_path(e) == path) return e;
  return std::nullopt;
}

std::vector<std::string> endpoint_names(EndpointSet set) {
  std::vector<std::string> names;
  for (Endpoint e : kAll)
    if (set & endpoint_bit(e)) names.emplace_back(endpoint_name(e));
  return names;
}

std::optional<Endpoint> endpoint_of_name(std::string_view name) {
  for (Endpoint e : kAll)
    if (endpoint_name(e) == name) return e;
  return std::nullopt;
}

}  // namespace router
