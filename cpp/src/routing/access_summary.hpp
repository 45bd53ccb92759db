// AccessSummary: what one /v1 client request came to, made by its Exchange when it ends. It feeds
// the Workers Analytics Engine data point (when the Worker has an ANALYTICS binding) and the
// sampled access log line (ROUTER_CONFIG.accessLog.sampleRate). Never a prompt or a key: the
// client is its key id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "support/split_mix64.hpp"

namespace router {

struct AccessSummary {
  std::string_view request_id;
  std::string_view path;             // the endpoint path asked ("/v1/chat/completions")
  std::string_view backend;          // the binding whose answer was delivered ("" when none)
  std::string_view model_requested;  // the body's model ("" before the body was read)
  std::string_view model_served;     // after fallbacks (x-router-model)
  std::string_view key_id;           // "key-" + 12 hex, or "none" when the router takes no keys
  std::string_view error;            // the answer's error code ("" on success)
  uint32_t status = 0;               // the status sent (0: none, the client went away first)
  uint32_t attempts = 0;
  double router_ms = 0;  // as Server-Timing: time to the answer less the backend calls
  double backend_ms = 0;
  uint64_t prompt_tokens = 0;  // as the delivered answer reported them (0 when it did not)
  uint64_t completion_tokens = 0;
  uint64_t total_tokens = 0;
  bool stream = false;
};

// The Analytics Engine data point, {"indexes":[..],"blobs":[..],"doubles":[..]} in the layout
// docs/observability.md documents:
//   indexes: [key id]
//   blobs:   [backend, model requested, model served, error class, key id, endpoint path, request id]
//   doubles: [status, attempts, router ms, backend ms, prompt, completion, total tokens, stream 0/1]
std::string analytics_data_point(const AccessSummary& s);

// Whether a request's access log line is written at `sample_rate` (0: never, 1: always, else one
// draw from the request's `rng`).
bool access_sampled(double sample_rate, SplitMix64& rng);

// The access log line: {"level":"info","event":"access", every field by name}.
std::string access_log_line(const AccessSummary& s);

}  // namespace router
