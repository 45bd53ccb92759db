// The extern "C" surface, called natively: handles, error codes and one full request.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "abi/abi.h"

namespace {

constexpr double T = 1'700'000'000'000;

ActionRecord record(uint32_t router) {
  ActionRecord r;
  std::memcpy(&r, rt_action_ptr(router), sizeof r);
  return r;
}

std::string out(uint32_t router) { return std::string(rt_out_ptr(router), static_cast<size_t>(rt_out_len(router))); }

uint32_t configured_router() {
  uint32_t r = rt_router_new();
  std::string cfg = R"({"routerConfig":null,"apiKeyHashes":[],"adminKeyHash":null,"envNames":["BACKEND_B","BACKEND_A"]})";
  EXPECT_EQ(rt_router_configure(r, cfg.data(), cfg.size(), T), 0);
  EXPECT_EQ(out(r), R"({"backends":["BACKEND_A","BACKEND_B"],"authRequired":false,"warnings":["no API keys configured: the router accepts requests from anyone"]})");
  std::string answers = R"([{"name":"a","models":["m"]},{"name":"b","models":["m"],"weight":2}])";
  EXPECT_EQ(rt_router_describe(r, answers.data(), answers.size(), T), 0);
  return r;
}

TEST(Abi, BadHandlesAndArgumentsReturnErrors) {
  uint32_t r = configured_router();
  EXPECT_EQ(rt_router_configure(0, "{}", 2, T), -2);
  EXPECT_EQ(rt_router_configure(9999, "{}", 2, T), -2);
  EXPECT_EQ(rt_router_configure(r, nullptr, 5, T), -3);
  EXPECT_EQ(rt_router_configure(r, "nope", 4, T), -1);
  EXPECT_EQ(rt_router_configure(r, R"({"envNames":"BACKEND_A"})", 25, T), -1);
  EXPECT_EQ(rt_router_describe(9999, "[]", 2, T), -2);
  EXPECT_EQ(rt_router_describe(r, "[]", 2, T), -1) << "not aligned with the two backends";
  EXPECT_EQ(rt_router_logs(0), -2);
  EXPECT_EQ(rt_out_len(0), -2);
  EXPECT_EQ(rt_out_ptr(0), nullptr);
  EXPECT_EQ(rt_action_ptr(0), nullptr);
  EXPECT_EQ(rt_exchange_begin(0, "GET\n/healthz", 12, T, 1, 0, 0, 1), 0u);
  EXPECT_EQ(rt_exchange_begin(r, nullptr, 12, T, 1, 0, 0, 1), 0u);
  EXPECT_EQ(rt_exchange_body(0, "{}", 2, 0, T), kNoExchange);
  EXPECT_EQ(rt_exchange_body(123456, "{}", 2, 0, T), kNoExchange);
  EXPECT_EQ(rt_exchange_resume(123456, T), kNoExchange);
  EXPECT_EQ(rt_exchange_rate_limited(123456, 1, T), kNoExchange);
  EXPECT_EQ(rt_exchange_outcome(123456, 0, 200, nullptr, 0, T), kNoExchange);
  EXPECT_EQ(rt_exchange_end(123456, 0, nullptr, 0, T), -2);

  std::string head = "POST\n/v1/chat/completions\napplication/json\n\n\n";
  uint32_t e = rt_exchange_begin(r, head.data(), head.size(), T, 5, 0, 0, 5);
  ASSERT_NE(e, 0u);
  EXPECT_EQ(record(r).kind, 1u);
  EXPECT_EQ(rt_exchange_body(e, "{}", 2, 7, T), 0u) << "how must be 0, 1 or 2";
  EXPECT_EQ(rt_exchange_outcome(e, 0, 200, nullptr, 0, T), 0u) << "no call in progress";
  EXPECT_EQ(rt_exchange_end(e, 4, nullptr, 0, T), -3);
  EXPECT_EQ(rt_exchange_end(e, 2, nullptr, 0, T), 0);
  EXPECT_EQ(rt_exchange_end(e, 2, nullptr, 0, T), -2) << "the handle is freed";
}

// Outcome 3: answered with a stream. A streaming request takes it; a JSON one counts it as a
// failed attempt (the answer is not in the shape asked for).
TEST(Abi, TheAnswerShapeMustMatchTheRequest) {
  uint32_t r = configured_router();
  std::string head = "POST\n/v1/chat/completions\napplication/json\n\n\n";
  for (const bool stream : {true, false}) {
    uint32_t e = rt_exchange_begin(r, head.data(), head.size(), T, 3, 0, 0, 3);
    std::string body = std::string(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":)") +
                       (stream ? "true}" : "false}");
    ASSERT_EQ(rt_exchange_body(e, body.data(), body.size(), 0, T), 3u);
    EXPECT_EQ(record(r).status_or_stream, stream ? 1u : 0u);
    EXPECT_EQ(rt_exchange_outcome(e, 3, 200, nullptr, 0, T + 1), stream ? 6u : 3u) << "stream " << stream;
    EXPECT_EQ(rt_exchange_end(e, 2, nullptr, 0, T + 2), 0);
  }
}

TEST(Abi, OneRequestThroughAFailover) {
  uint32_t r = configured_router();
  std::string head = "POST\n/v1/chat/completions\napplication/json; charset=utf-8\n60\nreq-9\n";
  uint32_t e = rt_exchange_begin(r, head.data(), head.size(), T, 11, 0, 0, 11);
  ASSERT_NE(e, 0u);
  ActionRecord rb = record(r);
  EXPECT_EQ(rb.kind, 1u);
  EXPECT_EQ(rb.timeout_or_limit, 1 << 20);

  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  ASSERT_EQ(rt_exchange_body(e, body.data(), body.size(), 0, T), 3u);
  ActionRecord call1 = record(r);
  EXPECT_EQ(call1.status_or_stream, 0u) << "stream flag";
  EXPECT_EQ(call1.attempt, 1u);
  EXPECT_EQ(call1.time, T + 120000);
  EXPECT_EQ(out(r), "req-9\nm\n/v1/chat/completions");

  std::string ra = "\n";
  ASSERT_EQ(rt_exchange_outcome(e, 1, 0, ra.data(), ra.size(), T + 5), 3u);
  ActionRecord call2 = record(r);
  EXPECT_NE(call2.backend, call1.backend);
  EXPECT_EQ(call2.attempt, 2u);

  EXPECT_EQ(rt_exchange_outcome(e, 8, 200, nullptr, 0, T + 9), 0u) << "outcome is 0..7";
  ASSERT_EQ(rt_exchange_outcome(e, 0, 200, nullptr, 0, T + 9), 6u);
  ActionRecord fwd = record(r);
  EXPECT_EQ(fwd.status_or_stream, 200u);
  EXPECT_EQ(fwd.backend, call2.backend);
  EXPECT_EQ(fwd.attempt, 2u);
  std::string headers = out(r);
  EXPECT_NE(headers.find("x-request-id: req-9"), std::string::npos);
  EXPECT_NE(headers.find("x-router-attempts: 2"), std::string::npos);
  EXPECT_EQ(rt_exchange_end(e, 0, nullptr, 0, T + 10), 0);

  ASSERT_GT(rt_router_logs(r), 0);
  EXPECT_NE(out(r).find("no_api_keys"), std::string::npos);
  EXPECT_EQ(rt_router_logs(r), 0) << "draining clears the logs";
}

TEST(Abi, ExchangesOfTwoRoutersStayApart) {
  uint32_t r1 = configured_router();
  uint32_t r2 = configured_router();
  std::string head = "GET\n/healthz";
  uint32_t e1 = rt_exchange_begin(r1, head.data(), head.size(), T, 1, 0, 0, 1);
  uint32_t e2 = rt_exchange_begin(r2, head.data(), head.size(), T, 2, 0, 0, 2);
  EXPECT_NE(e1, e2);
  EXPECT_EQ(record(r1).kind, 5u);
  EXPECT_EQ(record(r1).status_or_stream, 200u);
  EXPECT_EQ(rt_exchange_end(e1, 0, nullptr, 0, T), 0);
  EXPECT_EQ(rt_exchange_end(e2, 0, nullptr, 0, T), 0);
}

TEST(Abi, AllocAndFree) {
  void* p = rt_alloc(0);
  EXPECT_NE(p, nullptr);
  rt_free(p);
  rt_free(nullptr);
}

}  // namespace
