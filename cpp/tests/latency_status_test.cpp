// /status shows each backend's latency (contract section 3): time to the answer and to its end,
// per backend, from the events' clock (a fake one here).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::RouterHarness;

nlohmann::json latency_of(RouterHarness& h, size_t backend) {
  return nlohmann::json::parse(h.router.status_json(h.now))["backends"][backend]["latency"];
}

TEST(LatencyStatus, JsonAnswersCountToTheAnswerForBoth) {
  RouterHarness h;
  h.backends(1);
  for (double ms : {40.0, 40.0, 40.0, 400.0}) {
    auto [e, call] = h.post(chat_body());
    h.now += ms;
    ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
    h.now += 1000;  // delivering the body to the client is not the backend's time
    h.end(e);
  }
  auto latency = latency_of(h, 0);
  EXPECT_EQ(latency["firstByteMs"]["samples"], 4);
  EXPECT_NEAR(latency["firstByteMs"]["p50"].get<double>(), 40, 3);
  EXPECT_NEAR(latency["firstByteMs"]["p99"].get<double>(), 400, 25);
  EXPECT_EQ(latency["totalMs"], latency["firstByteMs"]);
}

TEST(LatencyStatus, AStreamsTotalRunsToItsEnd) {
  RouterHarness h;
  h.backends(1);
  auto [e, call] = h.post(chat_body("m", /*stream=*/true));
  h.now += 100;
  ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
  h.now += 2000;
  h.end(e);
  auto latency = latency_of(h, 0);
  EXPECT_NEAR(latency["firstByteMs"]["ewma"].get<double>(), 100, 0.1);
  EXPECT_NEAR(latency["totalMs"]["ewma"].get<double>(), 2100, 0.1);
}

TEST(LatencyStatus, FailedAttemptsAndBrokenStreamsAreNotLatencies) {
  RouterHarness h;
  h.backends(2);
  auto [e, call1] = h.post(chat_body("m", /*stream=*/true));
  const uint32_t first = testing::backend_of(call1);
  h.now += 5000;
  Action call2 = h.outcome(e, AttemptOutcome::TimedOut);
  ASSERT_EQ(kind(call2), ActionKind::Call);
  h.now += 50;
  ASSERT_EQ(kind(h.answered(e, 200)), ActionKind::Forward);
  h.now += 10;
  h.end(e, EndHow::StreamFailed);
  EXPECT_EQ(latency_of(h, first)["firstByteMs"]["samples"], 0) << "a timeout says nothing of answer time";
  auto other = latency_of(h, testing::backend_of(call2));
  EXPECT_EQ(other["firstByteMs"]["samples"], 1);
  EXPECT_EQ(other["totalMs"]["samples"], 0) << "a broken stream has no total";
}

}  // namespace
}  // namespace router
