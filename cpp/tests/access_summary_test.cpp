// The access summary of each /v1 request (access_summary.hpp): the Analytics Engine data point
// the router makes while the Worker has an ANALYTICS binding, the "access" log line sampled at
// accessLog.sampleRate, and that neither costs anything while both are off.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/router_config.hpp"
#include "router_harness.hpp"
#include "routing/access_summary.hpp"

namespace router {
namespace {

using nlohmann::json;
using testing::as;
using testing::backend_of;
using testing::chat_body;
using testing::fake_hash;
using testing::header;
using testing::RouterHarness;

const std::string kKeyHash = fake_hash('a');
const std::string kKeyId = "key-aaaaaaaaaaaa";

std::vector<json> lines_of(const std::string& text) {
  std::vector<json> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(json::parse(text.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

std::vector<json> access_lines(RouterHarness& h) {
  std::vector<json> out;
  for (json& line : lines_of(h.router.drain_logs()))
    if (line["event"] == "access") out.push_back(std::move(line));
  return out;
}

// Two backends serving "m" (BACKEND_2 serves "b", for fallbacks), the ANALYTICS binding, one API key.
void setup(RouterHarness& h, std::string_view config = R"({"retry":{"maxAttempts":2,"backoffBaseMs":0}})",
           bool analytics = true) {
  std::vector<std::string> env = {"BACKEND_0", "BACKEND_1", "BACKEND_2"};
  if (analytics) env.push_back("ANALYTICS");
  h.configure(env, config, {kKeyHash});
  h.describe({{"b0", {"m", "a"}}, {"b1", {"m"}}, {"b2", {"b"}}});
  h.router.drain_logs();
}

// Begins a request with the key; the body arrives 2 ms later (router time).
std::pair<uint32_t, Action> post(RouterHarness& h, const std::string& body) {
  auto [e, first] = h.begin("POST", testing::kChatPath, "application/json", "", "", kKeyHash);
  EXPECT_EQ(kind(first), ActionKind::ReadBody);
  h.now += 2;
  return {e, h.exchange(e).body(body, BodyRead::Complete, h.now)};
}

Action answer(RouterHarness& h, uint32_t e, double after_ms, AnswerBody body, std::string_view usage = {}) {
  h.now += after_ms;
  return h.exchange(e).outcome(AttemptOutcome::Answered, 200, body, "", "", h.now, {}, usage);
}

json only_point(RouterHarness& h) {
  std::vector<json> points = lines_of(h.router.drain_data_points());
  EXPECT_EQ(points.size(), 1u);
  return points.empty() ? json() : points[0];
}

std::string binding(uint32_t backend) { return "BACKEND_" + std::to_string(backend); }

TEST(AccessSummary, JsonSuccessDataPointInTheDocumentedLayout) {
  RouterHarness h;
  setup(h);
  auto [e, call] = post(h, chat_body());
  ASSERT_EQ(kind(call), ActionKind::Call);
  Action forward = answer(h, e, 30, AnswerBody::Json, "5 7 12");
  const std::string request_id = *header(forward, "x-request-id");
  h.now += 5;  // delivering the body is neither router nor backend time
  h.end(e);
  json p = only_point(h);
  EXPECT_EQ(p["indexes"], json::array({kKeyId}));
  EXPECT_EQ(p["blobs"], json::array({binding(backend_of(call)), "m", "m", "", kKeyId, "/v1/chat/completions",
                                     request_id}));
  EXPECT_EQ(p["doubles"], json::array({200, 1, 2, 30, 5, 7, 12, 0}));
  EXPECT_EQ(h.router.drain_data_points(), "") << "drained";
}

TEST(AccessSummary, RetriedSuccessNamesTheBackendThatServed) {
  RouterHarness h;
  setup(h);
  auto [e, call] = post(h, chat_body());
  h.now += 10;
  Action second = h.threw(e);
  ASSERT_EQ(kind(second), ActionKind::Call);
  ASSERT_NE(backend_of(second), backend_of(call));
  answer(h, e, 20, AnswerBody::Json, "1 2 3");
  h.end(e);
  json p = only_point(h);
  EXPECT_EQ(p["blobs"][0], binding(backend_of(second)));
  EXPECT_EQ(p["blobs"][3], "");
  EXPECT_EQ(p["doubles"], json::array({200, 2, 2, 30, 1, 2, 3, 0}));
}

TEST(AccessSummary, AllAttemptsFailedIsA502WithItsErrorCode) {
  RouterHarness h;
  setup(h);
  auto [e, call] = post(h, chat_body());
  h.now += 10;
  h.threw(e);
  h.now += 10;
  Action reply = h.threw(e);
  ASSERT_EQ(testing::http_status(reply), 502u);
  h.end(e);
  json p = only_point(h);
  EXPECT_EQ(p["blobs"][0], "") << "no backend's answer was delivered";
  EXPECT_EQ(p["blobs"][3], "all_attempts_failed");
  EXPECT_EQ(p["doubles"], json::array({502, 2, 2, 20, 0, 0, 0, 0}));
}

TEST(AccessSummary, StreamTokensFromItsLastEventAndAFailedStream) {
  RouterHarness h;
  setup(h);
  auto [e, call] = post(h, chat_body("m", true));
  ASSERT_EQ(kind(answer(h, e, 40, AnswerBody::Stream)), ActionKind::Forward);
  h.now += 500;  // the stream flows: backend ms stay the time to its first byte, as Server-Timing
  // The router asked for the stream's usage (the client did not): its usage-only event is taken.
  ASSERT_TRUE(h.exchange(e).take_usage_event(
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n"));
  h.end(e, EndHow::Completed, "data: [DONE]\n\n");
  json p = only_point(h);
  EXPECT_EQ(p["doubles"], json::array({200, 1, 2, 40, 9, 4, 13, 1}));
  EXPECT_EQ(p["blobs"][3], "");

  auto [broken, call2] = post(h, chat_body("m", true));
  answer(h, broken, 40, AnswerBody::Stream);
  h.end(broken, EndHow::StreamFailed, "");
  p = only_point(h);
  EXPECT_EQ(p["blobs"][3], "stream_interrupted");
  EXPECT_EQ(p["doubles"], json::array({200, 1, 2, 40, 0, 0, 0, 1}));
}

TEST(AccessSummary, FallbackNamesTheModelAskedAndTheModelServed) {
  RouterHarness h;
  setup(h, R"({"retry":{"maxAttempts":1},"fallbacks":{"a":["b"]}})");
  auto [e, call] = post(h, chat_body("a"));
  ASSERT_EQ(backend_of(call), 0u);
  h.now += 10;
  Action next = h.threw(e);
  ASSERT_EQ(backend_of(next), 2u);
  answer(h, e, 10, AnswerBody::Json);
  h.end(e);
  json p = only_point(h);
  EXPECT_EQ(p["blobs"][0], "BACKEND_2");
  EXPECT_EQ(p["blobs"][1], "a");
  EXPECT_EQ(p["blobs"][2], "b");
  EXPECT_EQ(p["doubles"], json::array({200, 2, 2, 20, 0, 0, 0, 0}));
}

TEST(AccessSummary, ClientGoneAndShimFailureSayWhatTheClientGot) {
  RouterHarness h;
  setup(h);
  auto [gone, call] = post(h, chat_body());
  h.now += 7;
  h.end(gone, EndHow::ClientGone, "");
  json p = only_point(h);
  EXPECT_EQ(p["blobs"][3], "client_gone");
  EXPECT_EQ(p["doubles"][0], 0) << "no answer was sent";

  auto [failed, call2] = post(h, chat_body());
  h.end(failed, EndHow::InternalError, "");
  p = only_point(h);
  EXPECT_EQ(p["blobs"][3], "internal_error");
  EXPECT_EQ(p["doubles"][0], 500);
}

TEST(AccessSummary, OnlyV1RequestsAndNothingWhileOff) {
  RouterHarness h;
  setup(h);
  auto [health, reply] = h.begin("GET", "/healthz");
  h.end(health);
  EXPECT_EQ(h.router.drain_data_points(), "") << "/healthz is no /v1 request";
  auto [refused, door] = h.begin("POST", testing::kChatPath, "application/json", "", "", fake_hash('b'));
  ASSERT_EQ(testing::http_status(door), 401u);
  h.end(refused);
  json p = only_point(h);
  EXPECT_EQ(p["indexes"], json::array({"none"})) << "a refused key is nobody's";
  EXPECT_EQ(p["blobs"][3], "invalid_api_key");

  RouterHarness off;
  setup(off, "", /*analytics=*/false);
  EXPECT_FALSE(off.router.summaries_wanted());
  auto [e, call] = post(off, chat_body());
  answer(off, e, 10, AnswerBody::Json);
  off.end(e);
  EXPECT_EQ(off.router.drain_data_points(), "");
  EXPECT_TRUE(access_lines(off).empty());
}

TEST(AccessSummary, AccessLogAtSampleRateOneIsOneLinePerRequest) {
  RouterHarness h;
  setup(h, R"({"accessLog":{"sampleRate":1}})", /*analytics=*/false);
  for (int i = 0; i < 3; ++i) {
    auto [e, call] = post(h, chat_body());
    answer(h, e, 10, AnswerBody::Json, "5 7 12");
    h.end(e);
  }
  EXPECT_EQ(h.router.drain_data_points(), "") << "no ANALYTICS binding, no data point";
  std::vector<json> lines = access_lines(h);
  ASSERT_EQ(lines.size(), 3u);
  const json& line = lines[0];
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["path"], "/v1/chat/completions");
  EXPECT_EQ(line["model"], "m");
  EXPECT_EQ(line["modelServed"], "m");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["attempts"], 1);
  EXPECT_EQ(line["routerMs"], 2);
  EXPECT_EQ(line["backendMs"], 10);
  EXPECT_EQ(line["totalTokens"], 12);
  EXPECT_EQ(line["keyId"], kKeyId);
  EXPECT_EQ(line["error"], "");
  EXPECT_EQ(line["stream"], false);
  EXPECT_EQ(line["requestId"].get<std::string>().size(), 32u);
}

size_t sampled_of(uint64_t first_seed, int requests) {
  RouterHarness h;
  h.seed_ = first_seed;
  setup(h, R"({"accessLog":{"sampleRate":0.5}})", /*analytics=*/false);
  for (int i = 0; i < requests; ++i) {
    auto [e, call] = post(h, chat_body());
    answer(h, e, 10, AnswerBody::Json);
    h.end(e);
  }
  return access_lines(h).size();
}

TEST(AccessSummary, AccessLogSampledWithTheRequestsSeededRng) {
  const size_t sampled = sampled_of(7, 400);
  EXPECT_GT(sampled, 150u);
  EXPECT_LT(sampled, 250u);
  EXPECT_EQ(sampled_of(7, 400), sampled) << "the same seeds sample the same requests";
}

TEST(AccessSummary, SampleRateBoundsDrawNothing) {
  SplitMix64 rng(3), untouched(3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(access_sampled(0, rng));
    EXPECT_TRUE(access_sampled(1, rng));
  }
  EXPECT_EQ(rng.next(), untouched.next()) << "0 and 1 need no draw";
}

TEST(AccessSummary, SampleRateIsValidatedAsANumberFromZeroToOne) {
  EXPECT_EQ(parse_router_config("").config->access_log.sample_rate, 0);
  EXPECT_EQ(parse_router_config(R"({"accessLog":{"sampleRate":0.25}})").config->access_log.sample_rate, 0.25);
  for (const char* bad : {R"({"accessLog":{"sampleRate":1.5}})", R"({"accessLog":{"sampleRate":-0.1}})",
                          R"({"accessLog":{"sampleRate":"1"}})", R"({"accessLog":{"rate":1}})"}) {
    ConfigResult r = parse_router_config(bad);
    ASSERT_TRUE(r.error) << bad;
    EXPECT_NE(r.error->message.find("accessLog."), std::string::npos) << r.error->message;
  }
}

}  // namespace
}  // namespace router
