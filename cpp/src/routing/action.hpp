// Action: what the core asks the shim to do next for one exchange (see docs/architecture.md,
// "action record"). The ABI copies it into the fixed-layout record the JS side reads.
#pragma once

#include <cstdint>
#include <string>

namespace router {

enum class ActionKind : uint32_t { Error = 0, ReadBody = 1, Discover = 2, Call = 3, Wait = 4, Reply = 5, Forward = 6,
                                  RateLimit = 7 };

struct Action {
  ActionKind kind = ActionKind::Error;
  uint32_t status = 0;      // Reply, Forward
  bool stream = false;      // Call
  uint32_t backend = 0;     // Call, Forward
  uint32_t attempt = 0;     // Call: attempt number; Reply, Forward: attempts made
  double timeout_ms = 0;    // Call: per-try / first-byte timeout; ReadBody: body byte limit;
                            // Discover: each describe() call's timeout; RateLimit: how long the shim may
                            // wait for the answer; Forward of a stream: the longest gap between two chunks
  double time = 0;          // Call: request deadline; Wait: wake-up time; ReadBody: the body must have
                            // arrived by then; Discover: wait for discovery until then (0: do not wait)
  double attempt_deadline = 0;  // Call: when this attempt is abandoned (now + timeout_ms)
  std::string out;          // Call: "requestId\nmodel\npath"; Reply: headers, blank line, body; Forward: headers;
                            // RateLimit: the key to limit on; Discover: the bindings to describe, one a line
};

}  // namespace router
