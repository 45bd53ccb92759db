#include "config/router_config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_fields.hpp"

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
        BadField{R"({"strategy":"random"})", "strategy", R"(strategy must be "round-robin", "least-inflight" or "peak-ewma")"},
        BadField{R"({"strategy":1})", "strategy", R"(strategy must be "round-robin", "least-inflight" or "peak-ewma")"},
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
        BadField{R"({"usage":{"streamUsage":"no"}})", "usage.streamUsage", "usage.streamUsage must be true or false"},
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
                 "discovery, rateLimit, controlPlane, usage, accessLog, fallbacks, backends)"},
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
                 R"([""] is not a known setting (top level accepts: strategy, retry, timeouts, health, limits, discovery, rateLimit, controlPlane, usage, accessLog, fallbacks, backends))"},
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


// The schema table (config_fields.hpp): every row, whatever it is, must be read, checked and
// written. These tests walk the table, so a row added without that support fails them.

bool each_backend(const ConfigField& field) { return std::string_view(field.section) == kEachBackend; }

// The row's JSON path, with the binding BACKEND_A for the per-binding rows.
std::string path_of(const ConfigField& field) {
  const std::string section = each_backend(field) ? "backends.BACKEND_A" : field.section;
  return section.empty() ? field.key : section + "." + field.key;
}

FieldType type_of(const ConfigField& field) { return field.type; }

// A ROUTER_CONFIG text setting only this row's key, to `value` (JSON text).
std::string document_with(const ConfigField& field, const std::string& value) {
  nlohmann::json document = nlohmann::json::object();
  nlohmann::json setting = nlohmann::json::parse(value);
  if (each_backend(field)) {
    document["backends"]["BACKEND_A"][field.key] = setting;
  } else if (field.section[0] == '\0') {
    document[field.key] = setting;
  } else {
    document[field.section][field.key] = setting;
  }
  return document.dump();
}

std::string number_json(double value) { return nlohmann::json(value).dump(); }

// Valid values of the row, as JSON texts; the ones most likely to differ from the default first.
std::vector<std::string> valid_values(const ConfigField& field) {
  const double min = field.min;
  const double max = field.max;
  const double mid = std::floor((min + max) / 2);
  switch (type_of(field)) {
    case FieldType::Strategy:
      return {R"("least-inflight")", R"("peak-ewma")", R"("round-robin")"};
    case FieldType::Boolean:
    case FieldType::OptionalBoolean:
      return {"false", "true"};
    case FieldType::OptionalModels:
      return {R"(["m1","*"])", "[\"" + std::string(static_cast<std::size_t>(field.max), 'm') + "\"]"};
    case FieldType::Backends:
      return {R"({"BACKEND_A":{}})"};
    case FieldType::Fallbacks:
      return {R"({"a":["b","c"]})", R"({"a":["b"],"b":["a"]})"};
    case FieldType::Uint32:
    case FieldType::Uint64:
      return {number_json(min), number_json(max), number_json(mid)};
    case FieldType::Number:
    case FieldType::OptionalNumber:
      break;
  }
  return {number_json(min + 0.5), number_json(max), number_json(mid)};
}

// Whether two members of the same row hold the same value.
bool same_value(FieldRef a, FieldRef b) {
  EXPECT_EQ(a.type, b.type);
  switch (a.type) {
    case FieldType::Strategy: return *static_cast<Strategy*>(a.value) == *static_cast<Strategy*>(b.value);
    case FieldType::Uint32: return *static_cast<uint32_t*>(a.value) == *static_cast<uint32_t*>(b.value);
    case FieldType::Uint64: return *static_cast<uint64_t*>(a.value) == *static_cast<uint64_t*>(b.value);
    case FieldType::Number: return *static_cast<double*>(a.value) == *static_cast<double*>(b.value);
    case FieldType::Boolean: return *static_cast<bool*>(a.value) == *static_cast<bool*>(b.value);
    case FieldType::OptionalNumber:
      return *static_cast<std::optional<double>*>(a.value) == *static_cast<std::optional<double>*>(b.value);
    case FieldType::OptionalBoolean:
      return *static_cast<std::optional<bool>*>(a.value) == *static_cast<std::optional<bool>*>(b.value);
    case FieldType::OptionalModels: {
      using Models = std::optional<std::vector<std::string>>;
      return *static_cast<Models*>(a.value) == *static_cast<Models*>(b.value);
    }
    case FieldType::Fallbacks: {
      using Chains = std::map<std::string, std::vector<std::string>>;
      return *static_cast<Chains*>(a.value) == *static_cast<Chains*>(b.value);
    }
    case FieldType::Backends: {
      using Backends = std::map<std::string, BackendOverride>;
      return *static_cast<Backends*>(a.value) == *static_cast<Backends*>(b.value);
    }
  }
  return false;
}

// The paths of the rows whose members differ from the defaults (per binding: from no override).
std::vector<std::string> changed_rows(RouterConfig config) {
  RouterConfig defaults;
  BackendOverride none;
  std::vector<std::string> changed;
  for (const ConfigField& field : config_fields()) {
    if (!each_backend(field)) {
      if (!same_value(field_ref(field, &config), field_ref(field, &defaults))) changed.push_back(path_of(field));
      continue;
    }
    for (auto& [name, override_] : config.backends) {
      if (!same_value(field_ref(field, &override_), field_ref(field, &none))) {
        changed.push_back("backends." + name + "." + field.key);
      }
    }
  }
  return changed;
}

// The first valid value of the row that changes the config (a value may break a rule between
// fields, e.g. backoffCapMs 0 is below the default backoffBaseMs).
std::string changing_value(const ConfigField& field) {
  for (const std::string& value : valid_values(field)) {
    const ConfigResult result = parse_router_config(document_with(field, value));
    if (result.config && *result.config != RouterConfig{}) return value;
  }
  ADD_FAILURE() << path_of(field) << ": no valid value changes the config";
  return "null";
}

std::vector<std::string> expected_change(const ConfigField& field) {
  if (each_backend(field)) return {"backends", path_of(field)};
  return {path_of(field)};
}

TEST(RouterConfigTable, IsWellFormed) {
  const auto fields = config_fields();
  ASSERT_FALSE(fields.empty());
  std::vector<std::string> sections_seen;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const ConfigField& field = fields[i];
    EXPECT_NE(field.key[0], '\0');
    const std::string section = field.section;
    // A section's rows are contiguous (the top level's, "", are not: its sections sit among them).
    if (i > 0 && section != fields[i - 1].section) {
      for (const std::string& seen : sections_seen) {
        if (!section.empty()) EXPECT_NE(seen, section) << "section rows not contiguous";
      }
      sections_seen.push_back(fields[i - 1].section);
    }
    // The per-binding rows follow the backends row.
    if (each_backend(field)) {
      EXPECT_TRUE(each_backend(fields[i - 1]) || std::string_view(fields[i - 1].key) == "backends") << path_of(field);
    }
    if (field.not_above != nullptr) {
      EXPECT_EQ(type_of(field), FieldType::Number) << path_of(field);
      bool found = false;
      for (const ConfigField& cap : fields) {
        found = found || (section == cap.section && std::string_view(cap.key) == field.not_above &&
                          type_of(cap) == FieldType::Number);
      }
      EXPECT_TRUE(found) << path_of(field) << " not_above names no number of its section";
    }
    EXPECT_LE(field.min, field.max) << path_of(field);
  }
}

TEST(RouterConfigTable, EveryRowIsReadIntoItsOwnMemberAndWrittenBack) {
  for (const ConfigField& field : config_fields()) {
    SCOPED_TRACE(path_of(field));
    const std::string text = document_with(field, changing_value(field));
    const RouterConfig config = parsed(text);
    EXPECT_EQ(changed_rows(config), expected_change(field)) << text;
    const std::string written = router_config_to_json(config);
    EXPECT_EQ(parsed(written), config) << written;
    EXPECT_EQ(router_config_to_json(parsed(written)), written);
  }
}

TEST(RouterConfigTable, AllRowsAtOnceRoundTrip) {
  nlohmann::json document = nlohmann::json::object();
  std::vector<std::string> expected;
  for (const ConfigField& field : config_fields()) {
    const nlohmann::json one = nlohmann::json::parse(document_with(field, changing_value(field)));
    document.merge_patch(one);
    for (const std::string& path : expected_change(field)) {
      if (std::find(expected.begin(), expected.end(), path) == expected.end()) expected.push_back(path);
    }
  }
  const RouterConfig config = parsed(document.dump());
  EXPECT_EQ(changed_rows(config), expected) << document.dump();
  const std::string written = router_config_to_json(config);
  EXPECT_EQ(parsed(written), config) << written;
  // The writer writes every row (optional ones because they are set here), in table order.
  std::size_t at = 0;
  for (const ConfigField& field : config_fields()) {
    const std::size_t found = written.find("\"" + std::string(field.key) + "\":", at);
    EXPECT_NE(found, std::string::npos) << path_of(field) << " missing or out of order in " << written;
    if (found != std::string::npos) at = found;
  }
}

std::string bound_text(double bound) {
  if (bound == std::floor(bound)) return std::to_string(static_cast<int64_t>(bound));
  return number_json(bound);
}

struct Refusal {
  std::string text;     // a ROUTER_CONFIG setting the row to a bad value
  std::string field;    // the error's field
  std::string message;  // the whole message
};

// Values outside the row's range or of the wrong kind, and the error each must give.
std::vector<Refusal> invalid_values(const ConfigField& field) {
  const std::string path = path_of(field);
  const double min = field.min;
  const double max = field.max;
  const std::string range = bound_text(min) + ", " + bound_text(max) + "]";
  std::vector<Refusal> bad;
  const auto add = [&](const std::vector<std::string>& values, const std::string& at, const std::string& what) {
    for (const std::string& value : values) bad.push_back(Refusal{document_with(field, value), at, at + " " + what});
  };
  switch (type_of(field)) {
    case FieldType::Strategy:
      add({R"("random")", "1", "null"}, path, R"(must be "round-robin", "least-inflight" or "peak-ewma")");
      break;
    case FieldType::Boolean:
    case FieldType::OptionalBoolean:
      add({R"("yes")", "1", "null"}, path, "must be true or false");
      break;
    case FieldType::OptionalModels:
      add({"[]", R"("m")", "null"}, path,
          R"(must be a non-empty array of model names (use "enabled": false to disable a backend))");
      add({R"([""])", "[\"" + std::string(static_cast<std::size_t>(field.max) + 1, 'm') + "\"]"}, path + "[0]",
          "must be a non-empty string of at most " + bound_text(field.max) + " bytes without control characters");
      break;
    case FieldType::Backends:
      add({"[]", "1", "null"}, path, "must be an object");
      break;
    case FieldType::Fallbacks:
      add({"[]", "1", "null"}, path, "must be an object mapping a model to an array of up to 8 other models");
      add({R"({"a":[]})", R"({"a":"b"})", R"({"a":["b","c","d","e","f","g","h","i","j"]})"}, path + ".a",
          "must be a non-empty array of at most 8 models");
      add({R"({"a":["a"]})"}, path + ".a[0]", R"(("a") makes the chain loop: it is the model itself)");
      add({R"({"a":["b","b"]})"}, path + ".a[1]", R"(("b") makes the chain loop: it is listed twice)");
      add({R"({"a":[""]})", R"({"a":[1]})"}, path + ".a[0]",
          "must be a non-empty string of at most 256 bytes without control characters");
      break;
    case FieldType::Uint32:
    case FieldType::Uint64:
      add({number_json(min - 1), number_json(max + 1), number_json(min + 0.5), R"("1")", "null"}, path,
          "must be an integer in [" + range);
      break;
    case FieldType::Number:
    case FieldType::OptionalNumber:
      add({number_json(field.min_exclusive ? min : min - 1), number_json(max + 1), number_json(max * 2 + 1), R"("1")",
           "true", "null"},
          path, std::string("must be a finite number in ") + (field.min_exclusive ? "(" : "[") + range);
      break;
  }
  return bad;
}

TEST(RouterConfigTable, EveryRowRefusesWhatIsOutOfRangeNamingItself) {
  for (const ConfigField& field : config_fields()) {
    SCOPED_TRACE(path_of(field));
    const std::vector<Refusal> bad = invalid_values(field);
    EXPECT_GE(bad.size(), 3u);
    for (const Refusal& one : bad) {
      const ConfigError error = refused(one.text);
      EXPECT_EQ(error.field, one.field) << one.text;
      EXPECT_EQ(error.message, one.message) << one.text;
    }
  }
}

TEST(RouterConfigTable, EveryRowRuleBetweenFieldsIsChecked) {
  for (const ConfigField& field : config_fields()) {
    if (field.not_above == nullptr) continue;
    SCOPED_TRACE(path_of(field));
    const ConfigField* cap = nullptr;
    for (const ConfigField& other : config_fields()) {
      if (std::string_view(other.section) == field.section && std::string_view(other.key) == field.not_above) cap = &other;
    }
    ASSERT_NE(cap, nullptr);
    nlohmann::json document;
    document[field.section][field.key] = field.max;
    document[field.section][cap->key] = cap->min;
    const ConfigError error = refused(document.dump());
    EXPECT_EQ(error.field, path_of(field));
    EXPECT_EQ(error.message, path_of(field) + " (" + bound_text(field.max) + ") must not exceed " + path_of(*cap) + " (" +
                                 bound_text(cap->min) + ")");
  }
}

TEST(RouterConfigTable, EveryObjectListsItsRowsAsTheKeysItAccepts) {
  std::vector<std::string> sections = {""};
  for (const ConfigField& field : config_fields()) {
    if (std::find(sections.begin(), sections.end(), field.section) == sections.end()) sections.push_back(field.section);
  }
  for (const std::string& section : sections) {
    SCOPED_TRACE(section);
    std::vector<std::string> keys;  // the top level's: its own rows' keys and its sections'
    for (const ConfigField& field : config_fields()) {
      const bool top_key = section.empty() && !each_backend(field) && field.section[0] != '\0';
      if (section != field.section && !top_key) continue;
      const std::string key = top_key ? field.section : field.key;
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    std::string accepts;
    for (const std::string& key : keys) accepts += (accepts.empty() ? "" : ", ") + key;
    const std::string path = section == kEachBackend ? "backends.BACKEND_A" : section;
    nlohmann::json document = nlohmann::json::parse(R"({"typo":1})");
    if (section == kEachBackend) {
      document = nlohmann::json{{"backends", {{"BACKEND_A", document}}}};
    } else if (!section.empty()) {
      document = nlohmann::json{{section, document}};
    }
    const ConfigError error = refused(document.dump());
    const std::string field = path.empty() ? "typo" : path + ".typo";
    EXPECT_EQ(error.field, field);
    EXPECT_EQ(error.message, field + " is not a known setting (" + (path.empty() ? "top level" : path) +
                                 " accepts: " + accepts + ")");
  }
}

}  // namespace
}  // namespace router
