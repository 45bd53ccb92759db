// Server-Timing and x-router-model (contract section 3): what each answer says about where its
// time went and which model served, with a fake clock.
#include <gtest/gtest.h>

#include <cmath>

#include "api/response_headers.hpp"
#include "router_harness.hpp"

namespace router {
namespace {

using testing::as;
using testing::chat_body;
using testing::header;
using testing::http_status;
using testing::kT0;
using testing::RouterHarness;

TEST(ServerTimingValue, RouterTimeIsTheTotalLessTheBackendTime) {
  EXPECT_EQ(server_timing_value(52.5, 40, true), "router;dur=12.5, backend;dur=40");
  EXPECT_EQ(server_timing_value(3, 0, false), "router;dur=3");
  EXPECT_EQ(server_timing_value(0, 0, true), "router;dur=0, backend;dur=0");
  EXPECT_EQ(server_timing_value(0.04, 0, false), "router;dur=0") << "one decimal, rounded";
  EXPECT_EQ(server_timing_value(1.96, 0, false), "router;dur=2");
}

TEST(ServerTimingValue, AClockThatSteppedBackOrBrokeGivesZeroNotGarbage) {
  EXPECT_EQ(server_timing_value(-5, 0, false), "router;dur=0");
  EXPECT_EQ(server_timing_value(10, 20, true), "router;dur=0, backend;dur=20");
  EXPECT_EQ(server_timing_value(std::nan(""), -1, true), "router;dur=0, backend;dur=0");
  EXPECT_EQ(server_timing_value(1e300, 0, false).substr(0, 11), "router;dur=");
}

TEST(HeaderSafeText, KeepsPrintableAsciiAndEncodesTheRest) {
  EXPECT_EQ(header_safe_text("@cf/meta/llama-3.1-8b-instruct"), "@cf/meta/llama-3.1-8b-instruct");
  EXPECT_EQ(header_safe_text("m\r\nx-evil: 1"), "m%0D%0Ax-evil: 1");
  EXPECT_EQ(header_safe_text("caf\xc3\xa9 100%"), "caf%C3%A9 100%25");
  EXPECT_EQ(header_safe_text(std::string(1000, 'a')).size(), 256u) << "bounded";
}

TEST(ExchangeServerTiming, AForwardedAnswerSplitsBackendAndRouterTime) {
  RouterHarness h;
  h.backends(2);
  auto [e, call1] = h.post(chat_body());
  ASSERT_EQ(kind(call1), ActionKind::Call);
  h.now += 30;  // the first backend fails after 30 ms
  Action call2 = h.threw(e);
  ASSERT_EQ(kind(call2), ActionKind::Call);
  h.now += 45;  // the second answers after 45 ms
  Action fwd = h.answered(e, 200);
  ASSERT_EQ(kind(fwd), ActionKind::Forward);
  EXPECT_EQ(header(fwd, "server-timing"), "router;dur=0, backend;dur=75");
  EXPECT_EQ(header(fwd, "x-router-model"), "m");
  h.end(e);
}

TEST(ExchangeServerTiming, WaitsBetweenAttemptsAreTheRouters) {
  RouterHarness h;
  h.backends(1, R"({"health":{"maxEjectionPercent":100}})");
  auto [e, call1] = h.post(chat_body());
  h.now += 10;
  Action wait = h.answered(e, 503, "0.2");
  ASSERT_EQ(kind(wait), ActionKind::Wait);
  h.now = as<Wait>(wait).until;
  const double waited = h.now - (kT0 + 10);
  Action call2 = h.exchange(e).resume(h.now);
  ASSERT_EQ(kind(call2), ActionKind::Call);
  h.now += 5;
  Action fwd = h.answered(e, 200);
  ASSERT_EQ(kind(fwd), ActionKind::Forward);
  EXPECT_EQ(header(fwd, "server-timing"), server_timing_value(15 + waited, 15, true));
  EXPECT_GT(waited, 0);
  h.end(e);
}

TEST(ExchangeServerTiming, EveryAnswerCarriesItAndOnlyInferenceNamesTheModel) {
  RouterHarness h;
  h.backends(1);
  auto [e404, unknown] = h.begin("GET", "/nowhere");
  EXPECT_EQ(header(unknown, "server-timing"), "router;dur=0");
  EXPECT_FALSE(header(unknown, "x-router-model").has_value());
  auto [eh, healthz] = h.begin("GET", "/healthz");
  EXPECT_EQ(header(healthz, "server-timing"), "router;dur=0");
  auto [eb, bad] = h.post("{\"messages\":[]}");
  ASSERT_EQ(http_status(bad), 400u);
  EXPECT_EQ(header(bad, "server-timing"), "router;dur=0");
  EXPECT_FALSE(header(bad, "x-router-model").has_value()) << "no model was named";
  auto [en, notServed] = h.post(chat_body("other"));
  ASSERT_EQ(http_status(notServed), 404u);
  EXPECT_EQ(header(notServed, "x-router-model"), "other");
  auto [em, models] = h.begin("GET", "/v1/models");
  EXPECT_EQ(header(models, "server-timing"), "router;dur=0");
  EXPECT_FALSE(header(models, "x-router-model").has_value());
}

TEST(ExchangeServerTiming, AllAttemptsFailingStillSaysWhereTheTimeWent) {
  RouterHarness h;
  h.backends(1, R"({"retry":{"maxAttempts":1}})");
  auto [e, call] = h.post(chat_body());
  h.now += 20;
  Action fail = h.threw(e);
  ASSERT_EQ(http_status(fail), 502u);
  EXPECT_EQ(header(fail, "server-timing"), "router;dur=0, backend;dur=20");
  EXPECT_EQ(header(fail, "x-router-model"), "m");
}

TEST(ExchangeServerTiming, AModelNameThatCannotBeAHeaderIsEncodedNotDropped) {
  RouterHarness h;
  h.backends(1);
  // Control characters are refused with the body (400); other bytes reach the header encoded.
  auto [e, answer] = h.post(R"({"model":"caf\u00e9 100%","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(http_status(answer), 404u) << testing::reply_body(answer);
  EXPECT_EQ(header(answer, "x-router-model"), "caf%C3%A9 100%25");
}

}  // namespace
}  // namespace router
