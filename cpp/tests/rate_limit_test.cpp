// Per-client rate limiting: the key the shim passes to RATE_LIMITER.limit(), and the exchange's
// RateLimit step (only with the binding, after authentication, 429 + Retry-After when refused).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <string>

#include "abi/abi.h"
#include "api/rate_limit_key.hpp"
#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::as;
using testing::http_status;
using testing::text_of;
using testing::fake_hash;
using testing::header;
using testing::reply_body;
using testing::RouterHarness;

const std::string kHash = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(RateLimitKey, IsAHashPrefixPerApiKeyWhenKeysAreConfigured) {
  EXPECT_EQ(rate_limit_key(true, kHash, "203.0.113.9"), "key:0123456789abcdef");
  EXPECT_EQ(rate_limit_key(true, fake_hash('b'), ""), "key:bbbbbbbbbbbbbbbb");
  EXPECT_NE(rate_limit_key(true, fake_hash('a'), ""), rate_limit_key(true, fake_hash('b'), ""));
  // The whole hash never leaves the core in the key.
  EXPECT_EQ(rate_limit_key(true, kHash, "").find("0123456789abcdef0123456789abcdef"), std::string::npos);
}

TEST(RateLimitKey, IsTheClientAddressWithoutKeys) {
  EXPECT_EQ(rate_limit_key(false, "", "203.0.113.9"), "ip:203.0.113.9");
  EXPECT_EQ(rate_limit_key(false, "", "2001:db8::1"), "ip:2001:db8::1");
  EXPECT_EQ(rate_limit_key(false, kHash, "198.51.100.4"), "ip:198.51.100.4") << "no keys: the hash is not used";
  for (std::string odd : {std::string(), std::string("evil\nkey"), std::string("1.2.3.4, 5.6.7.8"),
                          std::string(46, '1'), std::string("host.example")}) {
    EXPECT_EQ(rate_limit_key(false, "", odd), "ip:unknown") << odd;
  }
}

// A harness whose env has the Rate Limiting binding.
struct LimitedRouter : RouterHarness {
  explicit LimitedRouter(std::string_view config = "", std::vector<std::string> keys = {},
                         std::optional<std::string> admin = std::nullopt) {
    configure({"BACKEND_A", "RATE_LIMITER"}, config, keys, std::move(admin));
    describe({{"a", {"m"}}});
  }
  uint32_t next = 1000;
  std::pair<uint32_t, Action> begin_from(std::string method, std::string path, std::string auth_hash,
                                         std::string client_ip) {
    uint32_t handle = next++;
    RequestHead head{std::move(method), std::move(path), "application/json", "", "", std::move(auth_hash),
                     std::move(client_ip)};
    const uint64_t seed = seed_++;
    return {handle, router.begin(handle, head, now, seed, ~seed)};
  }
};

TEST(RateLimitStep, OnlyWithTheBinding) {
  RouterHarness h;
  h.backends(1);
  EXPECT_EQ(kind(h.begin("POST", testing::kChatPath).second), ActionKind::ReadBody);
  EXPECT_EQ(h.router.config().rate_limit.retry_after_seconds, 60u);
}

TEST(RateLimitStep, AllowedRequestsContinueAsUsual) {
  LimitedRouter h;
  auto [e, a] = h.begin_from("POST", testing::kChatPath, "", "203.0.113.9");
  ASSERT_EQ(kind(a), ActionKind::RateLimit);
  EXPECT_EQ(text_of(a), "ip:203.0.113.9");
  EXPECT_EQ(as<RateLimit>(a).timeout_ms, 1000);
  Action read = h.exchange(e).rate_limited(RateLimitAnswer::Allowed, h.now);
  ASSERT_EQ(kind(read), ActionKind::ReadBody);
  Action call = h.exchange(e).body(chat_body(), BodyRead::Complete, h.now);
  EXPECT_EQ(kind(call), ActionKind::Call);
  EXPECT_EQ(kind(h.exchange(e).rate_limited(RateLimitAnswer::Allowed, h.now)), ActionKind::Error)
      << "the answer is taken once, in its phase";
}

TEST(RateLimitStep, OverTheLimitIs429WithRetryAfter) {
  LimitedRouter h;
  auto [e, a] = h.begin_from("POST", testing::kChatPath, "", "203.0.113.9");
  Action refused = h.exchange(e).rate_limited(RateLimitAnswer::OverLimit, h.now);
  ASSERT_EQ(kind(refused), ActionKind::Reply);
  EXPECT_EQ(http_status(refused), 429u);
  EXPECT_EQ(header(refused, "retry-after"), "60");
  EXPECT_EQ(header(refused, "x-router-attempts"), "0");
  EXPECT_FALSE(header(refused, "x-router-backend").has_value());
  auto body = nlohmann::json::parse(reply_body(refused), nullptr, false);
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body["error"]["type"], "rate_limit_error");
  EXPECT_EQ(body["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(h.end(e), "");
  EXPECT_EQ(h.router.requests_in_flight(), 0u);
  EXPECT_EQ(h.router.health()[0].attempts, 0u) << "no backend was involved";

  LimitedRouter custom(R"({"rateLimit":{"retryAfterSeconds":7}})");
  auto [e2, a2] = custom.begin_from("GET", "/v1/models", "", "");
  ASSERT_EQ(kind(a2), ActionKind::RateLimit);
  EXPECT_EQ(text_of(a2), "ip:unknown");
  EXPECT_EQ(header(custom.exchange(e2).rate_limited(RateLimitAnswer::OverLimit, custom.now), "retry-after"), "7");
}

TEST(RateLimitStep, ComesAfterAuthenticationAndKeysOnTheKeyHash) {
  LimitedRouter h("", {fake_hash('a'), fake_hash('b')});
  auto [e1, wrong] = h.begin_from("POST", testing::kChatPath, fake_hash('c'), "203.0.113.9");
  EXPECT_EQ(http_status(wrong), 401u) << "an unauthenticated client spends nobody's budget";
  auto [e2, a] = h.begin_from("POST", testing::kChatPath, fake_hash('a'), "203.0.113.9");
  ASSERT_EQ(kind(a), ActionKind::RateLimit);
  EXPECT_EQ(text_of(a), "key:aaaaaaaaaaaaaaaa");
  auto [e3, b] = h.begin_from("POST", testing::kChatPath, fake_hash('b'), "203.0.113.9");
  EXPECT_EQ(text_of(b), "key:bbbbbbbbbbbbbbbb") << "each key has its own bucket";
}

TEST(RateLimitStep, HealthzAndStatusAreNotLimited) {
  LimitedRouter h;
  EXPECT_EQ(http_status(h.begin_from("GET", "/healthz", "", "203.0.113.9").second), 200u);
  EXPECT_EQ(http_status(h.begin_from("GET", "/status", "", "203.0.113.9").second), 200u);
  EXPECT_EQ(kind(h.begin_from("GET", "/v1/models", "", "203.0.113.9").second), ActionKind::RateLimit);
  EXPECT_EQ(kind(h.begin_from("POST", "/v1/embeddings", "", "203.0.113.9").second), ActionKind::RateLimit);
}

TEST(RateLimitStep, AFailedLimiterLetsTheRequestThroughAndIsLogged) {
  LimitedRouter h;
  h.router.drain_logs();
  auto [e, a] = h.begin_from("POST", testing::kChatPath, "", "203.0.113.9");
  EXPECT_EQ(kind(h.exchange(e).rate_limited(RateLimitAnswer::LimiterFailed, h.now)), ActionKind::ReadBody);
  std::string logs = h.router.drain_logs();
  EXPECT_NE(logs.find("\"event\":\"rate_limiter_failed\""), std::string::npos) << logs;
  EXPECT_EQ(logs.find("203.0.113.9"), std::string::npos);
}

TEST(RateLimitStep, TheLimiterTimeoutIsClampedToTheDeadline) {
  LimitedRouter h(R"({"timeouts":{"requestMs":300}})");
  auto [e, a] = h.begin_from("POST", testing::kChatPath, "", "203.0.113.9");
  EXPECT_EQ(as<RateLimit>(a).timeout_ms, 300);
  h.now += 301;
  Action late = h.exchange(e).rate_limited(RateLimitAnswer::Allowed, h.now);
  EXPECT_EQ(kind(late), ActionKind::ReadBody) << "the deadline bounds attempts, checked before the first call";
}

TEST(RateLimitAbi, KindSevenCarriesTheKeyAndBadAnswersAreRefused) {
  uint32_t r = rt_router_new();
  std::string cfg = R"({"routerConfig":null,"apiKeyHashes":[],"adminKeyHash":null,"envNames":["BACKEND_A","RATE_LIMITER"]})";
  ASSERT_EQ(rt_router_configure(r, cfg.data(), cfg.size(), testing::kT0), 0);
  std::string head = "GET\n/v1/models\n\n\n\n\n2001:db8::7";
  uint32_t e = rt_exchange_begin(r, head.data(), head.size(), testing::kT0, 0, 3, 0, 3);
  ASSERT_NE(e, 0u);
  uint32_t kind = 0;
  std::memcpy(&kind, rt_action_ptr(r), sizeof kind);
  EXPECT_EQ(kind, 7u);
  EXPECT_EQ(std::string(rt_out_ptr(r), static_cast<size_t>(rt_out_len(r))), "ip:2001:db8::7");
  EXPECT_EQ(rt_exchange_rate_limited(e, 3, testing::kT0), 0u) << "allowed is 0, 1 or 2";
  EXPECT_EQ(rt_exchange_rate_limited(0, 1, testing::kT0), kNoExchange) << "unknown exchange";
  EXPECT_EQ(rt_exchange_rate_limited(e, 0, testing::kT0), 5u) << "REPLY 429";
  EXPECT_EQ(rt_exchange_end(e, 0, nullptr, 0, testing::kT0), 0);
}

}  // namespace
}  // namespace router
