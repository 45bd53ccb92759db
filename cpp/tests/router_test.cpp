// The Router itself: configure (its input, a new or the same backend list, overrides, warnings,
// the policy it applies), describe()'s accepted list, the random start of each isolate, and what
// /status and /v1/models show. Added after the first mutation run found these untested.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::backend_of;
using testing::http_status;
using testing::text_of;
using testing::fake_hash;
using testing::header;
using testing::reply_body;
using testing::RouterHarness;

nlohmann::json status_of(RouterHarness& h) { return nlohmann::json::parse(h.router.status_json(h.now)); }

nlohmann::json configure_output(RouterHarness& h, const std::vector<std::string>& env, std::string_view config = "") {
  return nlohmann::json::parse(h.configure(env, config));
}

bool has_warning(const nlohmann::json& output, std::string_view text) {
  for (const auto& w : output["warnings"])
    if (w.get<std::string>().find(text) != std::string::npos) return true;
  return false;
}

TEST(Router, ConfigureRefusesInputOfTheWrongShape) {
  for (const char* input : {"[]", "7", "\"x\"", R"({"routerConfig":5})", R"({"adminKeyHash":5})",
                            R"({"apiKeyHashes":"x"})", R"({"envNames":"BACKEND_A"})", R"({"apiKeysSet":"yes"})",
                            R"({"envNames":[5]})", R"({"apiKeyHashes":["a",5]})"}) {
    Router r;
    std::string out;
    EXPECT_EQ(r.configure(input, testing::kT0, out), -1) << input;
  }
  Router r;
  std::string out;
  EXPECT_EQ(r.configure(R"({"routerConfig":null,"adminKeyHash":null,"apiKeyHashes":null,"envNames":null})",
                        testing::kT0, out), 0);
}

// Bindings are sorted (indices follow that order) and each counts once.
TEST(Router, BindingsAreSortedAndCountedOnce) {
  RouterHarness h;
  auto out = configure_output(h, {"BACKEND_C", "AI", "BACKEND_A", "BACKEND_D", "BACKEND_B", "BACKEND_A", "RATE_LIMITER"});
  EXPECT_EQ(out["backends"], nlohmann::json({"BACKEND_A", "BACKEND_B", "BACKEND_C", "BACKEND_D"}));
}

// A new list: exactly the new bindings, every one undescribed again (no description carried over
// from the backend that had its index before).
TEST(Router, ANewBackendListReplacesTheOldOne) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  h.describe({{"a", {"m"}}, {"b", {"m"}}});
  auto out = configure_output(h, {"BACKEND_A", "BACKEND_C"});
  EXPECT_EQ(out["backends"], nlohmann::json({"BACKEND_A", "BACKEND_C"}));
  auto status = status_of(h);
  ASSERT_EQ(status["backends"].size(), 2u);
  EXPECT_EQ(status["backends"][1]["binding"], "BACKEND_C");
  EXPECT_EQ(status["backends"][1]["models"], nlohmann::json::array()) << "C was never described";
  EXPECT_TRUE(status["discoveredAt"].is_null());
  auto [e, a] = h.post(chat_body());
  EXPECT_EQ(kind(a), ActionKind::Discover) << "the new catalog must be discovered first";
}

// The same list again (a new ROUTER_CONFIG, say): health and descriptions stay.
TEST(Router, ReconfiguringTheSameBackendsKeepsHealthAndDescriptions) {
  RouterHarness h;
  h.backends(2, R"({"retry":{"maxAttempts":1}})");
  h.eject_backend_0();
  ASSERT_EQ(h.router.health().state(0, h.now), BackendState::Ejected);
  h.configure({"BACKEND_0", "BACKEND_1"}, R"({"retry":{"maxAttempts":2}})");
  EXPECT_EQ(h.router.health().state(0, h.now), BackendState::Ejected);
  EXPECT_EQ(status_of(h)["backends"][0]["models"], nlohmann::json({"m"}));
  EXPECT_EQ(kind(h.post(chat_body()).second), ActionKind::Call);
}

// ROUTER_CONFIG overrides take effect on configure, on the last descriptions, for every backend.
TEST(Router, OverridesApplyOnReconfigureWithoutANewDescribe) {
  RouterHarness h;
  h.backends(2);
  h.configure({"BACKEND_0", "BACKEND_1"},
              R"({"backends":{"BACKEND_0":{"enabled":false},"BACKEND_1":{"weight":3,"models":["m","x"]}}})");
  auto status = status_of(h);
  EXPECT_EQ(status["backends"][0]["enabled"], false);
  EXPECT_EQ(status["backends"][1]["weight"], 3);
  EXPECT_EQ(status["backends"][1]["models"], nlohmann::json({"m", "x"}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.serve_one(), 1u);
  h.configure({"BACKEND_0", "BACKEND_1"}, R"({"backends":{"BACKEND_0":{"weight":2}}})");
  status = status_of(h);
  EXPECT_EQ(status["backends"][0]["enabled"], true);
  EXPECT_EQ(status["backends"][0]["weight"], 2);
  EXPECT_EQ(status["backends"][1]["weight"], 1) << "back to its described weight";
  EXPECT_EQ(status["backends"][1]["models"], nlohmann::json({"m"}));
  std::vector<int> counts(2, 0);
  for (int i = 0; i < 30; ++i) counts[h.serve_one()]++;
  EXPECT_EQ(counts, (std::vector<int>{20, 10}));
}

TEST(Router, ConfigureWarnsAboutUnknownOverridesAndMissingBackends) {
  RouterHarness h;
  auto out = configure_output(h, {"BACKEND_A"}, R"({"backends":{"BACKEND_A":{"weight":2},"BACKEND_Z":{"weight":2}}})");
  EXPECT_TRUE(has_warning(out, "ROUTER_CONFIG.backends.BACKEND_Z names no BACKEND_ binding")) << out;
  EXPECT_FALSE(has_warning(out, "BACKEND_A names")) << out;
  EXPECT_FALSE(has_warning(out, "no BACKEND_* bindings")) << out;
  std::string logs = h.router.drain_logs();
  EXPECT_NE(logs.find("\"event\":\"unknown_backend_override\",\"backend\":\"BACKEND_Z\""), std::string::npos) << logs;
  EXPECT_EQ(logs.find("no_backends"), std::string::npos) << logs;

  RouterHarness none;
  out = configure_output(none, {"AI"});
  EXPECT_TRUE(has_warning(out, "no BACKEND_* bindings: every routed request will answer 503")) << out;
  EXPECT_NE(none.router.drain_logs().find("\"event\":\"no_backends\""), std::string::npos);
}

TEST(Router, ReconfiguringWithoutAnAdminKeyDropsIt) {
  RouterHarness h;
  h.configure({"BACKEND_A"}, "", {fake_hash('a')}, fake_hash('d'));
  EXPECT_EQ(http_status(h.begin("GET", "/status", "", "", "", fake_hash('a')).second), 401u);
  h.configure({"BACKEND_A"}, "", {fake_hash('a')});
  EXPECT_EQ(http_status(h.begin("GET", "/status", "", "", "", fake_hash('a')).second), 200u)
      << "no admin key any more: the API keys guard /status";
}

// strategy "least-inflight" from ROUTER_CONFIG: requests go where the fewest are in flight.
TEST(Router, LeastInflightIsAppliedFromTheConfiguration) {
  RouterHarness h;
  h.backends(2, R"({"strategy":"least-inflight"})");
  std::vector<std::pair<uint32_t, uint32_t>> live;  // handle, backend
  std::vector<int> load(2, 0);
  for (int i = 0; i < 8; ++i) {
    auto [e, call] = h.post(chat_body());
    ASSERT_EQ(kind(call), ActionKind::Call);
    live.push_back({e, backend_of(call)});
    load[backend_of(call)]++;
  }
  EXPECT_EQ(load, (std::vector<int>{4, 4}));
  for (auto [e, backend] : live) {
    if (backend != 0) continue;
    h.answered(e, 200);
    h.end(e);
  }
  for (int i = 0; i < 4; ++i) {
    auto [e, call] = h.post(chat_body());
    EXPECT_EQ(backend_of(call), 0u) << "backend 1 still has 4 in flight, backend 0 " << i;
  }
}

TEST(Router, TheRetryBudgetComesFromTheConfiguration) {
  RouterHarness h;
  h.backends(3, R"({"retry":{"budgetPercent":0,"budgetMinRetries":1}})");
  auto [a, ca] = h.post(chat_body());
  auto [b, cb] = h.post(chat_body());
  EXPECT_EQ(kind(h.threw(a)), ActionKind::Call);
  Action refused = h.threw(b);
  EXPECT_EQ(http_status(refused), 502u);
  EXPECT_NE(text_of(refused).find("retry_budget_exhausted"), std::string::npos);
}

TEST(Router, DescribeListsOnlyTheBindingsItTook) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  std::string accepted = "left over from an earlier call";
  ASSERT_EQ(h.router.describe(R"({"BACKEND_B":{"name":"b","models":["m"]},"BACKEND_A":{"error":"x"}})", h.now,
                              &accepted), 0);
  EXPECT_EQ(accepted, "BACKEND_B");
}

// Contract section 4: each isolate starts round-robin at a random offset (from its first seed).
TEST(Router, EachIsolateStartsAtARandomBackend) {
  std::set<uint32_t> first;
  for (uint64_t seed = 1; seed <= 32; ++seed) {
    RouterHarness h;
    h.seed_ = seed * 7919;
    h.backends(4);
    first.insert(h.serve_one());
  }
  EXPECT_EQ(first.size(), 4u);
}

// /status right after an ejection ended: healthy, a fresh streak, no `until`; during it: `until`.
TEST(Router, StatusShowsEjectionsAndReturns) {
  RouterHarness h;
  h.backends(2, R"({"retry":{"maxAttempts":1}})");
  h.eject_backend_0();
  ASSERT_EQ(h.router.health().state(0, h.now), BackendState::Ejected);
  const double until = h.router.health().until(0);
  auto [e1, during] = h.begin("GET", "/status");
  auto backend = nlohmann::json::parse(reply_body(during))["backends"][0];
  EXPECT_EQ(backend["state"], "ejected");
  EXPECT_EQ(backend["until"], until);
  EXPECT_EQ(backend["consecutiveFailures"], 5);
  EXPECT_EQ(backend["timesEjected"], 1);
  EXPECT_GE(backend["attempts"].get<int>(), 5);
  EXPECT_TRUE(nlohmann::json::parse(reply_body(during))["backends"][1]["until"].is_null());
  h.now = until;
  auto [e2, after] = h.begin("GET", "/status");
  backend = nlohmann::json::parse(reply_body(after))["backends"][0];
  EXPECT_EQ(backend["state"], "healthy");
  EXPECT_TRUE(backend["until"].is_null());
  EXPECT_EQ(backend["consecutiveFailures"], 0) << "it came back with a fresh streak";
  EXPECT_EQ(backend["timesEjected"], 1);
}

TEST(Router, StatusDescribesEachBackendAndTheRouter) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  EXPECT_TRUE(status_of(h)["discoveredAt"].is_null());
  h.now += 1234;
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m"],"weight":2,"version":"1.2.3"},)"
                              R"("BACKEND_B":{"error":"boom"}})", h.now), 0);
  auto status = status_of(h);
  auto a = status["backends"][0];
  EXPECT_EQ(a["name"], "a");
  EXPECT_EQ(a["weight"], 2);
  EXPECT_EQ(a["enabled"], true);
  EXPECT_EQ(a["version"], "1.2.3");
  EXPECT_FALSE(a.contains("describeError"));
  auto b = status["backends"][1];
  EXPECT_EQ(b["describeError"], "boom");
  EXPECT_FALSE(b.contains("version"));
  EXPECT_EQ(status["discoveredAt"], h.now);
  EXPECT_EQ(status["now"], h.now);
  EXPECT_EQ(status["requestsInFlight"], 0);
  EXPECT_EQ(status["retriesInFlight"], 0);
  RouterHarness r;
  r.backends(3);
  auto [e, call] = r.post(chat_body());
  ASSERT_EQ(kind(r.threw(e)), ActionKind::Call);
  status = status_of(r);
  EXPECT_EQ(status["requestsInFlight"], 1);
  EXPECT_EQ(status["retriesInFlight"], 1);
}

// OpenAI's `created` is in seconds: the time of the discovery.
TEST(Router, ModelsAreCreatedWhenTheyWereDiscovered) {
  RouterHarness h;
  h.now += 1789;
  h.backends(1);
  auto [e, a] = h.begin("GET", "/v1/models");
  auto list = nlohmann::json::parse(reply_body(a));
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["created"], std::floor(h.now / 1000));
}

// Before its first good describe() answer a backend's name and weight are unknown: /status says
// so (described false, name and weight null) instead of showing defaults (weight 1) that the
// coming describe() may contradict.
TEST(Router, StatusShowsABackendNotDescribedYetAsSuch) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  auto before = status_of(h)["backends"];
  for (const auto& b : before) {
    EXPECT_EQ(b["described"], false) << b;
    EXPECT_TRUE(b["name"].is_null()) << b;
    EXPECT_TRUE(b["weight"].is_null()) << b;
    EXPECT_EQ(b["models"], nlohmann::json::array()) << b;
  }
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m"],"weight":2},"BACKEND_B":{"error":"down"}})",
                              h.now),
            0);
  auto after = status_of(h)["backends"];
  EXPECT_EQ(after[0]["described"], true);
  EXPECT_EQ(after[0]["name"], "a");
  EXPECT_EQ(after[0]["weight"], 2);
  EXPECT_EQ(after[1]["described"], false) << "a failed describe() describes nothing";
  EXPECT_TRUE(after[1]["weight"].is_null());
  EXPECT_EQ(after[1]["describeError"], "down");
}

// A weight ROUTER_CONFIG sets is known before any describe() (it wins over what describe() says):
// /status shows it; the name stays unknown.
TEST(Router, StatusShowsAConfiguredWeightBeforeDiscovery) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"}, R"({"backends":{"BACKEND_A":{"weight":3,"models":["m"]}}})");
  auto backends = status_of(h)["backends"];
  EXPECT_EQ(backends[0]["described"], false);
  EXPECT_TRUE(backends[0]["name"].is_null());
  EXPECT_EQ(backends[0]["weight"], 3);
  EXPECT_EQ(backends[0]["models"], nlohmann::json::array({"m"}));
  EXPECT_TRUE(backends[1]["weight"].is_null());
}

}  // namespace
}  // namespace router
