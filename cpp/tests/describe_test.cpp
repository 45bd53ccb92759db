// What a describe() answer may hold (contract section 1, docs/configuration.md): a name and models
// of at most 256 bytes each, at most 1024 models, an optional weight in (0, 1 000 000] (absent:
// 1), an optional version. Anything else is reported and leaves the backend as it was. Added after
// the first mutation run found the exact limits untested.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::http_status;
using testing::RouterHarness;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string models_json(size_t n) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += (i ? ",\"m" : "\"m") + std::to_string(i) + "\"";
  return out + "]";
}

// The description one answer leaves BACKEND_A with, or its describe error.
struct Outcome {
  bool taken;
  Backend backend;
};

Outcome describe_a(const std::string& answer) {
  RouterHarness h;
  h.configure({"BACKEND_A"});
  std::string accepted;
  EXPECT_EQ(h.router.describe(R"({"BACKEND_A":)" + answer + "}", h.now, &accepted), 0) << answer;
  return {accepted == "BACKEND_A", h.router.backends()[0]};
}

TEST(Describe, AMissingWeightIsOneAndTheLimitIsInclusive) {
  Outcome plain = describe_a(R"({"name":"a","models":["m"]})");
  ASSERT_TRUE(plain.taken);
  EXPECT_EQ(plain.backend.weight, 1);
  Outcome top = describe_a(R"({"name":"a","models":["m"],"weight":1000000})");
  ASSERT_TRUE(top.taken);
  EXPECT_EQ(top.backend.weight, 1000000);
  EXPECT_TRUE(top.backend.describe_error.empty()) << top.backend.describe_error;
}

TEST(Describe, NamesModelsAndVersionsAreBounded) {
  const std::string b256(256, 'n'), b257(257, 'n');
  EXPECT_TRUE(describe_a(R"({"name":)" + quoted(b256) + R"(,"models":["m"]})").taken);
  EXPECT_TRUE(describe_a(R"({"name":"a","models":[)" + quoted(b256) + "]}").taken);
  EXPECT_TRUE(describe_a(R"({"name":"a","models":)" + models_json(1024) + "}").taken);
  for (const std::string& bad : {R"({"name":)" + quoted(b257) + R"(,"models":["m"]})", std::string(R"({"name":"a"})"),
                                 std::string(R"({"name":"a","models":"m"})"),
                                 R"({"name":"a","models":)" + models_json(1025) + "}",
                                 std::string(R"({"name":"a","models":["m",""]})"),
                                 std::string(R"({"name":"a","models":["m",5]})"),
                                 R"({"name":"a","models":["m",)" + quoted(b257) + "]}"}) {
    Outcome o = describe_a(bad);
    EXPECT_FALSE(o.taken) << bad.substr(0, 80);
    EXPECT_TRUE(o.backend.models.empty()) << bad.substr(0, 80);
    EXPECT_FALSE(o.backend.describe_error.empty()) << bad.substr(0, 80);
  }
  EXPECT_EQ(describe_a(R"({"name":"a","models":["m"],"version":"v7"})").backend.version, "v7");
  EXPECT_EQ(describe_a(R"({"name":"a","models":["m"],"version":)" + quoted(b256) + "}").backend.version, b256);
  Outcome long_version = describe_a(R"({"name":"a","models":["m"],"version":)" + quoted(b257) + "}");
  EXPECT_TRUE(long_version.taken) << "a version too long is left out, the description is taken";
  EXPECT_EQ(long_version.backend.version, "");
}

// A backend's error text is a log line and a /status field, not a dump: at most 200 bytes.
TEST(Describe, ALongErrorIsCut) {
  RouterHarness h;
  h.configure({"BACKEND_A"});
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"error":")" + std::string(5000, 'e') + "\"}}", h.now), 0);
  EXPECT_EQ(h.router.backends()[0].describe_error, std::string(200, 'e'));
  EXPECT_LT(h.router.drain_logs().size(), 400u);
}

// Answering again (a refresh) does not count a backend as discovered twice: once every backend
// answered, an unknown model is 404, not "still being discovered".
TEST(Describe, ABackendAnsweringAgainIsStillDiscoveredOnce) {
  RouterHarness h;
  h.configure({"BACKEND_A", "BACKEND_B"});
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m"]}})", h.now), 0);
  ASSERT_EQ(h.router.describe(R"({"BACKEND_A":{"name":"a","models":["m"]}})", h.now), 0);
  EXPECT_EQ(h.router.backends().undiscovered(), 1u);
  ASSERT_EQ(h.router.describe(R"({"BACKEND_B":{"name":"b","models":["m"]}})", h.now), 0);
  EXPECT_EQ(h.router.backends().undiscovered(), 0u);
  auto [e, a] = h.post(chat_body("x"));
  EXPECT_EQ(http_status(a), 404u);
}

}  // namespace
}  // namespace router
