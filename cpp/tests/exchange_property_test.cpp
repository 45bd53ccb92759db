// Property test: many seeds, random policies and random backend behaviour, several exchanges
// interleaved. Whatever happens, the decisions must keep the contract's invariants.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "router_harness.hpp"

namespace router {
namespace {

using testing::chat_body;
using testing::as;
using testing::attempts_of;
using testing::backend_of;
using testing::http_status;
using testing::header;
using testing::RouterHarness;

struct Live {
  uint32_t handle;
  Action action;
  double deadline = 0;
  double decided_at = 0;  // when the core answered `action`
  uint32_t attempts = 0;
  std::vector<uint32_t> tried;
};

struct Counts {
  int calls = 0, waits = 0, replies = 0, forwards = 0;
};

// Checks a decision the moment the core makes it (other exchanges may move the clock later).
void check(RouterHarness& h, Live& x, uint32_t max_attempts, uint64_t seed, Counts& n) {
  const Action& a = x.action;
  x.decided_at = h.now;
  if (kind(a) == ActionKind::Call) {
    ++n.calls;
    ++x.attempts;
    ASSERT_LE(x.attempts, max_attempts) << "seed " << seed;
    EXPECT_EQ(attempts_of(a), x.attempts);
    EXPECT_EQ(as<Call>(a).deadline, x.deadline) << "one deadline for all attempts";
    EXPECT_GT(as<Call>(a).timeout_ms, 0);
    EXPECT_LE(h.now + as<Call>(a).timeout_ms, x.deadline) << "per-try timeout within the deadline, seed " << seed;
    // Revisiting is allowed only when every backend the router could pick was tried.
    if (std::find(x.tried.begin(), x.tried.end(), backend_of(a)) != x.tried.end()) {
      for (uint32_t c : h.router.candidates(h.router.eligible("m"), h.now))
        EXPECT_NE(std::find(x.tried.begin(), x.tried.end(), c), x.tried.end())
            << "seed " << seed << ": backend " << backend_of(a) << " revisited while " << c << " was untried";
    }
    x.tried.push_back(backend_of(a));
  } else if (kind(a) == ActionKind::Wait) {
    ++n.waits;
    EXPECT_GE(as<Wait>(a).until, h.now);
    EXPECT_LT(as<Wait>(a).until, x.deadline) << "no decided wait ends past the deadline, seed " << seed;
  } else if (kind(a) == ActionKind::Reply) {
    ++n.replies;
    EXPECT_TRUE(http_status(a) == 502 || http_status(a) == 503 || http_status(a) == 504) << http_status(a) << " seed " << seed;
    EXPECT_EQ(header(a, "x-router-attempts"), std::to_string(x.attempts));
  } else if (kind(a) == ActionKind::Forward) {
    ++n.forwards;
    EXPECT_EQ(header(a, "x-router-backend"), "BACKEND_" + std::to_string(backend_of(a)));
    EXPECT_EQ(header(a, "x-router-attempts"), std::to_string(x.attempts));
  } else {
    ADD_FAILURE() << "seed " << seed << ": unexpected action kind " << static_cast<int>(kind(a));
  }
}

TEST(ExchangeProperties, InvariantsHoldForRandomOutcomeSequences) {
  Counts n;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SplitMix64 rng(seed * 7919);
    RouterHarness h;
    h.seed_ = seed;
    const size_t backends = 1 + rng.below(5);
    const uint32_t max_attempts = 1 + static_cast<uint32_t>(rng.below(6));
    const double request_ms = 200 + static_cast<double>(rng.below(5000));
    std::string config = "{\"retry\":{\"maxAttempts\":" + std::to_string(max_attempts) +
                         "},\"timeouts\":{\"requestMs\":" + std::to_string(static_cast<int>(request_ms)) +
                         "},\"health\":{\"consecutiveFailures\":" + std::to_string(1 + rng.below(4)) +
                         ",\"maxEjectionPercent\":" + std::to_string(rng.below(101)) +
                         ",\"panicRouting\":" + (rng.below(2) ? "true" : "false") +
                         "},\"strategy\":\"" + (rng.below(2) ? "round-robin" : "least-inflight") + "\"}";
    h.backends(backends, config);

    std::vector<Live> live;
    for (int step = 0; step < 60; ++step) {
      // Start a request now and then; keep up to 4 in flight.
      if (live.size() < 4 && rng.below(3) == 0) {
        auto [e, a] = h.post(chat_body());
        live.push_back({e, a, h.now + request_ms});
        check(h, live.back(), max_attempts, seed, n);
      }
      if (live.empty()) continue;
      Live& x = live[rng.below(live.size())];
      Action& a = x.action;
      if (kind(a) == ActionKind::Call) {
        // The backend takes a while, then answers, throws or times out.
        h.now = std::max(h.now, x.decided_at + static_cast<double>(rng.below(400)));
        uint64_t roll = rng.below(10);
        if (roll < 3) {
          a = h.threw(x.handle);
        } else if (roll < 4) {
          a = h.outcome(x.handle, AttemptOutcome::TimedOut);
        } else {
          static constexpr uint32_t kStatuses[] = {200, 200, 429, 500, 502, 503, 504, 400};
          uint32_t status = kStatuses[rng.below(8)];
          std::string ra = rng.below(3) == 0 ? std::to_string(rng.below(4)) : "";
          a = h.answered(x.handle, status, ra);
        }
        check(h, x, max_attempts, seed, n);
      } else if (kind(a) == ActionKind::Wait) {
        h.now = std::max(h.now, as<Wait>(a).until);
        a = h.exchange(x.handle).resume(h.now);
        check(h, x, max_attempts, seed, n);
      } else {
        h.end(x.handle, rng.below(4) == 0 ? EndHow::StreamFailed : EndHow::Completed);
        live.erase(live.begin() + (&x - live.data()));
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
    for (const Live& x : live) h.end(x.handle, EndHow::ClientGone);
    // Nothing leaks once every exchange is over.
    EXPECT_EQ(h.router.requests_in_flight(), 0u);
    EXPECT_EQ(h.router.budget().retries_in_flight(), 0u);
    for (size_t i = 0; i < backends; ++i) EXPECT_EQ(h.router.health()[i].in_flight, 0u) << "seed " << seed;
  }
  // The simulation really exercised every path.
  EXPECT_GT(n.calls, 1000);
  EXPECT_GT(n.waits, 20);
  EXPECT_GT(n.replies, 50);
  EXPECT_GT(n.forwards, 200);
}

}  // namespace
}  // namespace router
