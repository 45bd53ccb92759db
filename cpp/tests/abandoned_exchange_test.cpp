// An exchange whose request is gone: on Cloudflare a client that leaves before its answer starts
// takes the Worker's pending awaits with it, so the shim never reports on its exchange again. The
// core ends such an exchange itself, as the client gone, once it is still waiting 10 s past its
// deadline (Exchange::abandoned_at), when a later request begins (Router::end_abandoned).
#include <gtest/gtest.h>

#include <string>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::backend_of;
using testing::kChatPath;

constexpr double kRequestMs = 120'000;  // the default timeouts.requestMs
constexpr double kAfter = Exchange::kAbandonedAfterMs;

// A request begun at `h.now` that is left waiting on its attempt: its handle and backend.
std::pair<uint32_t, uint32_t> left_in_a_call(testing::RouterHarness& h) {
  auto [handle, call] = h.post(chat_body());
  EXPECT_EQ(kind(call), ActionKind::Call);
  return {handle, backend_of(call)};
}

TEST(AbandonedExchange, EndsAsTheClientGoneOnceItWaitedPastItsDeadline) {
  testing::RouterHarness h;
  h.backends(1);
  auto [gone, backend] = left_in_a_call(h);
  ASSERT_EQ(h.router.health()[backend].in_flight, 1u);

  h.now += kRequestMs + kAfter - 1;  // a shim whose timer fired late is still heard
  h.end(h.begin("GET", "/healthz").first);
  EXPECT_NE(h.router.exchange(gone), nullptr);

  h.now += 1;
  h.end(h.begin("GET", "/healthz").first);
  EXPECT_EQ(h.router.exchange(gone), nullptr) << "ended when a later request began";
  EXPECT_EQ(h.router.health()[backend].in_flight, 0u) << "its attempt in flight is released";
  EXPECT_EQ(h.router.health()[backend].failures, 0u) << "a client gone is not the backend's failure";
  EXPECT_EQ(h.router.requests_in_flight(), 0u);
  bool found = true;
  h.router.end(gone, EndHow::ClientGone, "", h.now, found);
  EXPECT_FALSE(found) << "a late end() from the shim finds nothing to end twice";
}

TEST(AbandonedExchange, EveryWaitTheCoreAsksForCountsTheSame) {
  testing::RouterHarness h;
  h.backends(1, R"({"retry":{"maxAttempts":3,"backoffBaseMs":5000,"backoffCapMs":5000}})");
  // Left reading its body, and left in a backoff after a failed attempt.
  auto reading = h.begin("POST", kChatPath);
  ASSERT_EQ(kind(reading.second), ActionKind::ReadBody);
  auto [waiting, call] = h.post(chat_body());
  ASSERT_EQ(kind(call), ActionKind::Call);
  ASSERT_EQ(kind(h.answered(waiting, 503)), ActionKind::Wait);
  h.now += kRequestMs + kAfter;
  h.end(h.begin("GET", "/healthz").first);
  EXPECT_EQ(h.router.exchange(reading.first), nullptr);
  EXPECT_EQ(h.router.exchange(waiting), nullptr);
  EXPECT_EQ(h.router.requests_in_flight(), 0u);
}

TEST(AbandonedExchange, AForwardedStreamIsLeftToItsRelay) {
  testing::RouterHarness h;
  h.backends(1);
  auto [streaming, call] = h.post(chat_body("m", true));
  ASSERT_EQ(kind(h.answered(streaming, 200)), ActionKind::Forward);
  auto [answered, call2] = h.post(chat_body());
  ASSERT_EQ(kind(h.answered(answered, 200)), ActionKind::Forward);  // a JSON answer never ended
  h.now += 10 * (kRequestMs + kAfter);  // a long stream
  h.end(h.begin("GET", "/healthz").first);
  EXPECT_NE(h.router.exchange(streaming), nullptr) << "no deadline bounds a stream";
  EXPECT_EQ(h.router.exchange(answered), nullptr);
  EXPECT_EQ(h.router.health()[0].in_flight, 1u);
  h.end(streaming);
  EXPECT_EQ(h.router.health()[0].in_flight, 0u);
}

TEST(AbandonedExchange, AnEndedOneCountsInTheAccessSummaryAsTheClientGone) {
  testing::RouterHarness h;
  h.backends(1, R"({"accessLog":{"sampleRate":1}})");
  h.router.drain_logs();
  left_in_a_call(h);
  h.now += kRequestMs + kAfter;
  h.end(h.begin("GET", "/healthz").first);
  const std::string logs = h.router.drain_logs();
  EXPECT_NE(logs.find("\"error\":\"client_gone\""), std::string::npos) << logs;
}

}  // namespace
}  // namespace router
