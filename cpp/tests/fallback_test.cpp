// Fallback chains (contract section 4): ROUTER_CONFIG.fallbacks and a request's own `models`.
// Four backends: BACKEND_0 and BACKEND_1 serve "a", BACKEND_2 serves "b", BACKEND_3 serves "c".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/router_config.hpp"
#include "router_harness.hpp"

namespace router {
namespace {

using testing::as;
using testing::attempts_of;
using testing::backend_of;
using testing::chat_body;
using testing::header;
using testing::http_status;
using testing::reply_body;
using testing::RouterHarness;
using testing::text_of;

constexpr const char* kChain = R"({"retry":{"maxAttempts":2},"fallbacks":{"a":["b","c"],"x":["b"]}})";

void setup(RouterHarness& h, std::string_view config = kChain) {
  h.configure({"BACKEND_0", "BACKEND_1", "BACKEND_2", "BACKEND_3"}, config);
  h.describe({{"b0", {"a"}}, {"b1", {"a"}}, {"b2", {"b"}}, {"b3", {"c"}}});
}

// A Call's text: requestId \n model \n path [\n the body the backend gets, when edited].
std::string model_of(const Action& call) {
  const std::string& t = text_of(call);
  const size_t first = t.find('\n');
  return t.substr(first + 1, t.find('\n', first + 1) - first - 1);
}
std::string sent_body(const Action& call) {
  const std::string& t = text_of(call);
  size_t n = t.find('\n');
  for (int i = 0; i < 2 && n != std::string::npos; ++i) n = t.find('\n', n + 1);
  return n == std::string::npos ? std::string() : t.substr(n + 1);
}

// Past any backoff wait, to the next Call (or final answer).
Action past_waits(RouterHarness& h, uint32_t e, Action a) {
  while (kind(a) == ActionKind::Wait) {
    h.now = as<Wait>(a).until;
    a = h.exchange(e).resume(h.now);
  }
  return a;
}

nlohmann::json fallbacks_status(RouterHarness& h) {
  return nlohmann::json::parse(h.router.status_json(h.now))["fallbacks"];
}

TEST(Fallback, ChainInOrderEachModelWithItsOwnAttempts) {
  RouterHarness h;
  setup(h);
  auto [e, call] = h.post(chat_body("a"));
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_EQ(model_of(call), "a");
  EXPECT_EQ(sent_body(call), "");  // the client's body as it is
  EXPECT_LE(backend_of(call), 1u);
  Action next = h.threw(e);
  EXPECT_EQ(model_of(next), "a");
  EXPECT_LE(backend_of(next), 1u);
  // maxAttempts (2) used on "a": on to "b", a fresh count and tried set.
  next = h.threw(e);
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(model_of(next), "b");
  EXPECT_EQ(backend_of(next), 2u);
  EXPECT_EQ(attempts_of(next), 3u);
  // "b" has one backend: its second attempt revisits it (after a backoff), then "c".
  next = past_waits(h, e, h.threw(e));
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(backend_of(next), 2u);
  next = h.threw(e);
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(model_of(next), "c");
  EXPECT_EQ(backend_of(next), 3u);
  const Action done = h.answered(e, 200);
  ASSERT_EQ(kind(done), ActionKind::Forward);
  EXPECT_EQ(header(done, "x-router-model"), "c");
  EXPECT_EQ(header(done, "x-router-attempts"), "5");
  EXPECT_EQ(header(done, "x-router-backend"), "BACKEND_3");
  h.end(e);
  EXPECT_EQ(fallbacks_status(h), nlohmann::json::parse(R"({"a -> b":1,"b -> c":1})"));
  const std::string logs = h.router.drain_logs();
  EXPECT_NE(logs.find(R"("event":"fallback")"), std::string::npos) << logs;
  EXPECT_NE(logs.find(R"("reason":"attempts_exhausted")"), std::string::npos) << logs;
}

TEST(Fallback, TheLastModelFailingGivesUpWithEveryAttemptInTheTrace) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"fallbacks":{"a":["b"]}})");
  auto [e, call] = h.post(chat_body("a"));
  Action next = h.threw(e);
  EXPECT_EQ(model_of(next), "b");
  const Action done = h.answered(e, 503);
  ASSERT_EQ(http_status(done), 502u);
  EXPECT_EQ(header(done, "x-router-model"), "b");
  EXPECT_EQ(header(done, "x-router-attempts"), "2");
  EXPECT_NE(reply_body(done).find("after 2 attempts"), std::string::npos) << reply_body(done);
  EXPECT_NE(reply_body(done).find("(a)"), std::string::npos) << reply_body(done);
}

TEST(Fallback, OneDeadlineForTheWholeChain) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"timeouts":{"requestMs":1000,"perTryMs":600},"fallbacks":{"a":["b","c"]}})");
  auto [e, call] = h.post(chat_body("a"));
  const double deadline = as<Call>(call).deadline;
  h.now += 600;
  Action next = h.outcome(e, AttemptOutcome::TimedOut);
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(model_of(next), "b");
  EXPECT_EQ(as<Call>(next).deadline, deadline);
  EXPECT_EQ(as<Call>(next).timeout_ms, 400);  // clamped to what is left of the one deadline
  h.now += 400;
  next = h.outcome(e, AttemptOutcome::TimedOut);
  ASSERT_EQ(kind(next), ActionKind::Reply);
  EXPECT_EQ(http_status(next), 504u);  // "c" is never tried past the deadline
  EXPECT_EQ(fallbacks_status(h), nlohmann::json::parse(R"({"a -> b":1})"));
}

TEST(Fallback, ChainsThatLoopAreRefusedByTheConfig) {
  for (const char* bad : {R"({"fallbacks":{"a":["b","a"]}})", R"({"fallbacks":{"a":["b","b"]}})"}) {
    ConfigResult r = parse_router_config(bad);
    ASSERT_TRUE(r.error) << bad;
    EXPECT_EQ(r.error->field, std::string("fallbacks.a[1]")) << r.error->message;
    EXPECT_NE(r.error->message.find("makes the chain loop"), std::string::npos) << r.error->message;
  }
  // Not followed transitively: a -> b and b -> a are two chains, neither loops.
  ConfigResult ok = parse_router_config(R"({"fallbacks":{"a":["b"],"b":["a"]}})");
  ASSERT_TRUE(ok.config);
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"fallbacks":{"a":["b"],"b":["a"]}})");
  auto [e, call] = h.post(chat_body("a"));
  Action next = h.threw(e);
  EXPECT_EQ(model_of(next), "b");
  EXPECT_EQ(http_status(h.threw(e)), 502u);  // b's own chain is not followed back to a
  // The router refuses requests while the config loops.
  RouterHarness bad;
  bad.configure({"BACKEND_0"}, R"({"fallbacks":{"gpt-4o":["gpt-4o-mini","gpt-4o"]}})");
  auto [e2, refused] = bad.post(chat_body("gpt-4o"));
  EXPECT_EQ(http_status(refused), 500u);
  EXPECT_EQ(nlohmann::json::parse(reply_body(refused))["error"]["param"], "fallbacks.gpt-4o[1]") << reply_body(refused);
}

TEST(Fallback, ContextLengthExceededMovesOnOtherClientErrorsDoNot) {
  RouterHarness h;
  setup(h);
  auto [e, call] = h.post(chat_body("a"));
  Action next = h.exchange(e).outcome(AttemptOutcome::Answered, 400, AnswerBody::Json, "", "", h.now,
                                      "context_length_exceeded");
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(model_of(next), "b");
  EXPECT_EQ(h.router.health()[backend_of(call)].failures, 0u);  // the backend answered properly
  EXPECT_EQ(header(h.answered(e, 200), "x-router-model"), "b");
  h.end(e);
  EXPECT_NE(h.router.drain_logs().find(R"("reason":"context_length_exceeded")"), std::string::npos);
  // Any other 400 is the client's to see.
  auto [e2, call2] = h.post(chat_body("a"));
  Action other = h.exchange(e2).outcome(AttemptOutcome::Answered, 400, AnswerBody::Json, "", "", h.now,
                                        "invalid_value");
  EXPECT_EQ(kind(other), ActionKind::Forward);
  EXPECT_EQ(http_status(other), 400u);
  h.end(e2);
  // Without a chain the 400 context_length_exceeded is passed on.
  auto [e3, call3] = h.post(chat_body("c"));
  Action last = h.exchange(e3).outcome(AttemptOutcome::Answered, 400, AnswerBody::Json, "", "", h.now,
                                       "context_length_exceeded");
  EXPECT_EQ(kind(last), ActionKind::Forward);
  EXPECT_EQ(header(last, "x-router-model"), "c");
}

TEST(Fallback, StreamingFallsBackOnlyBeforeTheFirstByte) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"fallbacks":{"a":["b"]}})");
  auto [e, call] = h.post(chat_body("a", /*stream=*/true));
  ASSERT_TRUE(as<Call>(call).stream);
  Action next = h.outcome(e, AttemptOutcome::TimedOut);  // the first-byte timeout
  ASSERT_EQ(kind(next), ActionKind::Call);
  EXPECT_EQ(model_of(next), "b");
  EXPECT_TRUE(as<Call>(next).stream);
  h.end(e, EndHow::Completed);
  // After the first byte the stream is the client's: a failure then is an SSE error, no fallback.
  auto [e2, call2] = h.post(chat_body("a", /*stream=*/true));
  ASSERT_EQ(kind(h.answered(e2, 200)), ActionKind::Forward);
  EXPECT_NE(h.end(e2, EndHow::StreamFailed, "").find("stream_interrupted"), std::string::npos);
  EXPECT_EQ(fallbacks_status(h), nlohmann::json::parse(R"({"a -> b":1})"));
}

TEST(Fallback, NoBackendForTheModelGoesToTheNext) {
  RouterHarness h;
  setup(h);
  auto [e, call] = h.post(chat_body("x"));  // nobody serves "x"
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_EQ(model_of(call), "b");
  EXPECT_EQ(attempts_of(call), 1u);
  EXPECT_NE(h.router.drain_logs().find(R"("reason":"model_not_served")"), std::string::npos);
  // Every backend of "a" ejected (no panic routing): on to "b" without an attempt on "a".
  RouterHarness unhealthy;
  setup(unhealthy, R"({"retry":{"maxAttempts":1},"health":{"consecutiveFailures":1,"maxEjectionPercent":100,)"
                   R"("panicRouting":false},"fallbacks":{"a":["b"]}})");
  for (int i = 0; i < 2; ++i) {
    auto [f, c] = unhealthy.post(chat_body("a"));
    ASSERT_EQ(model_of(c), "a");
    unhealthy.threw(f);
    unhealthy.end(f);
  }
  auto [g, served] = unhealthy.post(chat_body("a"));
  ASSERT_EQ(kind(served), ActionKind::Call);
  EXPECT_EQ(model_of(served), "b");
  // Without a chain: 404 as before.
  RouterHarness plain;
  setup(plain, "");
  EXPECT_EQ(http_status(plain.post(chat_body("x")).second), 404u);
}

TEST(Fallback, TheBodyGetsTheModelRewrittenAndNothingElse) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"fallbacks":{"a":["b"]}})");
  const std::string body =
      R"({"seed": 123456789012345678901234567890, "model" : "a", "messages":[{"role":"user","content":"\"model\""}]})";
  auto [e, call] = h.post(body);
  EXPECT_EQ(sent_body(call), "");
  Action next = h.threw(e);
  EXPECT_EQ(sent_body(next),
            R"({"seed": 123456789012345678901234567890, "model" : "b", "messages":[{"role":"user","content":"\"model\""}]})");
}

TEST(Fallback, ARequestsOwnModelsListIsItsChain) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"fallbacks":{"a":["b"]}})");
  // `models` replaces the configured chain, and is removed from what backends get.
  auto [e, call] = h.post(R"({"model":"a","models":["a","c"],"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(sent_body(call), R"({"model":"a","messages":[{"role":"user","content":"hi"}]})");
  Action next = h.threw(e);
  EXPECT_EQ(model_of(next), "c");
  EXPECT_EQ(sent_body(next), R"({"model":"c","messages":[{"role":"user","content":"hi"}]})");
  h.end(e);
  // Without `model` the first of `models` is the model.
  auto [e2, call2] = h.post(R"({"models":["x","b"],"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(kind(call2), ActionKind::Call);
  EXPECT_EQ(model_of(call2), "b");  // nobody serves x
  EXPECT_EQ(sent_body(call2), R"({"model":"b","messages":[{"role":"user","content":"hi"}]})");
  h.end(e2);
  // `models` first in the body: the comma after it goes with it.
  auto [e3, call3] = h.post(R"({"models": ["c"], "model":"a","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(sent_body(call3), R"({ "model":"a","messages":[{"role":"user","content":"hi"}]})");
  h.end(e3);
}

TEST(Fallback, ABadModelsListIs400NamingIt) {
  RouterHarness h;
  setup(h);
  const std::string tail = R"(,"messages":[{"role":"user","content":"hi"}]})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"model":"a","models":[])", "models"},
      {R"({"model":"a","models":"b")", "models"},
      {R"({"model":"a","models":["1","2","3","4","5","6","7","8","9"])", "models"},
      {R"({"model":"a","models":[1])", "models[0]"},
      {R"({"model":"a","models":["b",""])", "models[1]"},
      {R"({"model":"a","models":["b","b"])", "models[1]"},
      {R"({"model":"a","models":["b"],"models":["c"])", "models"},
  };
  for (const auto& [head, param] : cases) {
    const Action a = h.post(head + tail).second;
    ASSERT_EQ(http_status(a), 400u) << head;
    EXPECT_EQ(nlohmann::json::parse(reply_body(a))["error"]["param"], param) << head;
  }
  // Eight is the bound; null is no list.
  EXPECT_EQ(kind(h.post(R"({"model":"a","models":["1","2","3","4","5","6","7","8"])" + tail).second),
            ActionKind::Call);
  EXPECT_EQ(kind(h.post(R"({"model":"a","models":null)" + tail).second), ActionKind::Call);
}

}  // namespace
}  // namespace router

namespace router {
namespace {

TEST(FallbackBodyEdit, ModelsWithBracketsAndEscapesInsideIsRemovedWhole) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1}})");
  // A "]" and an escaped quote inside the names must not end the member early.
  auto [e, call] = h.post(
      R"({"model":"a" , "models" : ["a", "x]\"y", "b"] , "n":1,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(kind(call), ActionKind::Call);
  EXPECT_EQ(sent_body(call), R"({"model":"a"  , "n":1,"messages":[{"role":"user","content":"hi"}]})");
  Action next = h.threw(e);  // nobody serves x]"y: on to b
  EXPECT_EQ(model_of(next), "b");
  EXPECT_EQ(sent_body(next), R"({"model":"b"  , "n":1,"messages":[{"role":"user","content":"hi"}]})");
  h.end(e);
  // `models: null` is no chain, and is removed all the same.
  auto [e2, call2] = h.post(R"({"model":"a","models":null,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(sent_body(call2), R"({"model":"a","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(http_status(h.threw(e2)), 502u);
}

}  // namespace
}  // namespace router

namespace router {
namespace {

TEST(Fallback, NeverMoreThan32WorkersForOneRequest) {
  RouterHarness h;
  h.configure({"BACKEND_0"},
              R"({"retry":{"maxAttempts":10,"backoffBaseMs":0,"backoffCapMs":0,"budgetMinRetries":1000},)"
              R"("fallbacks":{"a":["b","c","d"]}})");
  h.describe({{"any", {"*"}}});
  auto [e, a] = h.post(chat_body("a"));
  uint32_t calls = 0;
  while (kind(a) == ActionKind::Call) {
    ++calls;
    a = past_waits(h, e, h.threw(e));
  }
  EXPECT_EQ(calls, Router::kMaxWorkerInvocations);
  EXPECT_EQ(http_status(a), 502u);
  EXPECT_NE(reply_body(a).find("Cloudflare's limit of 32 Workers"), std::string::npos) << reply_body(a);
  EXPECT_EQ(header(a, "x-router-model"), "d");
}

}  // namespace
}  // namespace router
