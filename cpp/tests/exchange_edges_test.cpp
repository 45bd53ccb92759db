// The edges of one request's handling that the first mutation run (scripts/mutation/cpp-mutants.mjs)
// found untested: the limits' exact boundaries (deadline, body size, status range), the other two
// inference endpoints, trimmed header values, the messages and traces clients read, discovery
// waits with one backend left to discover, and what an exchange releases when it ends.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::as;
using testing::backend_of;
using testing::http_status;
using testing::text_of;
using testing::header;
using testing::reply_body;
using testing::RouterHarness;

nlohmann::json error_of(const Action& a) {
  auto body = nlohmann::json::parse(reply_body(a), nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << text_of(a);
  return body.is_object() && body.contains("error") ? body["error"] : nlohmann::json();
}

nlohmann::json status_of(RouterHarness& h) { return nlohmann::json::parse(h.router.status_json(h.now)); }

TEST(ExchangeEdges, RequestIdsKeepEveryAllowedCharacterUpTo128) {
  RouterHarness h;
  h.backends(1);
  for (std::string id : {"a", "z", "A", "Z", "0", "9", ".", "_", ":", "-", "aZ09._:-"}) {
    auto [e, a] = h.begin("GET", "/healthz", "", "", id);
    EXPECT_EQ(header(a, "x-request-id"), id);
  }
  auto [e, longest] = h.begin("GET", "/healthz", "", "", std::string(128, 'q'));
  EXPECT_EQ(header(longest, "x-request-id"), std::string(128, 'q'));
  // The neighbours of each allowed range are not.
  for (std::string id : {"`", "{", "@", "[", "/", ";", "a\tb"}) {
    auto [e2, a] = h.begin("GET", "/healthz", "", "", id);
    EXPECT_NE(header(a, "x-request-id"), id);
  }
}

// Each inference path validates its own payload (messages / prompt / input) and is called as is.
TEST(ExchangeEdges, CompletionsAndEmbeddingsAreRoutedWithTheirOwnPayload) {
  RouterHarness h;
  h.backends(1);
  auto [e1, completion] = h.post(R"({"model":"m","prompt":"hi"})", "/v1/completions");
  ASSERT_EQ(kind(completion), ActionKind::Call) << text_of(completion);
  EXPECT_NE(text_of(completion).find("\nm\n/v1/completions"), std::string::npos);
  auto [e2, embedding] = h.post(R"({"model":"m","input":"hi"})", "/v1/embeddings");
  ASSERT_EQ(kind(embedding), ActionKind::Call) << text_of(embedding);
  EXPECT_NE(text_of(embedding).find("\nm\n/v1/embeddings"), std::string::npos);
  auto [e3, wrong] = h.post(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", "/v1/embeddings");
  EXPECT_EQ(http_status(wrong), 400u);
  EXPECT_EQ(error_of(wrong)["param"], "input");
  auto [e4, chat_without_messages] = h.post(R"({"model":"m","prompt":"hi"})");
  EXPECT_EQ(http_status(chat_without_messages), 400u);
  EXPECT_EQ(error_of(chat_without_messages)["param"], "messages");
}

TEST(ExchangeEdges, MessagesNameTheMethodAndTheModel) {
  RouterHarness h;
  h.backends(1);
  auto [e1, method] = h.begin("GET", testing::kChatPath);
  EXPECT_NE(error_of(method)["message"].get<std::string>().find("Method GET is not allowed"), std::string::npos);
  auto [e2, model] = h.post(chat_body("nope"));
  EXPECT_NE(error_of(model)["message"].get<std::string>().find("'nope'"), std::string::npos);
}

TEST(ExchangeEdges, ContentLengthMustBeDecimalDigits) {
  RouterHarness h;
  h.backends(1, R"({"limits":{"maxBodyBytes":100}})");
  for (const char* bad : {"12a", "-1", "1.5", "0x10", "/9", ":"}) {
    auto [e, a] = h.begin("POST", testing::kChatPath, "application/json", bad);
    EXPECT_EQ(http_status(a), 400u) << bad;
    EXPECT_EQ(error_of(a)["message"], "Invalid Content-Length") << bad;
  }
  for (const char* fits : {"0", "9", "99", "100"}) {
    auto [e, a] = h.begin("POST", testing::kChatPath, "application/json", fits);
    EXPECT_EQ(kind(a), ActionKind::ReadBody) << fits;
  }
}

// Blanks around a Content-Type (before its parameters) and around a passed-on Retry-After do not
// matter.
TEST(ExchangeEdges, HeaderValuesAreTrimmed) {
  RouterHarness h;
  h.backends(1);
  for (const char* type : {" application/json", "\tapplication/json \t; charset=utf-8", "application/json  "}) {
    auto [e, a] = h.begin("POST", testing::kChatPath, type);
    EXPECT_EQ(kind(a), ActionKind::ReadBody) << "'" << type << "'";
  }
  auto [e, call] = h.post(chat_body());
  Action fwd = h.answered(e, 400, " \t7 \t");
  EXPECT_EQ(header(fwd, "retry-after"), "7");
}

// A passed-on answer carries the backend's Retry-After as it was (an HTTP date has spaces), and
// none when the backend sent none.
TEST(ExchangeEdges, RetryAfterIsPassedOnOnlyWhenTheBackendSentOne) {
  RouterHarness h;
  h.backends(1);
  auto [e1, c1] = h.post(chat_body());
  EXPECT_FALSE(header(h.answered(e1, 404), "retry-after").has_value());
  h.end(e1);
  auto [e2, c2] = h.post(chat_body());
  Action fwd = h.answered(e2, 400, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(header(fwd, "retry-after"), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(ExchangeEdges, ADoneLineMayEndWithBlanks) {
  for (const char* tail : {"data: [DONE] \n\n", "data: [DONE]\t\r\n", "data: [DONE] \t "}) {
    RouterHarness h;
    h.backends(1);
    auto [e, call] = h.post(chat_body("m", true));
    ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
    EXPECT_EQ(h.end(e, EndHow::Completed, tail), "") << "'" << tail << "'";
    EXPECT_EQ(status_of(h)["backends"][0]["successes"], 1);
  }
}

// The deadline is the end: a body that completes exactly then is too late. A body exactly at the
// limit is not larger than it.
TEST(ExchangeEdges, TheBodyMustArriveBeforeTheDeadlineAndWithinTheLimit) {
  RouterHarness h;
  h.backends(1, R"({"timeouts":{"requestMs":1000},"limits":{"maxBodyBytes":200}})");
  auto [e1, read1] = h.begin("POST", testing::kChatPath);
  ASSERT_EQ(kind(read1), ActionKind::ReadBody);
  Action late = h.exchange(e1).body(chat_body(), BodyRead::Complete, h.now + 1000);
  EXPECT_EQ(http_status(late), 504u);
  EXPECT_EQ(error_of(late)["code"], "deadline_exceeded");
  // Even when the backends still had to be discovered: nothing waits past the deadline.
  RouterHarness d;
  d.configure({"BACKEND_A"}, R"({"timeouts":{"requestMs":1000}})");
  auto [e0, read0] = d.begin("POST", testing::kChatPath);
  Action too_late = d.exchange(e0).body(chat_body(), BodyRead::Complete, d.now + 1000);
  EXPECT_EQ(http_status(too_late), 504u);
  EXPECT_NE(error_of(too_late)["message"].get<std::string>().find("did not arrive"), std::string::npos);

  std::string body = chat_body();
  body += std::string(200 - body.size(), ' ');
  auto [e2, read2] = h.begin("POST", testing::kChatPath);
  EXPECT_EQ(kind(h.exchange(e2).body(body, BodyRead::Complete, h.now + 999)), ActionKind::Call);
  auto [e3, read3] = h.begin("POST", testing::kChatPath);
  Action over = h.exchange(e3).body(body + " ", BodyRead::Complete, h.now);
  EXPECT_EQ(http_status(over), 413u);
  EXPECT_EQ(error_of(over)["code"], "request_too_large");
  // Other validation errors are plain 400s, not "too large".
  auto [e4, bad] = h.post(R"({"model":"m","messages":[]})");
  EXPECT_EQ(http_status(bad), 400u);
  EXPECT_NE(error_of(bad)["code"], "request_too_large");
}

// One of two backends described: a request for its model does not wait for the other (whose
// describe() goes out in the background); a model only the undiscovered one may serve waits for it,
// and is 503 (not 404) if it never answers.
TEST(ExchangeEdges, OnlyARequestThatNeedsTheLastUndiscoveredBackendWaitsForIt) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"}, R"({"discovery":{"describeTimeoutMs":800}})");
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m1"]}})", h.now), 0);
  auto [e1, a1] = h.post(chat_body("m2"));
  ASSERT_EQ(kind(a1), ActionKind::Discover);
  EXPECT_EQ(text_of(a1), "BACKEND_B");
  EXPECT_EQ(as<Discover>(a1).wait_until, h.now + 800) << "waits for B, until the describe() timeout";
  auto [e2, a2] = h.post(chat_body("m1"));
  EXPECT_EQ(kind(a2), ActionKind::Call) << "A serves m1: no wait";
  Action unavailable = h.exchange(e1).resume(h.now + 800);
  EXPECT_EQ(http_status(unavailable), 503u);
  EXPECT_NE(error_of(unavailable)["message"].get<std::string>().find("still being discovered"), std::string::npos);
}

// docs/reliability.md: no backends at all is 503 with Retry-After: 60.
TEST(ExchangeEdges, NoBackendsAtAllIsRetriedAfterAMinute) {
  RouterHarness h;
  h.configure({"AI"});
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(http_status(a), 503u);
  EXPECT_EQ(header(a, "retry-after"), "60");
}

// A backend described with no models is discovered: a model nobody serves is then 404.
TEST(ExchangeEdges, ABackendWithNoModelsMakesAnUnknownModel404) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  ASSERT_EQ(h.router.describe(R"([{"name":"a","models":[]},{"name":"b","models":["m"]}])", h.now), 0);
  auto [e, a] = h.post(chat_body("x"));
  EXPECT_EQ(http_status(a), 404u);
  EXPECT_EQ(error_of(a)["code"], "model_not_found");
}

TEST(ExchangeEdges, ACallCarriesItsAttemptDeadlineAndCountsWhileItRuns) {
  RouterHarness h;
  h.backends(2, R"({"timeouts":{"perTryMs":700,"requestMs":1000}})");
  auto [e, c1] = h.post(chat_body());
  ASSERT_EQ(kind(c1), ActionKind::Call);
  EXPECT_EQ(as<Call>(c1).attempt_deadline, h.now + 700);
  auto backend = status_of(h)["backends"][backend_of(c1)];
  EXPECT_EQ(backend["inFlight"], 1);
  EXPECT_EQ(backend["attempts"], 1);
  h.now += 600;
  Action c2 = h.threw(e);
  ASSERT_EQ(kind(c2), ActionKind::Call);
  EXPECT_EQ(as<Call>(c2).timeout_ms, 400);
  EXPECT_EQ(as<Call>(c2).attempt_deadline, h.now + 400) << "clamped to the deadline";
}

// An exchange gives back only the retry it holds: ending one that already gave its retry back
// leaves another exchange's retry counted.
TEST(ExchangeEdges, AnEndingExchangeReleasesOnlyItsOwnRetry) {
  RouterHarness h;
  h.backends(3);
  auto [a, ca] = h.post(chat_body());
  ASSERT_EQ(kind(h.threw(a)), ActionKind::Call);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 1u);
  ASSERT_EQ(kind(h.answered(a, 200)), ActionKind::Forward);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 0u);
  auto [b, cb] = h.post(chat_body());
  ASSERT_EQ(kind(h.threw(b)), ActionKind::Call);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 1u);
  h.end(a);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 1u) << "b's retry is still in flight";
  h.end(b);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 0u);
}

// Contract section 1: 200-599 are final statuses (599 included). Only a 2xx must have the shape
// the request asked for; a 3xx is an error answer, passed on when it has a JSON body.
TEST(ExchangeEdges, StatusBoundaries) {
  RouterHarness h;
  h.backends(2);
  auto [e1, c1] = h.post(chat_body());
  Action fwd599 = h.answered(e1, 599);
  ASSERT_EQ(kind(fwd599), ActionKind::Forward);
  EXPECT_EQ(http_status(fwd599), 599u);
  h.end(e1);
  auto [e2, c2] = h.post(chat_body("m", true));
  Action fwd300 = h.exchange(e2).outcome(AttemptOutcome::Answered, 300, AnswerBody::Json, "", "", h.now);
  ASSERT_EQ(kind(fwd300), ActionKind::Forward);
  EXPECT_EQ(http_status(fwd300), 300u);
  EXPECT_EQ(header(fwd300, "content-type"), "application/json");
  h.end(e2);
  auto [e3, c3] = h.post(chat_body());
  Action bare300 = h.exchange(e3).outcome(AttemptOutcome::Answered, 300, AnswerBody::Missing, "", "", h.now);
  ASSERT_EQ(kind(bare300), ActionKind::Reply);
  EXPECT_EQ(http_status(bare300), 300u);
  EXPECT_EQ(error_of(bare300)["code"], "backend_error");
}

TEST(ExchangeEdges, AttemptTracesAndCountsReadRight) {
  RouterHarness h;
  h.backends(2);
  auto [e, c1] = h.post(chat_body());
  Action c2 = h.answered(e, 503);
  ASSERT_EQ(kind(c2), ActionKind::Call);
  Action wait = h.threw(e);
  ASSERT_EQ(kind(wait), ActionKind::Wait);
  h.now = as<Wait>(wait).until;
  Action c3 = h.exchange(e).resume(h.now);
  ASSERT_EQ(kind(c3), ActionKind::Call);
  Action fail = h.outcome(e, AttemptOutcome::TimedOut);
  const auto name = [](const Action& a) { return "BACKEND_" + std::to_string(backend_of(a)); };
  EXPECT_EQ(error_of(fail)["message"], "All attempts failed after 3 attempts: " + name(c1) + " answered 503; " +
                                           name(c2) + " failed (threw); " + name(c3) + " timed out");

  RouterHarness one;
  one.backends(1, R"({"retry":{"maxAttempts":1}})");
  auto [e1, only] = one.post(chat_body());
  EXPECT_EQ(error_of(one.answered(e1, 502))["message"], "All attempts failed after 1 attempt: BACKEND_0 answered 502");
}

TEST(ExchangeEdges, DeadlineMessagesSayHowManyAttemptsWereMade) {
  RouterHarness h;
  h.backends(1, R"({"timeouts":{"requestMs":1000,"perTryMs":1000}})");
  auto [e, call] = h.post(chat_body());
  h.now += 1000;
  Action late = h.outcome(e, AttemptOutcome::TimedOut);
  EXPECT_EQ(http_status(late), 504u);
  EXPECT_EQ(error_of(late)["message"], "The request deadline was exceeded after 1 attempt: BACKEND_0 timed out");

  // Still waiting for discovery when the deadline came: no attempt at all.
  RouterHarness d;
  d.configure({"BACKEND_A"}, R"({"timeouts":{"requestMs":600}})");
  auto [e2, discover] = d.post(chat_body());
  ASSERT_EQ(kind(discover), ActionKind::Discover);
  EXPECT_EQ(as<Discover>(discover).wait_until, d.now + 600);
  Action none = d.exchange(e2).resume(d.now + 600);
  EXPECT_EQ(http_status(none), 504u) << "resumed exactly at the deadline";
  EXPECT_EQ(error_of(none)["message"], "The request deadline was exceeded after 0 attempts");
}

// A wait that runs into the deadline ends with a 504 that gives the retry back at once.
TEST(ExchangeEdges, TheDeadlineReplyReleasesTheRetry) {
  RouterHarness h;
  h.backends(1, R"({"timeouts":{"requestMs":1000},"health":{"maxEjectionPercent":100}})");
  auto [e, call] = h.post(chat_body());
  Action wait = h.answered(e, 503, "0.5");
  ASSERT_EQ(kind(wait), ActionKind::Wait);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 1u);
  Action late = h.exchange(e).resume(h.now + 1000);
  EXPECT_EQ(http_status(late), 504u);
  EXPECT_EQ(h.router.budget().retries_in_flight(), 0u);
}

// The shim failing after the answer was forwarded says nothing about the backend.
TEST(ExchangeEdges, AnInternalErrorAfterForwardingHasNoHealthEffect) {
  RouterHarness h;
  h.backends(1);
  auto [e, call] = h.post(chat_body());
  ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
  h.end(e, EndHow::InternalError);
  auto backend = status_of(h)["backends"][0];
  EXPECT_EQ(backend["successes"], 0);
  EXPECT_EQ(backend["failures"], 0);
  EXPECT_EQ(backend["inFlight"], 0);
}

}  // namespace
}  // namespace router
