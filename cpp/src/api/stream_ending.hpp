// StreamEnding: what a forwarded event stream's last bytes say about how it ended, and the event
// that tells the client when it broke. Per API, since their streams end differently:
// - chat/completions, completions: complete when the last line is `data: [DONE]`; the error
//   event is `data: {"error":{...}}` (OpenAI's chunk format);
// - responses: complete when the last event is a terminal one (`response.completed`, or
//   `response.failed` / `response.incomplete`, which are complete answers reporting their failure
//   in-band); there is no [DONE]; the error event is `event: error` with
//   `{"type":"error","code","message","param"}` (the Responses API's own error event).
// The router keeps only a stream's last bytes (the shim's TAIL_BYTES): a Responses stream whose
// last event starts before them cannot be judged by its type and counts as complete when it ends
// on an event boundary (docs/configuration.md, "Responses API").
#pragma once

#include <string>
#include <string_view>

#include "api/endpoint.hpp"

namespace router {

bool stream_completed(Endpoint endpoint, std::string_view tail);

// The error event that ends a stream broken after its first byte.
std::string stream_error_event(Endpoint endpoint, std::string_view message, std::string_view code);

// The last event of `tail` (trailing blank lines removed): what follows its last blank line, or
// the whole tail when it holds none. `whole` says whether the event's start is within the tail.
struct LastEvent {
  std::string_view text;
  bool whole = false;
};
LastEvent last_event(std::string_view tail);

}  // namespace router
