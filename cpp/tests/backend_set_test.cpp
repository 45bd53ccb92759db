// BackendSet: the catalog built from BACKEND_* env names and describe() answers, merged with
// ROUTER_CONFIG overrides, and the per-backend discovery schedule (take_due).
#include "routing/backend_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace router {
namespace {

constexpr double T = 1'000'000;  // an arbitrary "now"
constexpr double kTtl = 60000;   // DiscoveryConfig's default describe_ttl_ms

struct Set {
  BackendSet set;
  RouterConfig config;
  std::vector<std::string> errors;
  std::vector<std::string> accepted;

  explicit Set(std::vector<std::string> names = {"BACKEND_A", "BACKEND_B", "BACKEND_C"}) { set.set_bindings(names); }
  bool describe(const std::string& answers, double now = T) {
    errors.clear();
    accepted.clear();
    return set.apply_descriptions(answers, config, now, errors, accepted);
  }
};

std::string good(const std::string& name, const std::string& models = R"(["m1"])", const std::string& extra = "") {
  return R"({"name":")" + name + R"(","models":)" + models + extra + "}";
}

TEST(BackendSet, KeepsOnlyBackendNamesSortedAndOnce) {
  BackendSet set;
  EXPECT_TRUE(set.set_bindings({"BACKEND_C", "ROUTER_CONFIG", "BACKEND_A", "backend_x", "BACKEND_", "BACKEND_B",
                                "BACKEND_A", "XBACKEND_D", "AI"}));
  EXPECT_EQ(set.bindings(), (std::vector<std::string>{"BACKEND_A", "BACKEND_B", "BACKEND_C"}));
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set[0].binding, "BACKEND_A");
  EXPECT_EQ(set.all()[2].binding, "BACKEND_C");
  EXPECT_EQ(set.undiscovered(), 3u);
  EXPECT_FALSE(set.described());
}

TEST(BackendSet, SetBindingsReportsAChangeOnlyWhenTheSortedListChanges) {
  BackendSet set;
  EXPECT_FALSE(set.set_bindings({})) << "no backends before, none now";
  EXPECT_TRUE(set.set_bindings({"BACKEND_B", "BACKEND_A"}));
  EXPECT_FALSE(set.set_bindings({"BACKEND_A", "BACKEND_B", "OTHER"})) << "same backends in another order";
  EXPECT_TRUE(set.set_bindings({"BACKEND_A"}));
  EXPECT_TRUE(set.set_bindings({}));
  EXPECT_EQ(set.size(), 0u);
}

TEST(BackendSet, AnUndescribedBackendServesNothing) {
  Set s;
  EXPECT_EQ(s.set[0].name, "");
  EXPECT_TRUE(s.set[0].models.empty());
  EXPECT_FALSE(s.set[0].serves("m1"));
  EXPECT_FALSE(s.set[0].serves(""));
}

TEST(BackendSet, ServesItsModelsOrAnyWithStar) {
  Backend b;
  b.models = {"a", "b"};
  EXPECT_TRUE(b.serves("a"));
  EXPECT_TRUE(b.serves("b"));
  EXPECT_FALSE(b.serves("c"));
  EXPECT_FALSE(b.serves("A")) << "model names are case-sensitive";
  b.models = {"*"};
  EXPECT_TRUE(b.serves("anything"));
}

TEST(BackendSet, AnObjectOfAnswersDescribesTheNamedBackendsOnly) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_B":)" + good("b", R"(["m1","m2"])", R"(,"weight":2.5,"version":"v7")") +
                         R"(,"BACKEND_UNKNOWN":)" + good("u") + "}"));
  EXPECT_EQ(s.accepted, (std::vector<std::string>{"BACKEND_B"}));
  EXPECT_TRUE(s.errors.empty());
  const Backend& b = s.set[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.models, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(b.weight, 2.5);
  EXPECT_EQ(b.version, "v7");
  EXPECT_TRUE(b.enabled);
  EXPECT_EQ(s.set[0].name, "") << "BACKEND_A was not in the answers";
  EXPECT_EQ(s.set.undiscovered(), 2u);
  EXPECT_TRUE(s.set.described());
  EXPECT_EQ(s.set.described_at(), T);
}

TEST(BackendSet, AnArrayOfAnswersIsAlignedWithTheBindings) {
  Set s;
  ASSERT_TRUE(s.describe("[" + good("a") + "," + good("b") + "," + good("c") + "]"));
  EXPECT_EQ(s.accepted, (std::vector<std::string>{"BACKEND_A", "BACKEND_B", "BACKEND_C"}));
  EXPECT_EQ(s.set[0].name, "a");
  EXPECT_EQ(s.set[2].name, "c");
  EXPECT_EQ(s.set.undiscovered(), 0u);
}

TEST(BackendSet, AnswersThatAreNeitherObjectNorAlignedArrayAreRefusedWhole) {
  Set s;
  EXPECT_FALSE(s.describe("[" + good("a") + "," + good("b") + "]")) << "array shorter than the bindings";
  EXPECT_FALSE(s.describe("not json"));
  EXPECT_FALSE(s.describe("42"));
  EXPECT_FALSE(s.describe(R"("BACKEND_A")"));
  EXPECT_FALSE(s.describe(""));
  EXPECT_TRUE(s.accepted.empty());
  EXPECT_FALSE(s.set.described()) << "a refused batch is no description";
  EXPECT_EQ(s.set.undiscovered(), 3u);
}

TEST(BackendSet, AnswersNestedDeeperThan64AreRefused) {
  Set s;
  std::string deep = R"({"BACKEND_A":{"name":"a","models":["m"],"x":)";
  for (int i = 0; i < 70; ++i) deep += "[";
  for (int i = 0; i < 70; ++i) deep += "]";
  deep += "}}";
  EXPECT_FALSE(s.describe(deep));
  EXPECT_EQ(s.set[0].name, "");
}

TEST(BackendSet, AMissingWeightOrNullIsOne) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + R"(,"BACKEND_B":)" + good("b", R"(["m"])", R"(,"weight":null)") +
                         "}"));
  EXPECT_EQ(s.set[0].weight, 1);
  EXPECT_EQ(s.set[1].weight, 1);
}

TEST(BackendSet, InvalidDescriptionsAreReportedAndLeaveTheBackendUnroutable) {
  const std::string too_long(257, 'n');
  const std::string longest(256, 'n');
  std::string many_models = "[";
  for (int i = 0; i < 1025; ++i) many_models += std::string(i ? "," : "") + "\"m\"";
  many_models += "]";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "describe() answer is not an object"},
      {R"({"error":"boom"})", "boom"},
      {R"({"error":{"x":1}})", "describe() failed"},
      {R"({"models":["m"]})", "describe().name must be a string of at most 256 bytes"},
      {R"({"name":")" + too_long + R"(","models":["m"]})", "describe().name must be a string of at most 256 bytes"},
      {R"({"name":"a"})", "describe().models must be an array of at most 1024 strings"},
      {R"({"name":"a","models":"m"})", "describe().models must be an array of at most 1024 strings"},
      {R"({"name":"a","models":)" + many_models + "}", "describe().models must be an array of at most 1024 strings"},
      {R"({"name":"a","models":[""]})", "describe().models must hold non-empty strings of at most 256 bytes"},
      {R"({"name":"a","models":[1]})", "describe().models must hold non-empty strings of at most 256 bytes"},
      {R"({"name":"a","models":[")" + too_long + R"("]})",
       "describe().models must hold non-empty strings of at most 256 bytes"},
  };
  for (const auto& [answer, problem] : cases) {
    Set s;
    ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + answer + "}")) << answer;
    EXPECT_TRUE(s.accepted.empty()) << answer;
    ASSERT_EQ(s.errors.size(), 1u) << answer;
    EXPECT_EQ(s.errors[0], "BACKEND_A: " + problem);
    EXPECT_EQ(s.set[0].describe_error, problem);
    EXPECT_FALSE(s.set[0].serves("m")) << answer;
    EXPECT_EQ(s.set.undiscovered(), 2u) << "a bad answer is still an answer: " << answer;
  }
  // The bounds themselves are accepted.
  Set s;
  std::string max_models = "[";
  for (int i = 0; i < 1024; ++i) max_models += std::string(i ? "," : "") + "\"" + longest + "\"";
  max_models += "]";
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"name":")" + longest + R"(","models":)" + max_models + "}}"));
  EXPECT_EQ(s.accepted, (std::vector<std::string>{"BACKEND_A"}));
  EXPECT_EQ(s.set[0].models.size(), 1024u);
}

TEST(BackendSet, ALongProblemIsCutTo200Bytes) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":")" + std::string(500, 'e') + R"("}})"));
  EXPECT_EQ(s.set[0].describe_error.size(), 200u);
}

TEST(BackendSet, AnOversizedVersionIsIgnoredNotAnError) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["m"])", R"(,"version":")" + std::string(257, 'v') + "\"") +
                         "}"));
  EXPECT_EQ(s.accepted.size(), 1u);
  EXPECT_EQ(s.set[0].version, "");
}

TEST(BackendSet, AFailedDescribeKeepsTheLastGoodDescription) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["m1"])", R"(,"weight":4)") + "}"));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"timeout"}})", T + kTtl));
  EXPECT_TRUE(s.accepted.empty());
  EXPECT_EQ(s.set[0].name, "a");
  EXPECT_EQ(s.set[0].weight, 4);
  EXPECT_TRUE(s.set[0].serves("m1"));
  EXPECT_EQ(s.set[0].describe_error, "timeout");
  // A good answer clears the error.
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a2") + "}", T + 2 * kTtl));
  EXPECT_EQ(s.set[0].name, "a2");
  EXPECT_EQ(s.set[0].describe_error, "");
}

TEST(BackendSet, HasDescriptionOnlyAfterAGoodAnswerAndKeepsItThroughFailures) {
  Set s;
  EXPECT_FALSE(s.set.has_description(0));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"down"},"BACKEND_B":)" + good("b", R"(["m"])", R"(,"weight":0)") + "}"));
  EXPECT_FALSE(s.set.has_description(0)) << "a failed answer is no description";
  EXPECT_TRUE(s.set.has_description(1)) << "a new backend with a bad weight takes its description";
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + "}", T + 5000));
  EXPECT_TRUE(s.set.has_description(0));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"down again"}})", T + 5000 + kTtl));
  EXPECT_TRUE(s.set.has_description(0)) << "the last good description stays";
  EXPECT_FALSE(s.set.has_description(2));
  EXPECT_FALSE(s.set.has_description(3)) << "out of range is no description, not a crash";
  ASSERT_TRUE(s.set.set_bindings({"BACKEND_A"}));
  EXPECT_FALSE(s.set.has_description(0)) << "new bindings are undescribed again";
}

TEST(BackendSet, TheSameProblemIsLoggedOnceUntilItChanges) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"down"}})"));
  EXPECT_EQ(s.errors.size(), 1u);
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"down"}})", T + 5000));
  EXPECT_TRUE(s.errors.empty()) << "same problem again: no new line";
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"still down, differently"}})", T + 10000));
  EXPECT_EQ(s.errors, (std::vector<std::string>{"BACKEND_A: still down, differently"}));
}

TEST(BackendSet, ABadWeightOnANewBackendTakesTheDescriptionWithWeightOne) {
  for (const char* weight : {"0", "-1", "1000001", "\"2\"", "true"}) {
    Set s;
    ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["m"])", std::string(R"(,"weight":)") + weight) + "}"));
    EXPECT_EQ(s.accepted, (std::vector<std::string>{"BACKEND_A"})) << weight;
    EXPECT_EQ(s.set[0].weight, 1) << weight;
    EXPECT_TRUE(s.set[0].serves("m")) << weight;
    EXPECT_EQ(s.set[0].describe_error, "describe().weight must be a finite number in (0, 1000000]") << weight;
    EXPECT_EQ(s.errors.size(), 1u) << weight;
  }
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["m"])", R"(,"weight":1000000)") + "}"));
  EXPECT_EQ(s.set[0].weight, BackendSet::kMaxWeight) << "the maximum itself is a valid weight";
  EXPECT_TRUE(s.errors.empty());
}

TEST(BackendSet, ABadWeightOnAKnownBackendKeepsItsLastGoodDescriptionWhole) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["old"])", R"(,"weight":3)") + "}"));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["new"])", R"(,"weight":0)") + "}", T + kTtl));
  EXPECT_TRUE(s.accepted.empty());
  EXPECT_EQ(s.set[0].weight, 3);
  EXPECT_TRUE(s.set[0].serves("old"));
  EXPECT_FALSE(s.set[0].serves("new"));
  EXPECT_FALSE(s.set[0].describe_error.empty());
}

TEST(BackendSet, OverridesWinOverDescribeAndAreReappliedOnAConfigChange) {
  Set s;
  s.config.backends["BACKEND_A"].weight = 7;
  s.config.backends["BACKEND_A"].models = std::vector<std::string>{"only-this"};
  s.config.backends["BACKEND_B"].enabled = false;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a", R"(["m1"])", R"(,"weight":2)") + R"(,"BACKEND_B":)" + good("b") +
                         "}"));
  EXPECT_EQ(s.set[0].weight, 7);
  EXPECT_EQ(s.set[0].models, (std::vector<std::string>{"only-this"}));
  EXPECT_EQ(s.set[0].name, "a") << "fields without an override come from describe()";
  EXPECT_FALSE(s.set[1].enabled);

  // A new configuration without overrides: describe()'s values come back, no new discovery needed.
  RouterConfig plain;
  s.set.apply_overrides(plain);
  EXPECT_EQ(s.set[0].weight, 2);
  EXPECT_EQ(s.set[0].models, (std::vector<std::string>{"m1"}));
  EXPECT_TRUE(s.set[1].enabled);
  // And back again.
  s.set.apply_overrides(s.config);
  EXPECT_EQ(s.set[0].weight, 7);
  EXPECT_FALSE(s.set[1].enabled);
}

TEST(BackendSet, ApplyOverridesKeepsTheCurrentDescribeError) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + "}"));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"down"}})", T + kTtl));
  s.set.apply_overrides(s.config);
  EXPECT_EQ(s.set[0].describe_error, "down");
  EXPECT_EQ(s.set[0].name, "a");
}

TEST(BackendSet, NewBindingsForgetEveryDescription) {
  Set s;
  ASSERT_TRUE(s.describe("[" + good("a") + "," + good("b") + "," + good("c") + "]"));
  ASSERT_TRUE(s.set.set_bindings({"BACKEND_A", "BACKEND_B"}));
  EXPECT_EQ(s.set[0].name, "");
  EXPECT_EQ(s.set.undiscovered(), 2u);
  EXPECT_FALSE(s.set.described());
  EXPECT_EQ(s.set.take_due(T, 5000, 32).size(), 2u) << "every backend is due again";
}

TEST(BackendSet, TakeDueHandsOutAtMostMaxInRotatingOrder) {
  Set s({"BACKEND_A", "BACKEND_B", "BACKEND_C", "BACKEND_D", "BACKEND_E"});
  EXPECT_EQ(s.set.take_due(T, 5000, 2), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(s.set.take_due(T, 5000, 2), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(s.set.take_due(T, 5000, 2), (std::vector<uint32_t>{4})) << "0..3 are being described";
  EXPECT_TRUE(s.set.take_due(T, 5000, 2).empty());
  EXPECT_TRUE(s.set.take_due(T, 5000, 0).empty());
}

TEST(BackendSet, TakeDueRotatesSoEveryBackendGetsItsTurnWhenAllAreDue) {
  Set s({"BACKEND_A", "BACKEND_B", "BACKEND_C", "BACKEND_D", "BACKEND_E"});
  s.config.discovery.describe_ttl_ms = 0;  // every answered backend is due again at once
  ASSERT_EQ(s.set.take_due(T, 5000, 2), (std::vector<uint32_t>{0, 1}));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + R"(,"BACKEND_B":)" + good("b") + "}"));
  EXPECT_EQ(s.set.take_due(T, 5000, 2), (std::vector<uint32_t>{2, 3})) << "the next batch starts after the last one";
  EXPECT_EQ(s.set.take_due(T, 5000, 2), (std::vector<uint32_t>{4, 0})) << "and wraps around";
}

TEST(BackendSet, TakeDueOnNoBackendsIsEmpty) {
  BackendSet set;
  EXPECT_TRUE(set.take_due(T, 5000, 32).empty());
}

TEST(BackendSet, AnUnansweredDescribeIsHandedOutAgainAfterItsTimeoutPlusGrace) {
  Set s({"BACKEND_A"});
  const double timeout = 5000;
  ASSERT_EQ(s.set.take_due(T, timeout, 32).size(), 1u);
  const double again = T + timeout + BackendSet::kLostDescribeGraceMs;
  EXPECT_TRUE(s.set.take_due(again - 1, timeout, 32).empty());
  EXPECT_EQ(s.set.take_due(again, timeout, 32), (std::vector<uint32_t>{0}));
}

TEST(BackendSet, AGoodAnswerIsDueAgainAfterTheTtlAFailedOneAfterFiveSeconds) {
  Set s({"BACKEND_A", "BACKEND_B"});
  ASSERT_EQ(s.set.take_due(T, 5000, 32).size(), 2u);
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + R"(,"BACKEND_B":{"error":"x"}})", T + 100));
  EXPECT_TRUE(s.set.take_due(T + 100 + BackendSet::kFailedDescribeRetryMs - 1, 5000, 32).empty());
  EXPECT_EQ(s.set.take_due(T + 100 + BackendSet::kFailedDescribeRetryMs, 5000, 32), (std::vector<uint32_t>{1}));
  // BACKEND_B, handed out again and never answered, may come up again meanwhile; BACKEND_A not before the TTL.
  const auto before_ttl = s.set.take_due(T + 100 + kTtl - 1, 5000, 32);
  EXPECT_EQ(std::count(before_ttl.begin(), before_ttl.end(), 0u), 0);
  const auto at_ttl = s.set.take_due(T + 100 + kTtl, 5000, 32);
  EXPECT_EQ(std::count(at_ttl.begin(), at_ttl.end(), 0u), 1);
}

TEST(BackendSet, AFailedDescribeIsRetriedAfterTheTtlWhenThatIsSooner) {
  Set s({"BACKEND_A"});
  s.config.discovery.describe_ttl_ms = 1000;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"x"}})"));
  EXPECT_TRUE(s.set.take_due(T + 999, 5000, 32).empty());
  EXPECT_EQ(s.set.take_due(T + 1000, 5000, 32).size(), 1u);
}

TEST(BackendSet, AnAnswerWhileAskedEndsTheWaitingSoTheNextRoundFollowsTheTtlOnly) {
  Set s({"BACKEND_A"});
  s.config.discovery.describe_ttl_ms = 0;
  ASSERT_EQ(s.set.take_due(T, 5000, 32).size(), 1u);
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + "}", T + 10));
  EXPECT_EQ(s.set.take_due(T + 10, 5000, 32).size(), 1u) << "TTL 0: due again at once, not after the timeout";
}

TEST(BackendSet, UndiscoveredCountsEachBackendOnce) {
  Set s;
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"x"}})"));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":{"error":"y"}})", T + 1));
  ASSERT_TRUE(s.describe(R"({"BACKEND_A":)" + good("a") + "}", T + 2));
  EXPECT_EQ(s.set.undiscovered(), 2u);
  ASSERT_TRUE(s.describe("[" + good("a") + "," + good("b") + "," + good("c") + "]", T + 3));
  EXPECT_EQ(s.set.undiscovered(), 0u);
  ASSERT_TRUE(s.describe("[" + good("a") + "," + good("b") + "," + good("c") + "]", T + 4));
  EXPECT_EQ(s.set.undiscovered(), 0u) << "never below zero";
}

}  // namespace
}  // namespace router
