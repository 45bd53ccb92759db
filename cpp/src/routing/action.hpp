// Action: what the core asks the shim to do next for one exchange. One type per kind, each with
// only its own data; the ABI flattens an Action into the fixed-layout record the JS side reads
// (cpp/src/abi/abi.cpp, publish; docs/architecture.md, "action record").
#pragma once

#include <cstdint>
#include <cstddef>
#include <string>
#include <type_traits>
#include <variant>

namespace router {

// The kind numbers the ABI sends: the index of the type in `Action` below.
enum class ActionKind : uint32_t { Error = 0, ReadBody = 1, Discover = 2, Call = 3, Wait = 4, Reply = 5, Forward = 6,
                                  RateLimit = 7 };

// A type with text holds it first: the same offset in each lets the variant's destructor share
// one case for all of them (a smaller router.wasm).

// Kind 0: the event was refused (a bad handle, or an event the exchange's phase does not take).
struct NoAction {};

// Read the client's body: at most `byte_limit` bytes, arrived by `due_by` (the request deadline).
struct ReadBody {
  double byte_limit = 0;
  double due_by = 0;
  // No later than `due_by` nor than the first attempt's attempt_deadline can be: a timer armed for
  // it serves both waits, the body's and the first attempt's (the shim arms one per request).
  double wake_by = 0;
};

// Call describe() on `bindings` (one a line; may be empty) in the background, each within
// `describe_timeout_ms`; with `wait_until` (epoch ms, 0 = do not wait) resume once discovery is
// over or then.
struct Discover {
  std::string bindings;
  double describe_timeout_ms = 0;
  double wait_until = 0;
};

// Attempt `backend`. `timeout_ms`: the per-try (or first-byte, for a stream) timeout;
// `attempt_deadline` = now + timeout_ms; `deadline`: the request's.
struct Call {
  std::string request;  // "requestId\nmodel\npath"
  uint32_t backend = 0;
  uint32_t attempt = 0;  // 1 for the first attempt
  bool stream = false;
  double timeout_ms = 0;
  double deadline = 0;
  double attempt_deadline = 0;
};

// Resume at `until` (epoch ms).
struct Wait {
  double until = 0;
};

// Answer the client with `text`: header lines, a blank line, the body.
struct Reply {
  std::string text;
  uint32_t status = 0;
  uint32_t attempts = 0;  // attempts made
};

// Answer the client with the last backend answer's body and these header lines. A forwarded
// stream ends as failed once no chunk came for `stream_idle_ms` (0 for a JSON answer).
struct Forward {
  std::string headers;
  uint32_t status = 0;
  uint32_t backend = 0;
  uint32_t attempts = 0;
  double stream_idle_ms = 0;
  // A stream whose usage the router asked for (the client did not): its usage-only event goes to
  // Exchange::take_usage_event, not to the client.
  bool usage_injected = false;
};

// Ask RATE_LIMITER.limit({key}), waiting at most `timeout_ms` for it.
struct RateLimit {
  std::string key;
  double timeout_ms = 0;
};

// The order is the ABI's kind numbers (ActionKind).
using Action = std::variant<NoAction, ReadBody, Discover, Call, Wait, Reply, Forward, RateLimit>;

inline ActionKind kind(const Action& a) { return static_cast<ActionKind>(a.index()); }

template <ActionKind K>
using ActionOf = std::variant_alternative_t<static_cast<size_t>(K), Action>;
static_assert(std::is_same_v<ActionOf<ActionKind::Error>, NoAction> && std::is_same_v<ActionOf<ActionKind::ReadBody>, ReadBody> &&
              std::is_same_v<ActionOf<ActionKind::Discover>, Discover> && std::is_same_v<ActionOf<ActionKind::Call>, Call> &&
              std::is_same_v<ActionOf<ActionKind::Wait>, Wait> && std::is_same_v<ActionOf<ActionKind::Reply>, Reply> &&
              std::is_same_v<ActionOf<ActionKind::Forward>, Forward> &&
              std::is_same_v<ActionOf<ActionKind::RateLimit>, RateLimit>);

}  // namespace router
