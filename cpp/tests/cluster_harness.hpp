// Isolates (RouterHarness) and a ControlPlane wired together for the cluster tests: isolates
// with the CONTROL_PLANE binding and described backends, a control plane that knows the same
// backends, and one whole sync between them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/control_plane.hpp"
#include "router_harness.hpp"

namespace router::testing {

inline constexpr const char* kOneAttempt = R"({"retry":{"maxAttempts":1}})";

inline std::vector<std::string> env_with_control_plane(size_t backends) {
  std::vector<std::string> env{"CONTROL_PLANE"};
  for (size_t i = 0; i < backends; ++i) env.push_back("BACKEND_" + std::to_string(i));
  return env;
}

inline std::string configure_input(size_t backends, std::string_view isolate = "") {
  std::string input = R"({"routerConfig":")" + std::string(R"({\"retry\":{\"maxAttempts\":1}})") + R"(","envNames":[)";
  for (size_t i = 0; i < backends; ++i) input += (i ? ",\"BACKEND_" : "\"BACKEND_") + std::to_string(i) + "\"";
  input += R"(,"CONTROL_PLANE"])";
  if (!isolate.empty()) input += R"(,"isolateId":")" + std::string(isolate) + "\"";
  return input + "}";
}

// An isolate with `n` described backends and the CONTROL_PLANE binding.
inline void start_isolate(RouterHarness& h, size_t n, bool describe = true) {
  h.configure(env_with_control_plane(n), kOneAttempt);
  if (!describe) return;
  std::vector<Described> answers;
  for (size_t i = 0; i < n; ++i) answers.push_back({"b" + std::to_string(i), {"m"}});
  h.describe(answers);
}

inline void start_control_plane(ControlPlane& cp, size_t n, double now) {
  std::string out;
  ASSERT_EQ(cp.configure(configure_input(n), now, out), 0);
  std::string answers = "{";
  for (size_t i = 0; i < n; ++i)
    answers += (i ? ",\"BACKEND_" : "\"BACKEND_") + std::to_string(i) + R"(":{"name":"b)" + std::to_string(i) + R"(","models":["m"]})";
  ASSERT_EQ(cp.describe(answers + "}", now), 0);
}

// One whole sync of `h` through `cp`, at the harness's time; false when none was due.
inline bool sync(RouterHarness& h, ControlPlane& cp) {
  auto request = h.router.sync_report(h.now);
  if (!request) return false;
  EXPECT_TRUE(h.router.sync_answer(cp.sync(request->report, h.now), h.now));
  return true;
}

}  // namespace router::testing
