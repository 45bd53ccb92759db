// The usage of streams the client did not ask it for: the body a backend gets asks for it
// (stream_options.include_usage), the FORWARD says so, and the usage-only event the backend ends
// with is taken out of the client's stream and counted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/body_edit.hpp"
#include "api/request_validator.hpp"
#include "router_harness.hpp"
#include "routing/usage_ledger.hpp"

namespace router {
namespace {

using testing::RouterHarness;

const LimitConfig kLimits{};

// The body a backend gets for `body` (sent to `endpoint`), asking for the client's model.
std::string backend_body(std::string_view body, Endpoint endpoint = Endpoint::ChatCompletions) {
  ValidationResult v = validate_request(endpoint, body, kLimits);
  EXPECT_TRUE(v.request) << body;
  if (!v.request) return "";
  return body_needs_edit(*v.request, v.request->model, v.request->model)
             ? body_for_model(body, *v.request, v.request->model)
             : std::string(body);
}

nlohmann::json stream_options_of(std::string_view body, Endpoint endpoint = Endpoint::ChatCompletions) {
  const auto json = nlohmann::json::parse(backend_body(body, endpoint));
  return json.contains("stream_options") ? json["stream_options"] : nlohmann::json();
}

constexpr std::string_view kAsked = R"({"include_usage":true})";

TEST(StreamUsageBody, AddedWhenTheClientStreamsWithoutIt) {
  EXPECT_EQ(backend_body(R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})"),
            R"({"stream_options":{"include_usage":true},"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(stream_options_of(R"(  {"model":"m","stream":true,"prompt":"x"})", Endpoint::Completions), nlohmann::json::parse(kAsked));
  EXPECT_EQ(stream_options_of(R"({"model":"m","stream":true,"stream_options":null,"messages":[{"role":"user"}]})"),
            nlohmann::json::parse(kAsked));
  EXPECT_EQ(stream_options_of(R"({"model":"m","stream":true,"stream_options":{},"messages":[{"role":"user"}]})"),
            nlohmann::json::parse(kAsked));
}

TEST(StreamUsageBody, FalseOrOddBecomesTrueOtherOptionsKept) {
  EXPECT_EQ(backend_body(R"({"model":"m","stream":true,"stream_options":{"x":1, "include_usage" : false},"messages":[{"role":"user"}]})"),
            R"({"model":"m","stream":true,"stream_options":{"x":1, "include_usage" : true},"messages":[{"role":"user"}]})");
  EXPECT_EQ(stream_options_of(R"({"model":"m","stream":true,"stream_options":{"include_usage":"no","y":[1]},"messages":[{"role":"user"}]})"),
            nlohmann::json::parse(R"({"include_usage":true,"y":[1]})"));
  EXPECT_EQ(stream_options_of(R"({"model":"m","stream":true,"stream_options":{"include_obfuscation":false},"messages":[{"role":"user"}]})"),
            nlohmann::json::parse(R"({"include_usage":true,"include_obfuscation":false})"));
}

TEST(StreamUsageBody, UntouchedWhenAskedNotStreamingOrNotAnObject) {
  for (std::string_view body : {
           R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user"}]})",
           R"({"model":"m","stream":false,"messages":[{"role":"user"}]})",
           R"({"model":"m","messages":[{"role":"user"}]})",
           R"({"model":"m","stream":true,"stream_options":"x","messages":[{"role":"user"}]})",
           R"({"model":"m","stream":true,"stream_options":{"include_usage":{"a":1}},"messages":[{"role":"user"}]})",
       }) {
    EXPECT_EQ(backend_body(body), body);
    EXPECT_FALSE(asks_stream_usage(*validate_request(Endpoint::ChatCompletions, body, kLimits).request)) << body;
  }
  const std::string_view embeddings = R"({"model":"m","stream":true,"input":"x"})";
  EXPECT_FALSE(asks_stream_usage(*validate_request(Endpoint::Embeddings, embeddings, kLimits).request));
  const std::string_view responses = R"({"model":"m","stream":true,"input":"x"})";
  EXPECT_FALSE(asks_stream_usage(*validate_request(Endpoint::Responses, responses, kLimits).request))
      << "a Responses stream reports usage in its last event by itself";
}

TEST(StreamUsageBody, WithAFallbackModelAndModelsRemoved) {
  const std::string_view body = R"({"models":["a","b"],"stream":true,"messages":[{"role":"user"}]})";
  ValidationResult v = validate_request(Endpoint::ChatCompletions, body, kLimits);
  ASSERT_TRUE(v.request);
  const auto json = nlohmann::json::parse(body_for_model(body, *v.request, "b"));
  EXPECT_EQ(json["model"], "b");
  EXPECT_FALSE(json.contains("models"));
  EXPECT_EQ(json["stream_options"], nlohmann::json::parse(kAsked));
}

TEST(UsageEvent, OnlyTheUsageOnlyEventInAnySpacingOrLineEnds) {
  for (std::string_view event : {
           "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n",
           "data:{\"choices\": [ ], \"usage\" : {\"prompt_tokens\":9,\"completion_tokens\":4}}\r\n\r\n",
           "event: chunk\rdata: {\"choices\":[],\r\ndata: \"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}\r\r",
       }) {
    auto u = usage_of_usage_event(event);
    ASSERT_TRUE(u) << event;
    EXPECT_EQ(u->prompt, 9u);
    EXPECT_EQ(u->completion, 4u);
    EXPECT_EQ(u->total, 13u);
  }
  for (std::string_view event : {
           "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":9}}\n\n",
           "data: {\"choices\":[],\"usage\":null}\n\n",
           "data: {\"usage\":{\"prompt_tokens\":9}}\n\n",
           "data: {\"choices\":[],\"usage\":{}}\n\n",
           "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1}}\n\n",
           "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9}\n\n",
           ": {\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\n\n",
       }) {
    EXPECT_FALSE(usage_of_usage_event(event)) << event;
  }
}

constexpr std::string_view kUsageEvent =
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n";
constexpr std::string_view kTail = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\ndata: [DONE]\n\n";

nlohmann::json tokens_of(RouterHarness& h) {
  return nlohmann::json::parse(h.router.status_json(h.now))["backends"][0]["tokens"];
}

TEST(StreamUsageExchange, InjectedStreamsCountTheEventTakenOut) {
  RouterHarness h;
  h.backends(1);
  auto [e, call] = h.post(testing::chat_body("m", true));
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_NE(std::get<Call>(call).request.find("\"include_usage\":true"), std::string::npos);
  Exchange& x = h.exchange(e);
  const Action forward = x.outcome(AttemptOutcome::Answered, 200, AnswerBody::Stream, "", "", h.now);
  ASSERT_EQ(kind(forward), ActionKind::Forward);
  EXPECT_TRUE(std::get<Forward>(forward).usage_injected);
  EXPECT_FALSE(x.take_usage_event("data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1}}\n\n"));
  EXPECT_TRUE(x.take_usage_event(kUsageEvent));
  EXPECT_FALSE(x.take_usage_event(kUsageEvent)) << "one usage event a stream";
  h.end(e, EndHow::Completed, "data: [DONE]\n\n");
  EXPECT_EQ(tokens_of(h), (nlohmann::json{{"prompt", 7}, {"completion", 3}, {"total", 10}, {"answers", 1}}));
}

TEST(StreamUsageExchange, AClientThatAskedKeepsItsEventAndFailedStreamsCountNothing) {
  RouterHarness h;
  h.backends(1);
  const std::string asked = R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user"}]})";
  auto [e, call] = h.post(asked);
  EXPECT_EQ(std::get<Call>(call).request.find('{'), std::string::npos) << "the client's body goes as it is";
  Exchange& x = h.exchange(e);
  EXPECT_FALSE(std::get<Forward>(x.outcome(AttemptOutcome::Answered, 200, AnswerBody::Stream, "", "", h.now)).usage_injected);
  EXPECT_FALSE(x.take_usage_event(kUsageEvent)) << "the client gets its own usage event";
  h.end(e, EndHow::Completed, kTail);
  EXPECT_EQ(tokens_of(h)["total"], 10) << "counted from the tail as before";

  auto [f, call2] = h.post(testing::chat_body("m", true));
  Exchange& y = h.exchange(f);
  y.outcome(AttemptOutcome::Answered, 200, AnswerBody::Stream, "", "", h.now);
  EXPECT_TRUE(y.take_usage_event(kUsageEvent));
  h.end(f, EndHow::Completed, "data: {\"choices\":[]}\n\n");  // no [DONE]: failed
  EXPECT_EQ(tokens_of(h)["answers"], 1) << "the failed stream's usage is not counted";
}

TEST(StreamUsageExchange, OffInTheConfigTheClientsBodyGoesAsItIs) {
  RouterHarness h;
  h.backends(1, R"({"usage":{"streamUsage":false}})");
  EXPECT_FALSE(h.router.config().usage.stream_usage);
  auto [e, call] = h.post(testing::chat_body("m", true));
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_EQ(std::get<Call>(call).request.find('{'), std::string::npos) << std::get<Call>(call).request;
  Exchange& x = h.exchange(e);
  EXPECT_FALSE(std::get<Forward>(x.outcome(AttemptOutcome::Answered, 200, AnswerBody::Stream, "", "", h.now)).usage_injected);
  EXPECT_FALSE(x.take_usage_event(kUsageEvent));
  h.end(e, EndHow::Completed, kTail);
  EXPECT_EQ(tokens_of(h)["total"], 10) << "the last event before [DONE] counts, as for a client that asked";
}

TEST(StreamUsageExchange, JsonAnswersAreNeverAsked) {
  RouterHarness h;
  h.backends(1);
  auto [e, call] = h.post(testing::chat_body("m", false));
  Exchange& x = h.exchange(e);
  EXPECT_FALSE(std::get<Forward>(x.outcome(AttemptOutcome::Answered, 200, AnswerBody::Json, "", "", h.now)).usage_injected);
  EXPECT_FALSE(x.take_usage_event(kUsageEvent));
  h.end(e, EndHow::Completed);
}

}  // namespace
}  // namespace router
