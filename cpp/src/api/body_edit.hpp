// The body a backend gets when the model it is asked for is not the client's (a fallback chain)
// or the client sent `models`: the client's bytes with the top-level `model` value replaced and
// the `models` member removed (turned into `"model": ...` when it stood for the model), and, for a
// stream whose client did not ask for its usage, `stream_options.include_usage` set true (added
// where absent; the client's other stream_options kept): the router counts the tokens of streams
// too, and the shim takes the usage-only event out again (injected streams). Every other byte is
// the client's own: no number is ever re-printed, so big integers stay exact.
#pragma once

#include <string>
#include <string_view>

#include "api/request_validator.hpp"

namespace router {

// Whether the router asks the backend for a stream's usage the client did not ask for (injected).
bool asks_stream_usage(const ValidRequest& request);

// Whether the client's body cannot go to a backend as it is when asking for `model`.
bool body_needs_edit(const ValidRequest& request, std::string_view client_model, std::string_view model);

// `body` as validated into `request`, edited for `model`.
std::string body_for_model(std::string_view body, const ValidRequest& request, std::string_view model);

}  // namespace router
