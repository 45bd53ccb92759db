// Endpoint: the inference APIs the router serves, one per /v1 path, and the names a backend's
// describe() uses to say which of them it serves (`endpoints`, docs/backend-template.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace router {

enum class Endpoint : uint8_t { ChatCompletions, Completions, Embeddings, Responses };
constexpr unsigned kEndpointCount = 4;

// A set of endpoints, one bit each (bit i = Endpoint i).
using EndpointSet = uint8_t;

constexpr EndpointSet endpoint_bit(Endpoint e) { return static_cast<EndpointSet>(1u << static_cast<unsigned>(e)); }

// What a backend serves when its describe() lists no `endpoints`: the APIs every backend served
// before the field existed, so older backends keep working.
constexpr EndpointSet kDefaultEndpoints = endpoint_bit(Endpoint::ChatCompletions) |
                                          endpoint_bit(Endpoint::Completions) | endpoint_bit(Endpoint::Embeddings);

// The endpoint of a request path ("/v1/responses"), nullopt for any other path.
std::optional<Endpoint> endpoint_of_path(std::string_view path);
// Its path ("/v1/responses").
std::string_view endpoint_path(Endpoint e);
// describe()'s name for it: the path after "/v1/" ("chat/completions", "responses").
std::optional<Endpoint> endpoint_of_name(std::string_view name);
std::string_view endpoint_name(Endpoint e);
// The describe() names of the endpoints in `set`, in Endpoint order.
std::vector<std::string> endpoint_names(EndpointSet set);

}  // namespace router
