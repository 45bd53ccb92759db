#include "routing/exchange.hpp"

#include <algorithm>
#include <cmath>

#include "api/body_edit.hpp"
#include "api/openai_error.hpp"
#include "api/rate_limit_key.hpp"
#include "api/response_headers.hpp"
#include "api/retry_after.hpp"
#include "api/stream_ending.hpp"
#include "routing/access_summary.hpp"
#include "routing/front_door.hpp"
#include "routing/router.hpp"

namespace router {

namespace {

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string hex64(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 15];
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// application/json, or any +json media type; parameters (charset) are ignored.
bool json_media_type(std::string_view content_type) {
  std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type == "application/json") return true;
  size_t slash = type.find('/');
  return slash != std::string::npos && type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0 &&
         type.compare(0, slash, "application") == 0;
}

// Decimal digits only; nullopt otherwise (or when absurdly long).
std::optional<double> parse_content_length(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  double v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// How long the shim may wait for RATE_LIMITER.limit() (a local call in the Workers runtime).
constexpr double kRateLimitTimeoutMs = 1000;

std::string integer_text(double v) {
  if (v < 0) v = 0;
  uint64_t n = static_cast<uint64_t>(v);
  std::string out;
  do { out.insert(out.begin(), static_cast<char>('0' + n % 10)); n /= 10; } while (n);
  return out;
}

// A header value the shim can set safely: printable ASCII only (no line breaks, and nothing
// a Headers object would reject).
bool safe_header_value(std::string_view v) {
  if (v.empty() || v.size() > 256) return false;
  for (char c : v)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

}  // namespace

Exchange::Exchange(Router& router, const RequestHead& head, double now, uint64_t seed, uint64_t id_bits)
    : router_(router),
      head_(head),
      rng_(seed),
      policy_(router.retry_policy()),
      retry_(router.backends().size(), router.retry_policy().deadline(now)),
      arrived_at_(now),
      now_(now) {
  if (sane_request_id(head_.request_id)) {
    request_id_ = head_.request_id;
  } else {
    request_id_ = hex64(seed) + hex64(id_bits);  // 128 random bits from the shim
  }
}

void Exchange::clock(double now) {
  if (now > now_) now_ = now;
}

std::string Exchange::common_headers() const {
  std::string h = "x-request-id: " + request_id_;
  if (route_ == Route::Inference || route_ == Route::Models) {
    if (produced_by_) h += "\nx-router-backend: " + router_.binding(*produced_by_);
    h += "\nx-router-attempts: " + integer_text(attempts());
  }
  // The model routed to, once the body named one (with fallback chains: the one that served).
  if (route_ == Route::Inference && !model_.empty()) h += "\nx-router-model: " + header_safe_text(model_);
  h += "\nserver-timing: " + server_timing_value(now_ - arrived_at_, backend_ms_, attempts() > 0);
  return h;
}

Action Exchange::reply(uint32_t status, std::string body, std::string extra_headers, std::string_view content_type) {
  phase_ = Phase::Done;
  answered(status, now_);
  Reply a{.text = "content-type: " + std::string(content_type) + "\n" + common_headers(), .status = status,
          .attempts = attempts()};
  if (!extra_headers.empty()) a.text += "\n" + extra_headers;
  a.text += "\n\n";
  a.text += body;
  return a;
}

Action Exchange::error(uint32_t status, std::string_view message, std::string_view type, std::string_view param,
                       std::string_view code, std::string extra_headers) {
  if (router_.summaries_wanted()) error_code_.assign(code.empty() ? type : code);
  return reply(status, openai_error_body(message, type, param, code), std::move(extra_headers));
}

// Which events each phase takes: the exchange's whole state machine at a glance. An event a phase
// does not take is refused (action kind 0) and breaks the exchange: every later event is refused
// too (see take()); end() is taken in every phase and releases what the exchange holds.
//
//   phase      event          next phases
//   RateLimit  rate_limited   ReadBody | Discover | Done (429)
//   ReadBody   body           Discover | Call | Done (4xx, 504, 503)
//   Discover   resume         Call | Done (/v1/models, 404, 503, 504)
//   Call       outcome        Forwarded | Call | Wait | Done (502, 504, passed-on error)
//   Wait       resume         Wait | Call | Done (504)
//   Forwarded  -              (end)
//   Done       -              (end)
bool Exchange::accepts(Phase phase, Event event) {
  switch (phase) {
    case Phase::RateLimit: return event == Event::RateLimited;
    case Phase::ReadBody: return event == Event::Body;
    case Phase::Discover:
    case Phase::Wait: return event == Event::Resume;
    case Phase::Call: return event == Event::Outcome;
    default: return false;
  }
}

bool Exchange::take(Event event) {
  broken_ = broken_ || !accepts(phase_, event);
  return !broken_;
}

Action Exchange::start(double now) {
  clock(now);
  Admission door = front_door(head_, router_, now);
  route_ = door.route;
  endpoint_ = door.endpoint;
  if (door.answered() && router_.summaries_wanted()) error_code_.assign(door.error_code);
  if (door.answered()) return reply(door.status, std::move(door.body), std::move(door.extra_headers), door.content_type);
  if (router_.rate_limiting()) {
    phase_ = Phase::RateLimit;
    return RateLimit{.key = rate_limit_key(router_.api_keys_required(), head_.auth_hash, head_.client_ip),
                     .timeout_ms = std::max(0.0, std::min(kRateLimitTimeoutMs, retry_.deadline() - now))};
  }
  return admitted(now);
}

Action Exchange::rate_limited(RateLimitAnswer answer, double now) {
  clock(now);
  if (!take(Event::RateLimited)) return NoAction{};
  if (answer == RateLimitAnswer::OverLimit) {
    std::string seconds = integer_text(router_.config().rate_limit.retry_after_seconds);
    return error(429, "Rate limit exceeded for this client; retry after " + seconds + " seconds", "rate_limit_error",
                 {}, "rate_limit_exceeded", "retry-after: " + seconds);
  }
  if (answer == RateLimitAnswer::LimiterFailed)
    router_.log("warn", "rate_limiter_failed", {{"requestId", request_id_}});
  return admitted(now);
}

// The client may make this /v1 request (authenticated, within its rate limit).
Action Exchange::admitted(double now) {
  if (route_ == Route::Models) return discover_or_continue(now);

  if (!json_media_type(head_.content_type))
    return error(415, "Content-Type must be application/json", "invalid_request_error", {}, "unsupported_media_type");
  const uint64_t limit = router_.config().limits.max_body_bytes;
  if (!head_.content_length.empty()) {
    auto length = parse_content_length(head_.content_length);
    if (!length) return error(400, "Invalid Content-Length", "invalid_request_error", {}, {});
    if (*length > static_cast<double>(limit))
      return error(413, "Request body larger than " + integer_text(static_cast<double>(limit)) + " bytes",
                   "invalid_request_error", {}, "request_too_large");
  }
  phase_ = Phase::ReadBody;
  // A slow upload holds nothing past the request's deadline. The first attempt starts after the
  // body, so its per-try or first-byte timeout ends no sooner than `wake_by`.
  const auto& timeouts = router_.config().timeouts;
  const double wake_by = std::min(retry_.deadline(), now + std::min(timeouts.per_try_ms, timeouts.first_byte_ms));
  return ReadBody{static_cast<double>(limit), retry_.deadline(), wake_by};
}

Action Exchange::body(std::string_view bytes, BodyRead how, double now) {
  clock(now);
  if (!take(Event::Body)) return NoAction{};
  if (how == BodyRead::TimedOut || now >= retry_.deadline())
    return error(504, "The request body did not arrive before the request deadline", "timeout", {}, "deadline_exceeded");
  const LimitConfig& limits = router_.config().limits;
  if (how == BodyRead::OverLimit || bytes.size() > limits.max_body_bytes)
    return error(413, "Request body larger than " + integer_text(static_cast<double>(limits.max_body_bytes)) + " bytes",
                 "invalid_request_error", {}, "request_too_large");
  ValidationResult v = validate_request(endpoint_, bytes, limits);
  if (v.error || !v.request) {
    if (!v.error) return error(400, "Invalid request body", "invalid_request_error", {}, {});
    return error(v.error->status, v.error->message, "invalid_request_error", v.error->param,
                 v.error->status == 413 ? "request_too_large" : "");
  }
  model_ = v.request->model;
  stream_ = v.request->stream;
  if (!router_.config().usage.stream_usage) v.request->usage_edit.reset();  // usage.streamUsage off
  if (router_.summaries_wanted()) requested_model_ = model_;
  chain_ = FallbackChain(model_, std::move(v.request->models), router_.config());
  if (v.request->models_member || !chain_.empty() || asks_stream_usage(*v.request)) {
    request_ = std::move(*v.request);
    body_.assign(bytes);
  }
  return discover_or_continue(now);
}

// Starts the describe() calls due (in the background, at most this request's share of Worker
// invocations) and waits for discovery only when the request cannot be answered without it: no
// backend known to serve its model (or, for /v1/models, any backend never described) while some
// backend never answered describe(). The wait ends at the describe() timeout or the deadline.
Action Exchange::discover_or_continue(double now) {
  std::vector<uint32_t> batch = router_.discovery_batch(now);
  const bool wait = router_.backends().undiscovered() > 0 &&
                    (route_ == Route::Models || router_.eligible(model_, endpoint_).empty());
  if (batch.empty() && !wait) return proceed(now);
  phase_ = Phase::Discover;
  Discover a;
  a.describe_timeout_ms = router_.config().discovery.describe_timeout_ms;
  a.wait_until = wait ? std::max(now, std::min(retry_.deadline(), now + a.describe_timeout_ms)) : 0;
  described_ += static_cast<uint32_t>(batch.size());
  for (uint32_t i : batch) (a.bindings.empty() ? a.bindings : a.bindings += '\n') += router_.binding(i);
  return a;
}

Action Exchange::proceed(double now) {
  return route_ == Route::Models ? reply(200, router_.models_json()) : route_first(now);
}

Action Exchange::unavailable(std::string_view message, double retry_at, double now) {
  double seconds = std::ceil((retry_at - now) / 1000.0);
  if (!(seconds >= 1)) seconds = 1;
  return error(503, message, "service_unavailable", {}, "no_backend_available", "retry-after: " + integer_text(seconds));
}

Action Exchange::route_first(double now) {
  const Choice choice = router_.choose(model_, endpoint_, retry_, rng_, now);
  using Why = Choice::Why;
  if (!choice.chosen() && choice.why != Why::NoBackends) {
    auto next = fall_back(choice.why == Why::ModelNotServed ? "model_not_served" : "no_backend_available", now);
    if (next) return std::move(*next);
  }
  switch (choice.why) {
    case Why::Chosen: return call(choice.backend, now);
    case Why::NoBackends: return unavailable("No backends are configured", choice.retry_at, now);
    case Why::Discovering:
      return unavailable("The backends are still being discovered; try again shortly", choice.retry_at, now);
    case Why::DiscoveryFailed:
      return unavailable("The backends could not be discovered; try again shortly", choice.retry_at, now);
    case Why::ModelNotServed:
      // A model served, but not on this API (describe().endpoints): the same code, other words.
      if (router_.served_elsewhere(model_))
        return error(404, "The model '" + model_.substr(0, 256) + "' is not served on " +
                              std::string(endpoint_path(endpoint_)) + " by any backend",
                     "invalid_request_error", "model", "model_not_found");
      return error(404, "The model '" + model_.substr(0, 256) + "' is not served by any backend",
                   "invalid_request_error", "model", "model_not_found");
    case Why::AllUnhealthy:
      return unavailable("Every backend serving this model is ejected or cooling down", choice.retry_at, now);
    default: return unavailable("No backend available", now + 1000, now);
  }
}

Action Exchange::call(uint32_t backend, double now) {
  if (now >= retry_.deadline()) return deadline_exceeded();
  // Cloudflare's limit on Workers one request invokes (describe() calls included): without a
  // fallback chain maxAttempts and the discovery share stay within it; a chain could go past it.
  if (attempts() + described_ >= Router::kMaxWorkerInvocations)
    return give_up("No more backends may be called for this request (Cloudflare's limit of " +
                       integer_text(Router::kMaxWorkerInvocations) + " Workers)",
                   "all_attempts_failed");
  double timeout = policy_.attempt_timeout_ms(stream_, now, retry_.deadline());
  retry_.attempt_started(backend);
  router_.attempt_started(backend);
  attempt_started_at_ = now;
  attempt_timeout_ms_ = timeout;
  current_backend_ = backend;
  phase_ = Phase::Call;
  std::string request = request_id_ + "\n" + model_ + "\n" + head_.path;
  if (!body_.empty() && body_needs_edit(request_, request_.model, model_)) request += "\n" + backend_body();
  return Call{.request = std::move(request), .backend = backend, .attempt = attempts(),
              .stream = stream_, .timeout_ms = timeout, .deadline = retry_.deadline(), .attempt_deadline = now + timeout};
}

void Exchange::release_retry() {
  if (holds_retry_) router_.release_retry();
  holds_retry_ = false;
}

// Why an answer breaks the backend contract (contract section 1), or "" when it does not. A broken
// answer is a failed attempt of that backend, never a crash and never passed to the client.
std::string Exchange::answer_problem(uint32_t status, AnswerBody body) const {
  if (status < 200 || status > 599) return "status " + integer_text(status) + " is not a final HTTP status";
  if (status == 204 || status == 205 || status == 304) return "status " + integer_text(status) + " carries no body";
  if (body == AnswerBody::EmptyStream) return "a stream that ended before its first chunk";
  if (body == AnswerBody::StreamNotBytes) return "a stream whose chunks are not bytes";
  if (status >= 300) return {};  // an error answer: its body is checked when it is passed on
  // A success must be in the shape asked for: a JSON body cannot be sent as text/event-stream, nor
  // a stream as a JSON completion. Another backend may answer properly.
  if (stream_ && body != AnswerBody::Stream)
    return body == AnswerBody::Json ? "a JSON body for a streaming request" : "no stream for a streaming request";
  if (!stream_ && body != AnswerBody::Json)
    return body == AnswerBody::Stream ? "a stream for a JSON request" : "no JSON object body for a JSON request";
  return {};
}

void Exchange::log_bad_answer(std::string_view detail) {
  router_.log("warn", "backend_answer_shape",
              {{"backend", router_.binding(current_backend_)}, {"requestId", request_id_}, {"detail", detail}});
}

Action Exchange::outcome(AttemptOutcome outcome, uint32_t status, AnswerBody body, std::string_view retry_after,
                         std::string_view retry_after_ms, double now, std::string_view error_code,
                         std::string_view usage) {
  clock(now);
  if (!take(Event::Outcome)) return NoAction{};
  backend_ms_ += std::max(0.0, now - attempt_started_at_);
  if (outcome == AttemptOutcome::Answered)
    router_.answered_after(current_backend_, now - attempt_started_at_, body != AnswerBody::Stream);
  if (outcome == AttemptOutcome::Answered) {
    std::string problem = answer_problem(status, body);
    if (!problem.empty()) {
      log_bad_answer(problem);
      outcome = AttemptOutcome::Threw;
    }
  }
  router_.attempt_latency(current_backend_, now - attempt_started_at_, outcome, status, attempt_timeout_ms_, now);
  release_retry();
  std::optional<double> wait = parse_retry_after(retry_after, retry_after_ms, now);
  double capped = wait ? policy_.cap_retry_after(*wait) : -1;
  retry_.attempt_finished(outcome, status, capped, now);
  // A prompt too long for this model may fit the next one; the backend itself answered properly.
  if (outcome == AttemptOutcome::Answered && status == 400 && body == AnswerBody::Json &&
      error_code == "context_length_exceeded" && chain_.has_next()) {
    router_.attempt_finished(current_backend_, AttemptResult::Success, now);
    if (auto next = fall_back("context_length_exceeded", now)) return std::move(*next);
  }
  if (!RetryPolicy::retriable(outcome, status)) {
    if (status >= 200 && status < 300 && body == AnswerBody::Json) answer_usage_ = parse_usage_line(usage);
    return pass_on(status, body, retry_after, now, error_code);
  }

  router_.attempt_finished(current_backend_, RetryPolicy::health_result(outcome, status), now,
                           status == 429 ? capped : -1);
  return after_failure(now);
}

// The backend's final answer goes to the client; it stays in flight until the body is delivered.
// An error answer without a JSON object body is answered with an OpenAI error of the same status.
Action Exchange::pass_on(uint32_t status, AnswerBody body, std::string_view retry_after, double now,
                         std::string_view error_code) {
  produced_by_ = current_backend_;
  if (status >= 400 && router_.summaries_wanted()) error_code_.assign(error_code.empty() ? "backend_error" : error_code);
  if (status >= 300 && body != AnswerBody::Json) {
    log_bad_answer("an error answer without a JSON object body");
    router_.attempt_finished(current_backend_, AttemptResult::Success, now);
    return error(status, "The backend answered " + integer_text(status) + " without an error body", "upstream_error",
                 {}, "backend_error");
  }
  phase_ = Phase::Forwarded;
  answered(status, now);
  Forward a{.headers = {}, .status = status, .backend = current_backend_, .attempts = attempts()};
  forwarded_stream_ = body == AnswerBody::Stream;
  usage_injected_ = forwarded_stream_ && asks_stream_usage(request_);
  a.usage_injected = usage_injected_;
  // A stream that stalls after its first chunk is a failed upstream like one that breaks:
  // the shim ends it with the SSE error event once no chunk came for this long.
  if (forwarded_stream_) a.stream_idle_ms = router_.config().timeouts.stream_idle_ms;
  a.headers = forwarded_stream_ ? "content-type: text/event-stream\ncache-control: no-cache\n"
                                : "content-type: application/json\n";
  a.headers += common_headers();
  if (safe_header_value(trim(retry_after))) a.headers += "\nretry-after: " + std::string(trim(retry_after));
  return a;
}

Action Exchange::after_failure(double now) {
  if (retry_.attempts() >= policy_.max_attempts()) {
    if (auto next = fall_back("attempts_exhausted", now)) return std::move(*next);
    return give_up("All attempts failed", "all_attempts_failed");
  }
  if (now >= retry_.deadline()) return deadline_exceeded();
  const Choice choice = router_.choose(model_, endpoint_, retry_, rng_, now);
  if (!choice.chosen()) {
    if (auto next = fall_back("no_backend_left", now)) return std::move(*next);
    return give_up("No other backend is available", "all_attempts_failed");
  }
  auto start = retry_.start_time(policy_, choice.backend, choice.revisit, now, rng_);
  if (!start) {
    if (auto next = fall_back("no_backend_left", now)) return std::move(*next);
    return give_up("No time is left for another attempt before the deadline", "all_attempts_failed");
  }
  if (!router_.acquire_retry()) return give_up("The retry budget is exhausted", "retry_budget_exhausted");
  holds_retry_ = true;
  if (*start > now) {
    phase_ = Phase::Wait;
    pending_backend_ = choice.backend;
    wait_until_ = *start;
    return Wait{*start};
  }
  return call(choice.backend, now);
}

Action Exchange::resume(double now) {
  clock(now);
  if (!take(Event::Resume)) return NoAction{};
  if (phase_ == Phase::Discover) {
    if (route_ == Route::Inference && now >= retry_.deadline()) return deadline_exceeded();
    return proceed(now);
  }
  if (now >= retry_.deadline()) return deadline_exceeded();
  if (now < wait_until_) return Wait{wait_until_};
  // While we waited, an untried backend may have come back: it goes first.
  const Choice fresh = router_.choose(model_, endpoint_, retry_, rng_, now, /*untried_only=*/true);
  return call(fresh.chosen() ? fresh.backend : pending_backend_, now);
}

std::optional<Action> Exchange::fall_back(std::string_view reason, double now) {
  if (!chain_.has_next()) return std::nullopt;
  if (now >= retry_.deadline()) return deadline_exceeded();
  const std::string& next = chain_.take_next();
  router_.fallback_taken(model_, next);
  router_.log("info", "fallback", {{"requestId", request_id_}, {"from", model_}, {"to", next}, {"reason", reason}});
  if (retry_.attempts() > 0) {
    earlier_trace_ = attempt_trace() + " (" + model_ + ")";
    earlier_attempts_ += retry_.attempts();
  }
  retry_ = RetryState(router_.backends().size(), retry_.deadline());
  model_ = next;
  // Another attempt after some already made is a retry: it takes the budget like any other.
  if (earlier_attempts_ > 0 && !holds_retry_) {
    if (!router_.acquire_retry()) return give_up("The retry budget is exhausted", "retry_budget_exhausted");
    holds_retry_ = true;
  }
  return route_first(now);
}

const std::string& Exchange::backend_body() {
  if (sent_body_.empty() || sent_for_ != model_) {
    sent_body_ = body_for_model(body_, request_, model_);
    sent_for_ = model_;
  }
  return sent_body_;
}

std::string Exchange::attempt_trace() const {
  std::string trace = earlier_trace_;
  const BackendSet& backends = router_.backends();
  for (const AttemptRecord& r : retry_.trace()) {
    if (!trace.empty()) trace += "; ";
    trace += r.backend < backends.size() ? backends[r.backend].binding : std::string("?");
    switch (r.outcome) {
      case AttemptOutcome::Threw: trace += " failed (threw)"; break;
      case AttemptOutcome::TimedOut: trace += " timed out"; break;
      default: trace += " answered " + integer_text(r.status); break;
    }
  }
  return trace;
}

Action Exchange::give_up(std::string_view why, std::string_view code) {
  release_retry();
  std::string message = std::string(why) + " after " + integer_text(attempts()) + " attempt" +
                        (attempts() == 1 ? "" : "s") + ": " + attempt_trace();
  return error(502, message, "upstream_error", {}, code);
}

Action Exchange::deadline_exceeded() {
  release_retry();
  std::string message = "The request deadline was exceeded after " + integer_text(attempts()) + " attempt" +
                        (attempts() == 1 ? "" : "s");
  if (attempts() > 0) message += ": " + attempt_trace();
  return error(504, message, "timeout", {}, "deadline_exceeded");
}

std::string Exchange::end(EndHow how, std::string_view tail, double now) {
  clock(now);
  release_retry();
  if (how == EndHow::Completed && phase_ == Phase::Forwarded && forwarded_stream_ &&
      !stream_completed(endpoint_, tail)) {
    router_.log("warn", "backend_stream_unterminated",
                {{"backend", router_.binding(current_backend_)}, {"requestId", request_id_}});
    how = EndHow::StreamFailed;
  }
  if (how == EndHow::InternalError) router_.log("error", "internal_error", {{"requestId", request_id_}});
  std::string out;
  if (phase_ == Phase::Call || (phase_ == Phase::Forwarded && how == EndHow::InternalError)) {
    router_.attempt_finished(current_backend_, AttemptResult::Abandoned, now);
  } else if (phase_ == Phase::Forwarded) {
    if (forwarded_stream_ && how == EndHow::Completed) {
      router_.stream_ended_after(current_backend_, now - attempt_started_at_);
      if (!usage_injected_) answer_usage_ = usage_of_stream_tail(endpoint_, tail);
    }
    if (answer_usage_ && how == EndHow::Completed) count_usage(*answer_usage_);
    router_.attempt_finished(current_backend_,
                             how == EndHow::StreamFailed ? AttemptResult::Failure : AttemptResult::Success, now);
  }
  if (how == EndHow::StreamFailed) {
    out = stream_error_event(endpoint_, "The backend's stream failed after the response had started",
                             "stream_interrupted");
  } else if (how == EndHow::InternalError) {
    Action reply = error(500, "The router failed while handling this request", "server_error", {}, "internal_error");
    out = std::move(std::get_if<Reply>(&reply)->text);
  }
  // After the 500 of InternalError was made: the summary has the status the client got.
  if ((route_ == Route::Inference || route_ == Route::Models) && router_.summaries_wanted()) summarize(how);
  phase_ = Phase::Done;
  return out;
}

// Keys are told apart only when the router requires them: an open router's Authorization headers
// are anyone's text (and so are a refused request's).
std::string Exchange::client_key() const {
  return router_.api_keys_required() && sent_status_ != 401 ? key_id(head_.auth_hash) : "none";
}

bool Exchange::take_usage_event(std::string_view event) {
  if (phase_ != Phase::Forwarded || !usage_injected_ || answer_usage_) return false;
  answer_usage_ = usage_of_usage_event(event);
  return answer_usage_.has_value();
}

void Exchange::count_usage(const TokenUsage& usage) {
  router_.usage_reported(current_backend_, model_, client_key(), usage);
}

void Exchange::summarize(EndHow how) {
  if (how == EndHow::StreamFailed) error_code_ = "stream_interrupted";
  if (how == EndHow::ClientGone) error_code_ = "client_gone";
  if (sent_status_ == 0) answered_at_ = now_;  // nothing was sent: the request's time is all it had
  const std::string key = client_key();
  const TokenUsage usage = how == EndHow::Completed && answer_usage_ ? *answer_usage_ : TokenUsage{};
  const auto tenths = [](double ms) { return ms > 0 && std::isfinite(ms) ? std::round(ms * 10) / 10 : 0.0; };
  AccessSummary s{.request_id = request_id_, .path = head_.path,
                  .backend = produced_by_ ? std::string_view(router_.binding(*produced_by_)) : std::string_view(),
                  .model_requested = requested_model_, .model_served = model_, .key_id = key, .error = error_code_,
                  .status = sent_status_, .attempts = attempts(),
                  .router_ms = tenths(answered_at_ - arrived_at_ - backend_ms_), .backend_ms = tenths(backend_ms_),
                  .prompt_tokens = usage.prompt, .completion_tokens = usage.completion, .total_tokens = usage.total,
                  .stream = stream_};
  router_.summarized(s, rng_);
}

}  // namespace router
