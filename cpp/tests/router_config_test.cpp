#include "config/router_config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace router {
namespace {

RouterConfig parsed(std::string_view text) {
  const ConfigResult result = parse_router_config(text);
  EXPECT_FALSE(result.error.has_value()) << (result.error ? result.error->message : "");
  EXPECT_TRUE(result.config.has_value());
  return result.config.value_or(RouterConfig{});
}

ConfigError refused(std::string_view text) {
  const ConfigResult result = parse_router_config(text);
  EXPECT_FALSE(result.config.has_value()) << text;
  EXPECT_TRUE(result.error.has_value()) << text;
  return result.error.value_or(ConfigError{"<accepted>", "<accepted>"});
}

TEST(RouterConfig, EmptyOrBlankTextGivesDefaults) {
  for (const char* text : {"", "   ", "\n\t\r ", "{}", " { } "}) {
    EXPECT_EQ(parsed(text), RouterConfig{}) << '"' << text << '"';
  }
}

TEST(RouterConfig, DefaultsMatchTheContract) {
  const RouterConfig config;
  EXPECT_EQ(config.strategy, Strategy::RoundRobin);
  EXPECT_EQ(config.retry.max_attempts, 3u);
  EXPECT_EQ(config.retry.backoff_base_ms, 25);
  EXPECT_EQ(config.retry.backoff_cap_ms, 250);
  EXPECT_EQ(config.retry.budget_percent, 20);
  EXPECT_EQ(config.retry.budget_min_retries, 3u);
  EXPECT_EQ(config.health.consecutive_failures, 5u);
  EXPECT_EQ(config.health.base_ejection_ms, 30000);
  EXPECT_EQ(config.health.max_ejection_ms, 300000);
  EXPECT_EQ(config.health.max_ejection_percent, 50);
  EXPECT_TRUE(config.health.panic_routing);
  EXPECT_EQ(config.limits.max_body_bytes, 1048576u);
  EXPECT_EQ(config.limits.max_depth, 64u);
  EXPECT_EQ(config.discovery.describe_ttl_ms, 60000);
  EXPECT_EQ(config.rate_limit.retry_after_seconds, 60u);
}

TEST(RouterConfig, ReadsEveryField) {
  const RouterConfig config = parsed(R"({
    "strategy": "least-inflight",
    "retry": {"maxAttempts": 5, "backoffBaseMs": 10, "backoffCapMs": 100.5, "retryAfterCapMs": 2000,
              "budgetPercent": 35, "budgetMinRetries": 7},
    "timeouts": {"perTryMs": 1500, "firstByteMs": 900, "requestMs": 8000, "streamIdleMs": 2500},
    "health": {"consecutiveFailures": 2, "baseEjectionMs": 1000, "maxEjectionMs": 4000,
               "maxEjectionPercent": 75, "panicRouting": false},
    "limits": {"maxBodyBytes": 2048, "maxDepth": 16},
    "discovery": {"describeTtlMs": 0},
    "rateLimit": {"retryAfterSeconds": 10},
    "backends": {
      "BACKEND_A": {"weight": 2.5, "models": ["gpt-4o", "*"], "enabled": true},
      "BACKEND_b_2": {"enabled": false}
    }
  })");
  EXPECT_EQ(config.strategy, Strategy::LeastInflight);
  EXPECT_EQ(config.retry.max_attempts, 5u);
  EXPECT_EQ(config.retry.backoff_base_ms, 10);
  EXPECT_EQ(config.retry.backoff_cap_ms, 100.5);
  EXPECT_EQ(config.retry.retry_after_cap_ms, 2000);
  EXPECT_EQ(config.retry.budget_percent, 35);
  EXPECT_EQ(config.retry.budget_min_retries, 7u);
  EXPECT_EQ(config.timeouts.per_try_ms, 1500);
  EXPECT_EQ(config.timeouts.first_byte_ms, 900);
  EXPECT_EQ(config.timeouts.stream_idle_ms, 2500);
  EXPECT_EQ(config.timeouts.request_ms, 8000);
  EXPECT_EQ(config.health.consecutive_failures, 2u);
  EXPECT_EQ(config.health.base_ejection_ms, 1000);
  EXPECT_EQ(config.health.max_ejection_ms, 4000);
  EXPECT_EQ(config.health.max_ejection_percent, 75);
  EXPECT_FALSE(config.health.panic_routing);
  EXPECT_EQ(config.limits.max_body_bytes, 2048u);
  EXPECT_EQ(config.limits.max_depth, 16u);
  EXPECT_EQ(config.discovery.describe_ttl_ms, 0);
  EXPECT_EQ(config.rate_limit.retry_after_seconds, 10u);
  ASSERT_EQ(config.backends.size(), 2u);
  const BackendOverride& a = config.backends.at("BACKEND_A");
  EXPECT_EQ(a.weight, 2.5);
  EXPECT_EQ(a.models, (std::vector<std::string>{"gpt-4o", "*"}));
  EXPECT_EQ(a.enabled, true);
  const BackendOverride& b = config.backends.at("BACKEND_b_2");
  EXPECT_FALSE(b.weight.has_value());
  EXPECT_FALSE(b.models.has_value());
  EXPECT_EQ(b.enabled, false);
}

TEST(RouterConfig, PartialSectionsKeepOtherDefaults) {
  const RouterConfig config = parsed(R"({"retry":{"maxAttempts":1}})");
  RouterConfig expected;
  expected.retry.max_attempts = 1;
  EXPECT_EQ(config, expected);
}

TEST(RouterConfig, IntegralFloatsCountAsIntegers) {
  const RouterConfig config = parsed(R"({"retry":{"maxAttempts":4.0},"limits":{"maxBodyBytes":2e6}})");
  EXPECT_EQ(config.retry.max_attempts, 4u);
  EXPECT_EQ(config.limits.max_body_bytes, 2000000u);
}

TEST(RouterConfig, RangeBoundariesAreInclusive) {
  const RouterConfig low = parsed(R"({"retry":{"maxAttempts":1,"budgetPercent":0,"backoffBaseMs":0,"backoffCapMs":0},
    "health":{"maxEjectionPercent":0,"baseEjectionMs":0,"maxEjectionMs":0},"limits":{"maxBodyBytes":1,"maxDepth":1}})");
  EXPECT_EQ(low.retry.max_attempts, 1u);
  EXPECT_EQ(low.limits.max_depth, 1u);
  const RouterConfig high = parsed(R"({"retry":{"maxAttempts":10,"budgetPercent":100},
    "health":{"maxEjectionPercent":100},"limits":{"maxBodyBytes":33554432,"maxDepth":256},
    "backends":{"BACKEND_A":{"weight":1000000}}})");
  EXPECT_EQ(high.retry.max_attempts, 10u);
  EXPECT_EQ(high.limits.max_body_bytes, 33554432u);
  EXPECT_EQ(high.backends.at("BACKEND_A").weight, 1000000);
}

struct BadField {
  const char* text;
  const char* field;
  const char* message;  // the whole message
};

class RouterConfigBadField : public ::testing::TestWithParam<BadField> {};

TEST_P(RouterConfigBadField, IsRefusedNamingTheField) {
  const BadField& bad = GetParam();
  const ConfigError error = refused(bad.text);
  EXPECT_EQ(error.field, bad.field) << bad.text;
  EXPECT_EQ(error.message, bad.message) << bad.text;
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, RouterConfigBadField,
    ::testing::Values(
        BadField{R"({"strategy":"random"})", "strategy", R"(strategy must be "round-robin" or "least-inflight")"},
        BadField{R"({"strategy":1})", "strategy", R"(strategy must be "round-robin" or "least-inflight")"},
        BadField{R"({"retry":{"maxAttempts":0}})", "retry.maxAttempts", "retry.maxAttempts must be an integer in [1, 10]"},
        BadField{R"({"retry":{"maxAttempts":11}})", "retry.maxAttempts", "retry.maxAttempts must be an integer in [1, 10]"},
        BadField{R"({"retry":{"maxAttempts":2.5}})", "retry.maxAttempts", "retry.maxAttempts must be an integer in [1, 10]"},
        BadField{R"({"retry":{"maxAttempts":"3"}})", "retry.maxAttempts", "retry.maxAttempts must be an integer in [1, 10]"},
        BadField{R"({"retry":{"backoffBaseMs":-1}})", "retry.backoffBaseMs",
                 "retry.backoffBaseMs must be a finite number in [0, 86400000]"},
        BadField{R"({"retry":{"backoffCapMs":null}})", "retry.backoffCapMs",
                 "retry.backoffCapMs must be a finite number in [0, 86400000]"},
        BadField{R"({"retry":{"retryAfterCapMs":86400001}})", "retry.retryAfterCapMs",
                 "retry.retryAfterCapMs must be a finite number in [0, 86400000]"},
        BadField{R"({"retry":{"budgetPercent":100.5}})", "retry.budgetPercent",
                 "retry.budgetPercent must be a finite number in [0, 100]"},
        BadField{R"({"retry":{"budgetMinRetries":-3}})", "retry.budgetMinRetries",
                 "retry.budgetMinRetries must be an integer in [0, 1000]"},
        BadField{R"({"timeouts":{"perTryMs":0}})", "timeouts.perTryMs",
                 "timeouts.perTryMs must be a finite number in [1, 86400000]"},
        BadField{R"({"timeouts":{"firstByteMs":true}})", "timeouts.firstByteMs",
                 "timeouts.firstByteMs must be a finite number in [1, 86400000]"},
        BadField{R"({"timeouts":{"streamIdleMs":0}})", "timeouts.streamIdleMs",
                 "timeouts.streamIdleMs must be a finite number in [1, 86400000]"},
        BadField{R"({"timeouts":{"requestMs":1e300}})", "timeouts.requestMs",
                 "timeouts.requestMs must be a finite number in [1, 86400000]"},
        BadField{R"({"health":{"consecutiveFailures":0}})", "health.consecutiveFailures",
                 "health.consecutiveFailures must be an integer in [1, 1000]"},
        BadField{R"({"health":{"baseEjectionMs":-5}})", "health.baseEjectionMs",
                 "health.baseEjectionMs must be a finite number in [0, 86400000]"},
        BadField{R"({"health":{"maxEjectionMs":"300s"}})", "health.maxEjectionMs",
                 "health.maxEjectionMs must be a finite number in [0, 86400000]"},
        BadField{R"({"health":{"maxEjectionPercent":101}})", "health.maxEjectionPercent",
                 "health.maxEjectionPercent must be a finite number in [0, 100]"},
        BadField{R"({"health":{"panicRouting":"yes"}})", "health.panicRouting", "health.panicRouting must be true or false"},
        BadField{R"({"health":{"panicRouting":1}})", "health.panicRouting", "health.panicRouting must be true or false"},
        BadField{R"({"limits":{"maxBodyBytes":0}})", "limits.maxBodyBytes",
                 "limits.maxBodyBytes must be an integer in [1, 33554432]"},
        BadField{R"({"limits":{"maxBodyBytes":33554433}})", "limits.maxBodyBytes",
                 "limits.maxBodyBytes must be an integer in [1, 33554432]"},
        BadField{R"({"limits":{"maxDepth":257}})", "limits.maxDepth", "limits.maxDepth must be an integer in [1, 256]"},
        BadField{R"({"discovery":{"describeTtlMs":-1}})", "discovery.describeTtlMs",
                 "discovery.describeTtlMs must be a finite number in [0, 86400000]"},
        BadField{R"({"backends":{"BACKEND_A":{"weight":0}}})", "backends.BACKEND_A.weight",
                 "backends.BACKEND_A.weight must be a finite number in (0, 1000000]"},
        BadField{R"({"backends":{"BACKEND_A":{"weight":-2}}})", "backends.BACKEND_A.weight",
                 "backends.BACKEND_A.weight must be a finite number in (0, 1000000]"},
        BadField{R"({"backends":{"BACKEND_A":{"weight":"2"}}})", "backends.BACKEND_A.weight",
                 "backends.BACKEND_A.weight must be a finite number in (0, 1000000]"},
        BadField{R"({"backends":{"BACKEND_A":{"models":"gpt-4o"}}})", "backends.BACKEND_A.models",
                 R"(backends.BACKEND_A.models must be a non-empty array of model names (use "enabled": false to disable a backend))"},
        BadField{R"({"backends":{"BACKEND_A":{"models":[]}}})", "backends.BACKEND_A.models",
                 R"(backends.BACKEND_A.models must be a non-empty array of model names (use "enabled": false to disable a backend))"},
        BadField{R"({"backends":{"BACKEND_A":{"models":["a",""]}}})", "backends.BACKEND_A.models[1]",
                 "backends.BACKEND_A.models[1] must be a non-empty string of at most 256 bytes without control characters"},
        BadField{R"({"backends":{"BACKEND_A":{"models":[5]}}})", "backends.BACKEND_A.models[0]",
                 "backends.BACKEND_A.models[0] must be a non-empty string of at most 256 bytes without control characters"},
        BadField{R"({"backends":{"BACKEND_A":{"models":["a\nb"]}}})", "backends.BACKEND_A.models[0]",
                 "backends.BACKEND_A.models[0] must be a non-empty string of at most 256 bytes without control characters"},
        BadField{R"({"backends":{"BACKEND_A":{"enabled":"no"}}})", "backends.BACKEND_A.enabled",
                 "backends.BACKEND_A.enabled must be true or false"},
        BadField{R"({"backends":{"BACKEND_A":true}})", "backends.BACKEND_A",
                 R"(backends.BACKEND_A must be an object with "weight", "models" or "enabled")"},
        BadField{R"({"backends":{"OTHER":{}}})", "backends.OTHER",
                 "backends.OTHER: a backend binding name is BACKEND_ followed by letters, digits or _"},
        BadField{R"({"backends":{"BACKEND_":{}}})", "backends.BACKEND_",
                 "backends.BACKEND_: a backend binding name is BACKEND_ followed by letters, digits or _"},
        BadField{R"({"backends":{"BACKEND_A\r\nX-Evil":{}}})", R"(backends["BACKEND_A\u000d\nX-Evil"])",
                 R"(backends["BACKEND_A\u000d\nX-Evil"]: a backend binding name is BACKEND_ followed by letters, digits or _)"},
        BadField{R"({"backends":[]})", "backends", "backends must be an object"},
        BadField{R"({"retry":[]})", "retry", "retry must be an object"},
        BadField{R"({"timeouts":5})", "timeouts", "timeouts must be an object"},
        BadField{R"({"health":null})", "health", "health must be an object"},
        BadField{R"({"limits":"big"})", "limits", "limits must be an object"},
        BadField{R"({"discovery":true})", "discovery", "discovery must be an object"},
        BadField{R"({"rateLimit":{"retryAfterSeconds":0}})", "rateLimit.retryAfterSeconds",
                 "rateLimit.retryAfterSeconds must be an integer in [1, 86400]"},
        BadField{R"({"rateLimit":{"retryAfterSeconds":1.5}})", "rateLimit.retryAfterSeconds",
                 "rateLimit.retryAfterSeconds must be an integer in [1, 86400]"},
        BadField{R"({"rateLimit":{"retryAfterSeconds":86401}})", "rateLimit.retryAfterSeconds",
                 "rateLimit.retryAfterSeconds must be an integer in [1, 86400]"},
        BadField{R"({"rateLimit":60})", "rateLimit", "rateLimit must be an object"}));

INSTANTIATE_TEST_SUITE_P(
    UnknownKeys, RouterConfigBadField,
    ::testing::Values(
        BadField{R"({"stratgy":"round-robin"})", "stratgy",
                 "stratgy is not a known setting (top level accepts: strategy, retry, timeouts, health, limits, "
                 "discovery, rateLimit, backends)"},
        BadField{R"({"retry":{"maxAtempts":3}})", "retry.maxAtempts",
                 "retry.maxAtempts is not a known setting (retry accepts: maxAttempts, backoffBaseMs, backoffCapMs, "
                 "retryAfterCapMs, budgetPercent, budgetMinRetries)"},
        BadField{R"({"timeouts":{"perTry":3}})", "timeouts.perTry",
                 "timeouts.perTry is not a known setting (timeouts accepts: perTryMs, firstByteMs, requestMs, streamIdleMs)"},
        BadField{R"({"health":{"panic":true}})", "health.panic",
                 "health.panic is not a known setting (health accepts: consecutiveFailures, baseEjectionMs, "
                 "maxEjectionMs, maxEjectionPercent, panicRouting)"},
        BadField{R"({"limits":{"maxBody":1}})", "limits.maxBody",
                 "limits.maxBody is not a known setting (limits accepts: maxBodyBytes, maxDepth)"},
        BadField{R"({"discovery":{"ttl":1}})", "discovery.ttl",
                 "discovery.ttl is not a known setting (discovery accepts: describeTtlMs, describeTimeoutMs)"},
        BadField{R"({"rateLimit":{"limit":10}})", "rateLimit.limit",
                 "rateLimit.limit is not a known setting (rateLimit accepts: retryAfterSeconds)"},
        BadField{R"({"backends":{"BACKEND_A":{"wieght":1}}})", "backends.BACKEND_A.wieght",
                 "backends.BACKEND_A.wieght is not a known setting (backends.BACKEND_A accepts: weight, models, "
                 "enabled)"}));

INSTANTIATE_TEST_SUITE_P(
    CrossFieldRules, RouterConfigBadField,
    ::testing::Values(
        BadField{R"({"retry":{"backoffBaseMs":300}})", "retry.backoffBaseMs",
                 "retry.backoffBaseMs (300) must not exceed retry.backoffCapMs (250)"},
        BadField{R"({"retry":{"backoffBaseMs":20,"backoffCapMs":10}})", "retry.backoffBaseMs",
                 "retry.backoffBaseMs (20) must not exceed retry.backoffCapMs (10)"},
        BadField{R"({"health":{"baseEjectionMs":400000}})", "health.baseEjectionMs",
                 "health.baseEjectionMs (400000) must not exceed health.maxEjectionMs (300000)"},
        BadField{R"({"health":{"maxEjectionMs":1000}})", "health.baseEjectionMs",
                 "health.baseEjectionMs (30000) must not exceed health.maxEjectionMs (1000)"}));

INSTANTIATE_TEST_SUITE_P(
    Documents, RouterConfigBadField,
    ::testing::Values(
        BadField{"[]", "", "ROUTER_CONFIG must be a JSON object"},
        BadField{"null", "", "ROUTER_CONFIG must be a JSON object"},
        BadField{"\"round-robin\"", "", "ROUTER_CONFIG must be a JSON object"},
        BadField{R"([{"a":1,"a":2}])", "", "ROUTER_CONFIG must be a JSON object"},
        BadField{R"({"retry":{"maxAttempts":3,}})", "", "ROUTER_CONFIG is not valid JSON (error near byte 27)"},
        BadField{"{\"retry\":", "", "ROUTER_CONFIG is not valid JSON (the text ends too early)"},
        BadField{R"({"timeouts":{"requestMs":1E1000}})", "",
                 "ROUTER_CONFIG holds a number too large to represent (error near byte 31)"},
        BadField{R"({"retry":{"maxAttempts":3,"maxAttempts":4}})", "retry.maxAttempts",
                 "retry.maxAttempts appears more than once in ROUTER_CONFIG"},
        BadField{R"({"retry":{},"retry":{}})", "retry", "retry appears more than once in ROUTER_CONFIG"},
        BadField{R"({"backends":{"BACKEND_A":{"weight":1,"weight":2}}})", "backends.BACKEND_A.weight",
                 "backends.BACKEND_A.weight appears more than once in ROUTER_CONFIG"},
        // Keys that are not plain names are quoted, so that a path names one place only.
        BadField{R"({"":{"a":1,"a":2}})", R"([""].a)", R"([""].a appears more than once in ROUTER_CONFIG)"},
        BadField{R"({"":1})", R"([""])",
                 R"([""] is not a known setting (top level accepts: strategy, retry, timeouts, health, limits, discovery, rateLimit, backends))"},
        BadField{R"({"backends":{"my backend":{}}})", R"(backends["my backend"])",
                 R"(backends["my backend"]: a backend binding name is BACKEND_ followed by letters, digits or _)"}));

TEST(RouterConfig, DeepNestingIsRefusedBeforeItIsBuilt) {
  const ConfigError error = refused(R"({"retry":)" + std::string(100, '[') + std::string(100, ']') + "}");
  EXPECT_EQ(error.field, "");
  EXPECT_EQ(error.message, "ROUTER_CONFIG is nested deeper than 64 levels");
}

TEST(RouterConfig, FractionalValuesAreExactAndPrintedShortest) {
  const RouterConfig config = parsed(R"({"retry":{"budgetPercent":33.3},"backends":{"BACKEND_A":{"weight":0.1}}})");
  EXPECT_EQ(config.retry.budget_percent, 33.3);
  EXPECT_EQ(config.backends.at("BACKEND_A").weight, 0.1);
  const std::string text = router_config_to_json(config);
  EXPECT_NE(text.find(R"("budgetPercent":33.3,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("weight":0.1})"), std::string::npos) << text;
}

TEST(RouterConfig, NulByteIsInvalidJson) {
  const ConfigError error = refused(std::string_view("{}\0{\"x\":1}", 10));
  EXPECT_EQ(error.message, "ROUTER_CONFIG is not valid JSON (NUL byte at offset 2)");
}

TEST(RouterConfig, InvalidUtf8IsInvalidJson) {
  const ConfigError error = refused("{\"strategy\":\"round\xC0\xAFrobin\"}");
  EXPECT_EQ(error.field, "");
  EXPECT_EQ(error.message.rfind("ROUTER_CONFIG is not valid JSON", 0), 0u) << error.message;
}

TEST(RouterConfig, SameKeyInDifferentObjectsIsNotADuplicate) {
  const RouterConfig config = parsed(R"({"backends":{"BACKEND_A":{"weight":1},"BACKEND_B":{"weight":2}}})");
  EXPECT_EQ(config.backends.size(), 2u);
}

TEST(RouterConfig, FirstErrorIsReported) {
  const ConfigError error = refused(R"({"retry":{"maxAttempts":0},"health":{"consecutiveFailures":0}})");
  EXPECT_EQ(error.field, "retry.maxAttempts");
}

TEST(RouterConfig, ToJsonRoundTripsDefaults) {
  EXPECT_EQ(parsed(router_config_to_json(RouterConfig{})), RouterConfig{});
}

TEST(RouterConfig, ToJsonRoundTripsEveryField) {
  RouterConfig config;
  config.strategy = Strategy::LeastInflight;
  config.retry = RetryConfig{7, 12.5, 99.75, 1234.5, 33.3, 9};
  config.timeouts = TimeoutConfig{0.1 + 0.2 + 1, 777, 86400000, 1.5};
  config.health = HealthConfig{9, 1, 2, 12.5, false};
  config.limits = LimitConfig{33554432, 256};
  config.discovery = DiscoveryConfig{0};
  config.rate_limit = RateLimitConfig{7};
  config.backends["BACKEND_A"] = BackendOverride{1.0 / 3.0, std::vector<std::string>{"m1", "caf\xC3\xA9"}, false};
  config.backends["BACKEND_B"] = BackendOverride{std::nullopt, std::nullopt, true};
  config.backends["BACKEND_C"] = BackendOverride{};

  const std::string text = router_config_to_json(config);
  EXPECT_EQ(parsed(text), config) << text;
}

TEST(RouterConfig, ToJsonUsesTheInputShape) {
  const nlohmann::json document = nlohmann::json::parse(router_config_to_json(RouterConfig{}));
  EXPECT_EQ(document["strategy"], "round-robin");
  EXPECT_EQ(document["retry"]["maxAttempts"], 3);
  EXPECT_EQ(document["timeouts"]["requestMs"], 120000);
  EXPECT_EQ(document["health"]["panicRouting"], true);
  EXPECT_EQ(document["limits"]["maxBodyBytes"], 1048576);
  EXPECT_EQ(document["discovery"]["describeTtlMs"], 60000);
  EXPECT_EQ(document["rateLimit"]["retryAfterSeconds"], 60);
  EXPECT_TRUE(document["backends"].is_object());
  EXPECT_TRUE(document["backends"].empty());
}

TEST(RouterConfig, ToJsonWritesWholeNumbersWithoutFraction) {
  RouterConfig config;
  config.backends["BACKEND_A"] = BackendOverride{0.5, std::nullopt, std::nullopt};
  const std::string text = router_config_to_json(config);
  EXPECT_NE(text.find(R"("retry":{"maxAttempts":3,"backoffBaseMs":25,"backoffCapMs":250,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("backends":{"BACKEND_A":{"weight":0.5}})"), std::string::npos) << text;
}

}  // namespace
}  // namespace router
