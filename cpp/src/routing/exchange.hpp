// Exchange: one client request's state machine. Driven by events (begin, body, resume, outcome,
// end) that carry `now`; every event answers with the next Action. It never touches another
// exchange; shared state (health, balancer, budget) lives in the Router.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "routing/action.hpp"
#include "routing/fallback_chain.hpp"
#include "routing/front_door.hpp"
#include "api/request_head.hpp"
#include "api/request_validator.hpp"
#include "routing/retry_policy.hpp"
#include "routing/usage_ledger.hpp"
#include "support/split_mix64.hpp"

namespace router {

class Router;

// How an exchange ended: its answer was delivered, the backend's stream failed after its first
// byte, the client went away, or the shim itself failed (a bug: the client gets a 500).
enum class EndHow : uint32_t { Completed = 0, StreamFailed = 1, ClientGone = 2, InternalError = 3 };
// What a backend's answer carried besides its status, as the shim found it.
enum class AnswerBody : uint32_t {
  Json = 0,            // a JSON object body
  Stream = 1,          // a stream whose first chunk (bytes) arrived
  Missing = 2,         // neither a body nor a stream
  NotObject = 3,       // a body that is not a JSON object (a string, an array, null, unserializable)
  EmptyStream = 4,     // a stream that ended before its first chunk
  StreamNotBytes = 5,  // a stream whose first chunk is not bytes
};
// How a request body read ended.
enum class BodyRead : uint32_t { Complete = 0, OverLimit = 1, TimedOut = 2 };
// What RATE_LIMITER.limit() said. A limiter that failed lets the request through (and is logged):
// an outage of the limiter must not take the API down with it.
enum class RateLimitAnswer : uint32_t { OverLimit = 0, Allowed = 1, LimiterFailed = 2 };

class Exchange {
 public:
  Exchange(Router& router, const RequestHead& head, double now, uint64_t seed, uint64_t id_bits);

  Action start(double now);
  Action body(std::string_view bytes, BodyRead how, double now);
  Action resume(double now);
  // After a RateLimit action.
  Action rate_limited(RateLimitAnswer answer, double now);
  // After a Call action. `body`: what the answer carried besides its status (for Answered);
  // `error_code`: the `error.code` of a 400 answer's JSON body, when a string (else empty);
  // `usage`: a JSON answer's `usage` as "prompt completion total" (else empty).
  Action outcome(AttemptOutcome outcome, uint32_t status, AnswerBody body, std::string_view retry_after,
                 std::string_view retry_after_ms, double now, std::string_view error_code = {},
                 std::string_view usage = {});
  // Releases what the exchange holds. `tail`: a forwarded stream's last bytes (a stream that does
  // not end the way its API's streams end has failed: stream_ending.hpp). Returns the SSE error event to write when the
  // stream failed, or the 500 reply (headers, blank line, body) for InternalError.
  std::string end(EndHow how, std::string_view tail, double now);
  // An event of a forwarded stream that may be the usage-only event (it has a "usage" object):
  // true when the router asked for the stream's usage (injected) and it is that event, whose
  // tokens are then counted at the end and which the client does not get.
  bool take_usage_event(std::string_view event);

  // When the request behind this exchange is surely gone, if the exchange is still there. Every
  // wait the core asks of the shim ends by the request's deadline, and the shim reports at once;
  // but on Cloudflare a client that leaves before its answer starts takes the Worker's pending
  // awaits with it, and no event comes. Still waiting kAbandonedAfterMs past the deadline, the
  // exchange is such a one. Never for a forwarded stream: its relay ends it, and no deadline
  // bounds a stream.
  static constexpr double kAbandonedAfterMs = 10'000;
  double abandoned_at() const {
    return phase_ == Phase::Forwarded && forwarded_stream_ ? std::numeric_limits<double>::infinity()
                                                          : retry_.deadline() + kAbandonedAfterMs;
  }

  const std::string& request_id() const { return request_id_; }
  // Whether the client asked for a stream (known once the body was read).
  bool wants_stream() const { return stream_; }

 private:
  // What the exchange waits for. The events each phase takes are listed once, in accepts().
  enum class Phase { RateLimit, ReadBody, Discover, Call, Wait, Forwarded, Done };
  enum class Event { RateLimited, Body, Resume, Outcome };
  static bool accepts(Phase phase, Event event);
  // The one gate every event passes: false (and broken for good) when the phase does not take it.
  bool take(Event event);

  Action admitted(double now);
  Action discover_or_continue(double now);
  Action proceed(double now);
  Action route_first(double now);
  // `error_code`: an error answer's error.code, when the shim read it (the access summary's error).
  Action pass_on(uint32_t status, AnswerBody body, std::string_view retry_after, double now,
                 std::string_view error_code);
  std::string answer_problem(uint32_t status, AnswerBody body) const;
  // One log line for an answer that broke the contract, naming the backend and what was wrong.
  void log_bad_answer(std::string_view detail);
  Action after_failure(double now);
  // Goes on with the next model of the chain (fresh attempts and tried set, the same deadline);
  // nullopt when the chain is over.
  std::optional<Action> fall_back(std::string_view reason, double now);
  // The body the backend gets: the client's, edited when the model differs or `models` was sent.
  const std::string& backend_body();
  // Attempts on every model so far.
  uint32_t attempts() const { return earlier_attempts_ + retry_.attempts(); }
  Action call(uint32_t backend, double now);
  Action give_up(std::string_view why, std::string_view code);
  Action deadline_exceeded();
  Action unavailable(std::string_view message, double retry_at, double now);
  Action reply(uint32_t status, std::string body, std::string extra_headers = {},
               std::string_view content_type = "application/json");
  Action error(uint32_t status, std::string_view message, std::string_view type, std::string_view param,
               std::string_view code, std::string extra_headers = {});
  std::string common_headers() const;
  // Every event carries `now`: the latest is the time an answer made in that event is sent.
  void clock(double now);
  std::string attempt_trace() const;
  void release_retry();

  Router& router_;
  RequestHead head_;
  Route route_ = Route::Unknown;
  Endpoint endpoint_ = Endpoint::ChatCompletions;
  Phase phase_ = Phase::Done;
  // Sticky, as h11's ERROR state: after one event out of order (a shim bug) every later event is
  // refused too, so a confused caller cannot drive the exchange on. phase_ is kept for end(),
  // which still releases what the exchange holds (an attempt in flight, a retry token).
  bool broken_ = false;
  SplitMix64 rng_;
  std::string request_id_;
  RetryPolicy policy_;
  RetryState retry_;
  std::string model_;  // the model of the attempts now (the served one, after a fallback)
  bool stream_ = false;
  FallbackChain chain_;
  ValidRequest request_;       // where to edit the body; kept with body_ only when it may be edited
  std::string body_;
  std::string sent_body_;      // body_ edited for sent_for_ (kept across a model's attempts)
  std::string sent_for_;
  uint32_t earlier_attempts_ = 0;  // attempts on the models before model_
  uint32_t described_ = 0;         // describe() calls this request started (they count as Workers invoked)
  std::string earlier_trace_;      // and their trace
  uint32_t current_backend_ = 0;  // the attempt in flight (Call) or the answer forwarded (Forwarded)
  std::optional<uint32_t> produced_by_;
  uint32_t pending_backend_ = 0;  // Wait: who to call when it ends
  double wait_until_ = 0;
  bool holds_retry_ = false;      // this exchange counts in the router's retries in flight
  bool forwarded_stream_ = false; // Forwarded: the answer is the backend's event stream
  bool usage_injected_ = false;   // Forwarded: the router asked the stream for its usage
  // Server-Timing: when the request arrived, the latest event's time, and the time spent waiting
  // on backend calls (each attempt from its Call to its outcome); the rest is the router's.
  double arrived_at_ = 0;
  double now_ = 0;
  double attempt_started_at_ = 0;
  double attempt_timeout_ms_ = 0;  // the Call's timeout: a failed attempt's peak-ewma sample
  double backend_ms_ = 0;
  // The tokens the answer being forwarded reported (a JSON answer's, at its outcome); counted once
  // the answer is delivered. A stream's come from its last event, at its end (from the usage-only
  // event taken out of an injected stream).
  std::optional<TokenUsage> answer_usage_;
  // Counts the tokens `usage` reports for the answer forwarded (backend, model, client key).
  void count_usage(const TokenUsage& usage);
  // The client's key id as the usage ledger counts it ("none" when the router takes no keys).
  std::string client_key() const;

  // What the access summary needs that routing does not keep (only while the router wants
  // summaries: access_summary.hpp): the status and error code sent, when, the model asked for.
  uint32_t sent_status_ = 0;
  std::string error_code_;
  double answered_at_ = 0;
  std::string requested_model_;
  void answered(uint32_t status, double now) { sent_status_ = status; answered_at_ = now; }
  // Hands the ended request's summary to the router (a /v1 request, while it wants summaries).
  void summarize(EndHow how);
};

}  // namespace router
