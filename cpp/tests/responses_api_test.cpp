// The Responses API (/v1/responses): its body rules, its stream's end (a terminal event, no
// [DONE]), its usage names, describe().endpoints, and routing only to the backends that declare it.
#include <gtest/gtest.h>

#include <string>

#include "api/endpoint.hpp"
#include "api/request_validator.hpp"
#include "api/stream_ending.hpp"
#include "router_harness.hpp"
#include "routing/usage_ledger.hpp"

namespace router {
namespace {

using testing::http_status;
using testing::reply_body;
using testing::RouterHarness;

constexpr const char* kResponsesPath = "/v1/responses";

std::string responses_body(std::string_view model = "m", bool stream = false) {
  return std::string(R"({"model":")") + std::string(model) + R"(","stream":)" + (stream ? "true" : "false") +
         R"(,"input":"hi"})";
}

ValidationResult responses(std::string_view body) { return validate_request(Endpoint::Responses, body, LimitConfig{}); }

// A typed event as OpenAI streams it.
std::string event(std::string_view type, std::string_view data_rest = "") {
  return "event: " + std::string(type) + "\ndata: {\"type\":\"" + std::string(type) + "\"" + std::string(data_rest) +
         "}\n\n";
}

TEST(ResponsesEndpoint, PathsAndDescribeNames) {
  EXPECT_EQ(endpoint_of_path("/v1/responses"), Endpoint::Responses);
  EXPECT_EQ(endpoint_of_path("/v1/responses/"), std::nullopt);
  EXPECT_EQ(endpoint_of_path("/v1/chat/completions"), Endpoint::ChatCompletions);
  EXPECT_EQ(endpoint_of_name("responses"), Endpoint::Responses);
  EXPECT_EQ(endpoint_of_name("chat/completions"), Endpoint::ChatCompletions);
  EXPECT_EQ(endpoint_of_name("/v1/responses"), std::nullopt);
  EXPECT_EQ(endpoint_name(Endpoint::Embeddings), "embeddings");
  EXPECT_EQ(kDefaultEndpoints & endpoint_bit(Endpoint::Responses), 0);
}

TEST(ResponsesValidation, ModelRequiredInputStringOrArray) {
  EXPECT_TRUE(responses(R"({"model":"m","input":"hi"})").request);
  EXPECT_TRUE(responses(R"({"model":"m","input":[{"role":"user","content":"hi"}]})").request);
  EXPECT_TRUE(responses(R"({"model":"m","input":"hi","stream":true})").request->stream);
  auto no_model = responses(R"({"input":"hi"})");
  ASSERT_TRUE(no_model.error);
  EXPECT_EQ(no_model.error->param, "model");
  for (const char* bad : {R"({"model":"m"})", R"({"model":"m","input":7})", R"({"model":"m","input":{"a":1}})",
                          R"({"model":"m","input":null})"}) {
    auto v = responses(bad);
    ASSERT_TRUE(v.error) << bad;
    EXPECT_EQ(v.error->status, 400);
    EXPECT_EQ(v.error->param, "input") << bad;
  }
  // The chat rule does not apply: a Responses body has no `messages`.
  EXPECT_TRUE(validate_request(Endpoint::ChatCompletions, R"({"model":"m","input":"hi"})", LimitConfig{}).error);
}

TEST(ResponsesStreamEnding, ATerminalEventCompletesItAndDoneDoesNot) {
  const std::string start = event("response.created") + event("response.output_text.delta", ",\"delta\":\"hi\"");
  EXPECT_TRUE(stream_completed(Endpoint::Responses, start + event("response.completed")));
  EXPECT_TRUE(stream_completed(Endpoint::Responses, start + event("response.failed")));
  EXPECT_TRUE(stream_completed(Endpoint::Responses, start + event("response.incomplete")));
  EXPECT_FALSE(stream_completed(Endpoint::Responses, start)) << "cut after a delta";
  EXPECT_FALSE(stream_completed(Endpoint::Responses, start + "data: [DONE]\n\n"));
  EXPECT_FALSE(stream_completed(Endpoint::Responses, start + event("error")));
  EXPECT_FALSE(stream_completed(Endpoint::Responses, ""));
  // Data lines alone (no `event:` line) say the type too; CRLF line ends.
  EXPECT_TRUE(stream_completed(Endpoint::Responses, "data: {\"type\":\"response.completed\"}\r\n\r\n"));
  // The chat rule stays: [DONE], whatever came before.
  EXPECT_TRUE(stream_completed(Endpoint::ChatCompletions, "data: {}\n\ndata: [DONE]\n\n"));
  EXPECT_FALSE(stream_completed(Endpoint::ChatCompletions, event("response.completed")));
}

TEST(ResponsesStreamEnding, AFinalEventLongerThanTheTailIsJudgedByItsEnd) {
  // Only the end of a long response.completed is kept: its type cannot be seen.
  const std::string end_of_long_event = "ut_tokens\":5,\"total_tokens\":9},\"user\":null},\"sequence_number\":12}\n\n";
  EXPECT_TRUE(stream_completed(Endpoint::Responses, end_of_long_event));
  // A delta after it, whole in the tail, is not a terminal event.
  EXPECT_FALSE(stream_completed(Endpoint::Responses, end_of_long_event + event("response.output_text.delta")));
}

TEST(ResponsesStreamEnding, TheErrorEventIsTheResponsesOne) {
  EXPECT_EQ(stream_error_event(Endpoint::Responses, "broke", "stream_interrupted"),
            "event: error\ndata: {\"type\":\"error\",\"code\":\"stream_interrupted\",\"message\":\"broke\","
            "\"param\":null}\n\n");
  const std::string chat = stream_error_event(Endpoint::ChatCompletions, "broke", "stream_interrupted");
  EXPECT_EQ(chat.rfind("data: {\"error\":{", 0), 0u) << chat;
}

TEST(ResponsesUsage, FromTheCompletedEventsResponseUsage) {
  const std::string tail = event("response.output_text.done") +
                           "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{"
                           "\"output\":[{\"text\":\"\\\"usage\\\":{\\\"input_tokens\\\":999}\"}],\"usage\": {"
                           "\"input_tokens\":7,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":5,"
                           "\"total_tokens\":12},\"metadata\":{\"usage\":\"x\"}},\"sequence_number\":9}\n\n";
  auto u = usage_of_stream_tail(Endpoint::Responses, tail);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt, 7u);
  EXPECT_EQ(u->completion, 5u);
  EXPECT_EQ(u->total, 12u);
  // Only the end of the event kept: the usage object is still whole.
  auto cut = usage_of_stream_tail(Endpoint::Responses, tail.substr(tail.find("\"usage\": {") - 20));
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->total, 12u);
  EXPECT_FALSE(usage_of_stream_tail(Endpoint::Responses, event("response.completed", ",\"usage\":{\"input_tokens\":-1}")));
  EXPECT_FALSE(usage_of_stream_tail(Endpoint::Responses, "\"usage\":{\"input_tokens\":3"));
  // Chat streams keep their own rule (prompt_tokens, before [DONE]).
  EXPECT_FALSE(usage_of_stream_tail(Endpoint::ChatCompletions, tail));
}

// Two backends serve "m": A on the default endpoints, B declares responses too.
void two_backends(RouterHarness& h) {
  h.configure({"BACKEND_A", "BACKEND_B"});
  ASSERT_EQ(h.router.describe(R"([{"name":"a","models":["m","only-chat"]},)"
                              R"({"name":"b","models":["m"],"endpoints":["chat/completions","responses","future"]}])",
                              h.now),
            0);
}

TEST(ResponsesRouting, OnlyBackendsDeclaringItAreCalled) {
  RouterHarness h;
  two_backends(h);
  for (int i = 0; i < 6; ++i) {
    auto [handle, call] = h.post(responses_body(), kResponsesPath);
    ASSERT_EQ(kind(call), ActionKind::Call);
    EXPECT_EQ(testing::backend_of(call), 1u);
    EXPECT_NE(testing::text_of(call).find("\n/v1/responses"), std::string::npos);
    EXPECT_EQ(kind(h.answered(handle, 200)), ActionKind::Forward);
    h.end(handle);
  }
  // After a failure there is no other backend for this endpoint: B is tried again, never A.
  auto [handle, call] = h.post(responses_body(), kResponsesPath);
  Action next = h.answered(handle, 503);
  while (kind(next) == ActionKind::Wait) {
    h.now = testing::as<Wait>(next).until;
    next = h.exchange(handle).resume(h.now);
  }
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(testing::backend_of(next), 1u);
  h.end(handle);
  EXPECT_FALSE(h.router.backends()[0].serves("m", Endpoint::Responses));
  EXPECT_TRUE(h.router.backends()[0].serves("m", Endpoint::Embeddings));
  EXPECT_FALSE(h.router.backends()[1].serves("m", Endpoint::Embeddings)) << "B listed no embeddings";
  const std::string status = h.router.status_json(h.now);
  EXPECT_NE(status.find("\"endpoints\":[\"chat/completions\",\"completions\",\"embeddings\"]"), std::string::npos);
  EXPECT_NE(status.find("\"endpoints\":[\"chat/completions\",\"responses\"]"), std::string::npos) << status;
}

TEST(ResponsesRouting, AModelNotServedOnTheEndpointIs404ModelNotFound) {
  RouterHarness h;
  two_backends(h);
  auto [handle, reply] = h.post(responses_body("only-chat"), kResponsesPath);
  EXPECT_EQ(http_status(reply), 404u);
  const std::string body = reply_body(reply);
  EXPECT_NE(body.find("\"code\":\"model_not_found\""), std::string::npos) << body;
  EXPECT_NE(body.find("not served on /v1/responses"), std::string::npos) << body;
  auto [other, unknown] = h.post(responses_body("nobody"), kResponsesPath);
  EXPECT_NE(reply_body(unknown).find("is not served by any backend"), std::string::npos);
}

TEST(ResponsesRouting, AStreamEndsByItsTerminalEventWithTheResponsesErrorEvent) {
  RouterHarness h;
  two_backends(h);
  auto [good, call] = h.post(responses_body("m", true), kResponsesPath);
  ASSERT_EQ(kind(h.answered(good, 200)), ActionKind::Forward);
  EXPECT_EQ(h.end(good, EndHow::Completed, event("response.completed", ",\"response\":{\"usage\":{\"input_tokens\":2,"
                                                                   "\"output_tokens\":3,\"total_tokens\":5}}")),
            "");
  EXPECT_EQ(h.router.usage().backend(1).total, 5u);

  auto [cut, call2] = h.post(responses_body("m", true), kResponsesPath);
  ASSERT_EQ(kind(h.answered(cut, 200)), ActionKind::Forward);
  const std::string error = h.end(cut, EndHow::Completed, event("response.output_text.delta"));
  EXPECT_EQ(error.rfind("event: error\ndata: {\"type\":\"error\",\"code\":\"stream_interrupted\"", 0), 0u) << error;
  // A chat stream without [DONE] keeps its own error event.
  auto [chat, call3] = h.post(testing::chat_body("m", true));
  ASSERT_EQ(kind(h.answered(chat, 200)), ActionKind::Forward);
  EXPECT_EQ(h.end(chat, EndHow::Completed, event("response.completed")).rfind("data: {\"error\":", 0), 0u);
}

TEST(ResponsesDescribe, EndpointsAreCheckedAndKept) {
  RouterHarness h;
  h.configure({"BACKEND_A"});
  for (const char* bad : {R"("responses")", "[1]", R"({"a":1})",
                          R"(["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"])"}) {
    std::string accepted;
    ASSERT_EQ(h.router.describe(std::string(R"({"BACKEND_A":{"name":"a","models":["m"],"endpoints":)") + bad + "}}",
                                h.now, &accepted),
              0);
    EXPECT_EQ(accepted, "") << bad;
    EXPECT_NE(h.router.backends()[0].describe_error.find("endpoints"), std::string::npos) << bad;
  }
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m"],"endpoints":["responses"]}})", h.now), 0);
  EXPECT_EQ(h.router.backends()[0].endpoints, endpoint_bit(Endpoint::Responses));
  EXPECT_NE(h.router.backends().description_json(0).find("\"endpoints\":[\"responses\"]"), std::string::npos);
  // null or absent: the default three, and the description says nothing of them.
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m"],"endpoints":null}})", h.now), 0);
  EXPECT_EQ(h.router.backends()[0].endpoints, kDefaultEndpoints);
  EXPECT_EQ(h.router.backends().description_json(0).find("endpoints"), std::string::npos);
}

}  // namespace
}  // namespace router
