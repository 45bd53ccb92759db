// Discovery: describe() handed out in batches that fit Cloudflare's 32 Worker invocations per
// request, with its own timeout, waited for only when a request cannot be routed without it; a
// failed or malformed answer never takes away a backend's last good description.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "json/json_tree.hpp"
#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::as;
using testing::http_status;
using testing::text_of;
using testing::RouterHarness;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::vector<std::string> env_of(size_t n) {
  std::vector<std::string> env;
  for (size_t i = 0; i < n; ++i) env.push_back("BACKEND_" + std::string(i < 10 ? "00" : i < 100 ? "0" : "") + std::to_string(i));
  return env;
}

std::string good(const std::string& name, const std::string& model = "m") {
  return R"({"name":")" + name + R"(","models":[")" + model + R"("]})";
}

TEST(Discovery, NoRequestStartsMoreDescribesThanItsShareOfThirtyTwoInvocations) {
  RouterHarness h;
  h.configure(env_of(100));
  std::set<std::string> described;
  for (int request = 0; request < 5; ++request) {
    auto [e, a] = h.post(chat_body());
    std::vector<std::string> batch = kind(a) == ActionKind::Discover ? lines(text_of(a)) : std::vector<std::string>{};
    EXPECT_LE(batch.size() + h.router.config().retry.max_attempts, Router::kMaxWorkerInvocations);
    std::string answers = "{";
    for (const auto& b : batch) {
      EXPECT_TRUE(described.insert(b).second) << b << " was handed out twice";
      answers += (answers.size() > 1 ? "," : "") + ("\"" + b + "\":") + good(b);
    }
    ASSERT_EQ(h.router.describe(answers + "}", h.now), 0);
    h.end(e, EndHow::ClientGone);
    h.now += 10;
  }
  EXPECT_EQ(described.size(), 100u) << "the batches together cover every backend";
  EXPECT_EQ(h.router.backends().undiscovered(), 0u);
}

TEST(Discovery, ARequestWaitsOnlyUntilTheDescribeTimeoutOrItsDeadline) {
  RouterHarness h;
  h.configure(env_of(2), R"({"timeouts":{"requestMs":600},"discovery":{"describeTimeoutMs":800}})");
  auto [e, a] = h.post(chat_body());
  ASSERT_EQ(kind(a), ActionKind::Discover);
  EXPECT_EQ(as<Discover>(a).describe_timeout_ms, 800) << "each describe() has the discovery timeout, not the client's time left";
  EXPECT_EQ(as<Discover>(a).wait_until, h.now + 600) << "the request waits no longer than its deadline";
  // A second request meanwhile starts nothing new but waits too, until the describe() timeout.
  h.now += 100;
  h.configure(env_of(2), R"({"timeouts":{"requestMs":5000},"discovery":{"describeTimeoutMs":800}})");
  auto [later, b] = h.post(chat_body());
  ASSERT_EQ(kind(b), ActionKind::Discover);
  EXPECT_EQ(text_of(b), "") << "both backends are being described already";
  EXPECT_EQ(as<Discover>(b).wait_until, h.now + 800);
  // Nothing answered: the request is told to come back, not that the model does not exist.
  Action unavailable = h.exchange(later).resume(h.now + 800);
  EXPECT_EQ(http_status(unavailable), 503u);
  EXPECT_NE(text_of(unavailable).find("still being discovered"), std::string::npos);
  // A request whose deadline passed while it waited gets 504, never a wait past it.
  EXPECT_EQ(http_status(h.exchange(e).resume(h.now + 600)), 504u);
}

TEST(Discovery, ARoutableRequestDoesNotWaitAndRefreshesInTheBackground) {
  RouterHarness h;
  h.backends(2, R"({"discovery":{"describeTtlMs":1000}})");
  EXPECT_EQ(kind(h.post(chat_body()).second), ActionKind::Call);
  h.now += 1000;
  auto [e, a] = h.post(chat_body());
  ASSERT_EQ(kind(a), ActionKind::Discover) << "the TTL passed: a refresh is handed out";
  EXPECT_EQ(as<Discover>(a).wait_until, 0) << "in the background: the request does not wait";
  EXPECT_EQ(lines(text_of(a)).size(), 2u);
  EXPECT_EQ(kind(h.exchange(e).resume(h.now)), ActionKind::Call);
  EXPECT_EQ(kind(h.post(chat_body()).second), ActionKind::Call) << "handed out once, not to every request";
}

TEST(Discovery, AFailedOrTimedOutDescribeKeepsTheLastGoodDescription) {
  RouterHarness h;
  h.backends(2, R"({"discovery":{"describeTtlMs":1000}})");
  h.now += 1000;
  ASSERT_EQ(h.router.describe(R"({"BACKEND_0":{"error":"describe() timed out"},"BACKEND_1":{"name":7}})", h.now), 0);
  EXPECT_EQ(h.router.backends()[0].models, std::vector<std::string>{"m"});
  EXPECT_EQ(h.router.backends()[1].name, "b1");
  EXPECT_EQ(h.router.backends()[0].describe_error, "describe() timed out");
  const std::string logs = h.router.drain_logs();
  EXPECT_NE(logs.find("describe() timed out"), std::string::npos);
  EXPECT_NE(logs.find("describe().name must be a string"), std::string::npos);
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(kind(a), ActionKind::Call) << "still routable";
  // The same failure again is not logged again.
  h.now += BackendSet::kFailedDescribeRetryMs;
  ASSERT_EQ(h.router.describe(R"({"BACKEND_0":{"error":"describe() timed out"}})", h.now), 0);
  EXPECT_EQ(h.router.drain_logs().find("describe_failed"), std::string::npos);
}

// Contract section 1: anything else is reported and the backend keeps its last good description
// (or weight 1).
TEST(Discovery, WeightsMustBeFiniteAndAtMostAMillion) {
  for (const char* weight : {"1e308", "0", "-1", "1000001", "\"2\"", "true"}) {
    RouterHarness h;
    h.backends(2, "", {3, 1});
    std::string answer = std::string(R"({"BACKEND_0":{"name":"b0","models":["m","n"],"weight":)") + weight + "}}";
    ASSERT_EQ(h.router.describe(answer, h.now), 0);
    EXPECT_EQ(h.router.backends()[0].weight, 3) << weight << ": the last good description stays";
    EXPECT_EQ(h.router.backends()[0].models, std::vector<std::string>{"m"}) << weight << ": all of it";
    EXPECT_NE(h.router.drain_logs().find("describe().weight must be a finite number in (0, 1000000]"),
              std::string::npos);
  }
  RouterHarness fresh;
  fresh.configure(env_of(1));
  ASSERT_EQ(fresh.router.describe(R"({"BACKEND_000":{"name":"x","models":["m"],"weight":1e308}})", fresh.now), 0);
  EXPECT_EQ(fresh.router.backends()[0].weight, 1) << "a new backend takes weight 1";
  EXPECT_EQ(fresh.router.backends()[0].models, std::vector<std::string>{"m"}) << "and the rest of its description";
}

TEST(Discovery, AHugeWeightCannotSkewSmoothRoundRobin) {
  RouterHarness h;
  h.backends(2);
  ASSERT_EQ(h.router.describe(R"({"BACKEND_0":{"name":"b0","models":["m"],"weight":1e308}})", h.now), 0);
  int first = 0;
  for (int i = 0; i < 100; ++i) first += h.serve_one() == 0 ? 1 : 0;
  EXPECT_EQ(first, 50);
}

TEST(Discovery, AnAnswerForAnUnknownBindingIsIgnored) {
  RouterHarness h;
  h.backends(1);
  std::string accepted;
  ASSERT_EQ(h.router.describe(R"({"BACKEND_X":{"name":"x","models":["m"]},"BACKEND_0":{"name":"b","models":["m"]}})",
                              h.now, &accepted), 0);
  EXPECT_EQ(accepted, "BACKEND_0");
  EXPECT_EQ(h.router.describe("7", h.now), -1);
}

TEST(Discovery, ALostDescribeIsHandedOutAgainAfterItsTimeout) {
  RouterHarness h;
  h.configure(env_of(1), R"({"discovery":{"describeTimeoutMs":500}})");
  auto [e, a] = h.post(chat_body());
  ASSERT_EQ(text_of(a), "BACKEND_000");
  h.end(e, EndHow::ClientGone);  // its request went away; the answer never comes
  h.now += 500 + BackendSet::kLostDescribeGraceMs;
  EXPECT_EQ(text_of(h.post(chat_body()).second), "BACKEND_000");
}

}  // namespace
}  // namespace router
