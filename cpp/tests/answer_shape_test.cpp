// What a backend's answer must look like (contract section 1): anything else is a failed attempt
// of that backend, logged once with what was wrong, never a crash and never passed to the client.
// Also: 401/403 (the backend's own credentials) and streams that end without `data: [DONE]`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::backend_of;
using testing::http_status;
using testing::header;
using testing::reply_body;
using testing::RouterHarness;

nlohmann::json status_of(RouterHarness& h) { return nlohmann::json::parse(h.router.status_json(h.now)); }

struct Broken {
  uint32_t status;
  AnswerBody body;
  bool stream;
  const char* detail;
};

TEST(AnswerShape, ABrokenAnswerIsAFailedAttemptNamingWhatWasWrong) {
  const Broken cases[] = {
      {0, AnswerBody::Json, false, "status 0 is not a final HTTP status"},
      {101, AnswerBody::Json, false, "status 101 is not a final HTTP status"},
      {150, AnswerBody::Stream, true, "status 150 is not a final HTTP status"},
      {600, AnswerBody::Json, false, "status 600 is not a final HTTP status"},
      {204, AnswerBody::Missing, false, "status 204 carries no body"},
      {205, AnswerBody::Json, false, "status 205 carries no body"},
      {304, AnswerBody::Missing, true, "status 304 carries no body"},
      {200, AnswerBody::Missing, false, "no JSON object body for a JSON request"},
      {200, AnswerBody::NotObject, false, "no JSON object body for a JSON request"},
      {200, AnswerBody::Missing, true, "no stream for a streaming request"},
      {200, AnswerBody::EmptyStream, true, "a stream that ended before its first chunk"},
      {200, AnswerBody::StreamNotBytes, true, "a stream whose chunks are not bytes"},
      {400, AnswerBody::StreamNotBytes, true, "a stream whose chunks are not bytes"},
  };
  for (const Broken& c : cases) {
    RouterHarness h;
    h.backends(2);
    auto [e, call] = h.post(chat_body("m", c.stream));
    ASSERT_EQ(kind(call), ActionKind::Call);
    Action next = h.exchange(e).outcome(AttemptOutcome::Answered, c.status, c.body, "", "", h.now);
    EXPECT_EQ(kind(next), ActionKind::Call) << c.detail << ": failed over";
    EXPECT_NE(backend_of(next), backend_of(call));
    const std::string logs = h.router.drain_logs();
    EXPECT_NE(logs.find("\"event\":\"backend_answer_shape\""), std::string::npos) << logs;
    EXPECT_NE(logs.find(c.detail), std::string::npos) << logs;
    EXPECT_NE(logs.find(h.router.backends()[backend_of(call)].binding), std::string::npos) << "names the backend";
    EXPECT_EQ(status_of(h)["backends"][backend_of(call)]["consecutiveFailures"], 1) << c.detail;
  }
}

TEST(AnswerShape, AnErrorWithoutAnErrorBodyIsAnsweredWithOneOfTheSameStatus) {
  for (const AnswerBody body : {AnswerBody::Missing, AnswerBody::NotObject, AnswerBody::Stream}) {
    RouterHarness h;
    h.backends(1);
    auto [e, call] = h.post(chat_body("m", body == AnswerBody::Stream));
    Action reply = h.exchange(e).outcome(AttemptOutcome::Answered, 404, body, "", "", h.now);
    ASSERT_EQ(kind(reply), ActionKind::Reply);
    EXPECT_EQ(http_status(reply), 404u);
    auto error = nlohmann::json::parse(reply_body(reply))["error"];
    EXPECT_EQ(error["code"], "backend_error");
    EXPECT_EQ(error["type"], "upstream_error");
    EXPECT_EQ(header(reply, "x-router-backend"), "BACKEND_0");
    EXPECT_EQ(status_of(h)["backends"][0]["inFlight"], 0) << "the attempt is over";
    EXPECT_EQ(status_of(h)["backends"][0]["successes"], 1);
    EXPECT_NE(h.router.drain_logs().find("an error answer without a JSON object body"), std::string::npos);
  }
}

TEST(AnswerShape, A401Or403IsTheBackendsOwnCredentialsFailing) {
  for (const uint32_t status : {401u, 403u}) {
    RouterHarness h;
    h.backends(2, R"({"retry":{"maxAttempts":2},"health":{"consecutiveFailures":1}})");
    auto [e, call] = h.post(chat_body());
    Action retry = h.answered(e, status);
    ASSERT_EQ(kind(retry), ActionKind::Call) << status << " is retried on another backend";
    EXPECT_NE(backend_of(retry), backend_of(call));
    auto backend = status_of(h)["backends"][backend_of(call)];
    EXPECT_EQ(backend["failures"], 1) << "counted against the backend";
    EXPECT_EQ(backend["state"], "ejected");
    Action last = h.answered(e, status);
    ASSERT_EQ(kind(last), ActionKind::Reply);
    EXPECT_EQ(http_status(last), 502u) << "the client never gets a 401 that looks like its own key failed";
  }
}

TEST(AnswerShape, AStreamWithoutItsDoneLineHasFailed) {
  for (const char* tail : {"data: {\"choices\":[]}\n\n", "", "data: [DONE", "xdata: [DONE]\n\n"}) {
    RouterHarness h;
    h.backends(1);
    auto [e, call] = h.post(chat_body("m", true));
    ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
    const std::string event = h.end(e, EndHow::Completed, tail);
    EXPECT_EQ(event.rfind("data: {\"error\":", 0), 0u) << "tail '" << tail << "': " << event;
    EXPECT_NE(event.find("stream_interrupted"), std::string::npos);
    EXPECT_NE(h.router.drain_logs().find("backend_stream_unterminated"), std::string::npos);
    EXPECT_EQ(status_of(h)["backends"][0]["failures"], 1);
  }
  for (const char* tail : {"data: [DONE]\n\n", "}\n\ndata:[DONE]\r\n\r\n", "data: [DONE]"}) {
    RouterHarness h;
    h.backends(1);
    auto [e, call] = h.post(chat_body("m", true));
    ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
    EXPECT_EQ(h.end(e, EndHow::Completed, tail), "") << tail;
    EXPECT_EQ(status_of(h)["backends"][0]["successes"], 1);
  }
}

TEST(AnswerShape, AJsonAnswerNeedsNoDoneLine) {
  RouterHarness h;
  h.backends(1);
  auto [e, call] = h.post(chat_body());
  ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
  EXPECT_EQ(h.end(e, EndHow::Completed, ""), "");
  EXPECT_EQ(status_of(h)["backends"][0]["successes"], 1);
}

}  // namespace
}  // namespace router
