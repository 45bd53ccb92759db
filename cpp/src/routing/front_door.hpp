// The front door: what a request's method, path and credentials let it reach, before any routing.
// It names the route, or gives the answer at the door: 500 while the router cannot serve, 404 for
// an unknown path, 405 for a wrong method, 401 without a valid key, and the non-inference routes
// that need no backend (/healthz, /status, the /dashboard page and its files). /v1/models and the inference routes go on to an
// Exchange (rate limit, body, discovery, attempts).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/request_head.hpp"
#include "api/request_validator.hpp"

namespace router {

class Router;

enum class Route { Unknown, Inference, Models, Healthz, Status, Dashboard };

struct Admission {
  Route route = Route::Unknown;
  Endpoint endpoint = Endpoint::ChatCompletions;  // Inference: which one
  // When `status` is not 0 the request is answered at the door: with this JSON body and these
  // extra header lines ("name: value", one a line).
  uint32_t status = 0;
  std::string body;
  std::string_view content_type = "application/json";
  std::string extra_headers;
  std::string_view error_code;  // the answer's error.code (a literal), for the access summary

  bool answered() const { return status != 0; }
};

Admission front_door(const RequestHead& head, const Router& router, double now);

}  // namespace router
