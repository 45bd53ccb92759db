// Usage across the cluster (contract sections 3 and 4: /status's tokens and latency "for the whole
// cluster of isolates", token usage shared through the control plane): isolates report their
// tokens, latency histograms and fallbacks since the last acknowledged report, the control plane
// adds them up, persists them, and every isolate shows the totals in /status's `cluster`.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "cluster/cluster_usage.hpp"
#include "cluster/control_plane.hpp"
#include "cluster_harness.hpp"
#include "router_harness.hpp"

namespace router::testing {
namespace {

using nlohmann::json;

// An isolate as start_isolate's, with two client keys (so usage is told apart per key).
void start_keyed_isolate(RouterHarness& h, size_t n) {
  h.configure(env_with_control_plane(n), kOneAttempt, {fake_hash('a'), fake_hash('b')});
  std::vector<Described> answers;
  for (size_t i = 0; i < n; ++i) answers.push_back({"b" + std::to_string(i), {"m", "n"}});
  h.describe(answers);
}

// One delivered JSON answer for `model` with key `key`, reporting `usage` ("prompt completion
// total"), latency_ms after its call. Returns the backend that answered.
uint32_t answer(RouterHarness& h, std::string_view model, char key, std::string_view usage, double latency_ms) {
  auto [e, call] = h.post(chat_body(model), kChatPath, fake_hash(key));
  EXPECT_EQ(kind(call), ActionKind::Call);
  h.now += latency_ms;
  h.exchange(e).outcome(AttemptOutcome::Answered, 200, AnswerBody::Json, "", "", h.now, "", usage);
  h.end(e, EndHow::Completed, "");
  return backend_of(call);
}

json cluster_of(RouterHarness& h) { return json::parse(h.router.status_json(h.now))["cluster"]; }

json cluster_backend(const json& cluster, std::string_view binding) {
  for (const json& b : cluster["backends"])
    if (b["binding"] == binding) return b;
  return json();
}

json tokens(uint64_t prompt, uint64_t completion, uint64_t total, uint64_t answers) {
  return json{{"prompt", prompt}, {"completion", completion}, {"total", total}, {"answers", answers}};
}

TEST(ClusterUsage, ThreeIsolatesReportAndEveryOneShowsTheExactTotals) {
  std::vector<RouterHarness> isolates(3);
  ControlPlane cp;
  start_control_plane(cp, 2, kT0);
  uint64_t per_backend[2] = {0, 0};
  for (size_t k = 0; k < isolates.size(); ++k) {
    RouterHarness& h = isolates[k];
    start_keyed_isolate(h, 2);
    for (size_t i = 0; i <= k; ++i) per_backend[answer(h, "m", 'a', "10 5 15", 100)]++;
    per_backend[answer(h, "n", 'b', "1 2 3", 100)]++;
    h.router.fallback_taken("m", "n");
    ASSERT_TRUE(sync(h, cp));
  }
  // Answers: 1+2+3 of model m with key a, 3 of model n with key b, all at 100 ms.
  RouterHarness& first = isolates[0];
  first.now += 1000;
  ASSERT_TRUE(sync(first, cp)) << "the first isolate sees what the later two reported";
  for (RouterHarness* h : {&first, &isolates[2]}) {
    const json cluster = cluster_of(*h);
    EXPECT_EQ(cluster["usage"]["models"]["m"], tokens(60, 30, 90, 6)) << cluster.dump();
    EXPECT_EQ(cluster["usage"]["models"]["n"], tokens(3, 6, 9, 3));
    EXPECT_EQ(cluster["usage"]["keys"]["key-aaaaaaaaaaaa"]["total"], 90);
    EXPECT_EQ(cluster["usage"]["keys"]["key-bbbbbbbbbbbb"]["total"], 9);
    EXPECT_EQ(cluster["fallbacks"], (json{{"m -> n", 3}}));
  }
  const json cluster = cluster_of(first);
  uint64_t answers = 0, samples = 0;
  for (size_t i = 0; i < 2; ++i) {
    const json b = cluster_backend(cluster, "BACKEND_" + std::to_string(i));
    ASSERT_TRUE(b.is_object()) << cluster.dump();
    EXPECT_EQ(b["tokens"]["answers"], per_backend[i]);
    EXPECT_EQ(b["attempts"], per_backend[i]);
    EXPECT_EQ(b["latency"]["totalMs"]["samples"], per_backend[i]);
    if (per_backend[i] > 0) EXPECT_NEAR(b["latency"]["firstByteMs"]["p50"].get<double>(), 100, 6.5);
    answers += b["tokens"]["answers"].get<uint64_t>();
    samples += b["latency"]["firstByteMs"]["samples"].get<uint64_t>();
  }
  EXPECT_EQ(answers, 9u);
  EXPECT_EQ(samples, 9u);
  EXPECT_EQ(cp.usage().tokens.models().at("m").total, 90u);
}

TEST(ClusterUsage, AFailedSyncThenASuccessfulOneCountsOnce) {
  RouterHarness h;
  ControlPlane cp;
  start_keyed_isolate(h, 1);
  start_control_plane(cp, 1, h.now);
  for (int i = 0; i < 3; ++i) answer(h, "m", 'a', "2 1 3", 50);
  auto lost = h.router.sync_report(h.now);
  ASSERT_TRUE(lost);
  EXPECT_NE(lost->report.find(R"("tokens":[6,3,9,3])"), std::string::npos) << lost->report;
  h.router.sync_failed(h.now);
  answer(h, "m", 'a', "2 1 3", 50);
  h.now += 1000;
  auto next = h.router.sync_report(h.now);
  ASSERT_TRUE(next);
  EXPECT_NE(next->report.find(R"("tokens":[8,4,12,4])"), std::string::npos) << next->report;
  ASSERT_TRUE(h.router.sync_answer(cp.sync(next->report, h.now), h.now));
  h.now += 1000;
  auto after = h.router.sync_report(h.now);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->report.find("usage"), std::string::npos) << "acknowledged usage is not sent again";
  EXPECT_EQ(cp.usage().tokens.backend(0), (TokenUsage{8, 4, 12, 4}));
  EXPECT_EQ(cp.usage().first_byte[0].samples(), 4u);
  EXPECT_EQ(cp.usage().tokens.keys().at("key-aaaaaaaaaaaa").answers, 4u);
}

TEST(ClusterUsage, UsageWhileASyncIsOutGoesWithTheNextReport) {
  RouterHarness h;
  ControlPlane cp;
  start_keyed_isolate(h, 1);
  start_control_plane(cp, 1, h.now);
  answer(h, "m", 'a', "1 1 2", 10);
  auto first = h.router.sync_report(h.now);
  ASSERT_TRUE(first);
  answer(h, "m", 'a', "1 1 2", 10);  // after the report was written, before its answer
  ASSERT_TRUE(h.router.sync_answer(cp.sync(first->report, h.now), h.now));
  h.now += 1000;
  ASSERT_TRUE(sync(h, cp));
  EXPECT_EQ(cp.usage().tokens.backend(0).answers, 2u);
  EXPECT_EQ(cp.usage().total[0].samples(), 2u);
}

TEST(ClusterUsage, RestoreAfterPersistKeepsTheTotals) {
  RouterHarness h;
  ControlPlane cp;
  start_keyed_isolate(h, 2);
  start_control_plane(cp, 2, h.now);
  for (int i = 0; i < 5; ++i) answer(h, i % 2 ? "n" : "m", 'a' + i % 2, "7 3 10", 40.0 * (i + 1));
  h.router.fallback_taken("m", "n");
  ASSERT_TRUE(sync(h, cp));
  auto state = cp.persist(h.now);
  ASSERT_TRUE(state);
  ControlPlane again;
  std::string out;
  ASSERT_EQ(again.configure(configure_input(2), h.now + 5000, out), 0);
  ASSERT_TRUE(again.restore(*state, h.now + 5000));
  const ClusterUsage &before = cp.usage(), &after = again.usage();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after.tokens.backend(i), before.tokens.backend(i)) << i;
    EXPECT_EQ(after.first_byte[i].buckets(), before.first_byte[i].buckets()) << i;
    EXPECT_EQ(after.total[i].samples(), before.total[i].samples()) << i;
    EXPECT_DOUBLE_EQ(after.total[i].ewma(), before.total[i].ewma()) << i;
  }
  EXPECT_EQ(after.tokens.models(), before.tokens.models());
  EXPECT_EQ(after.tokens.keys(), before.tokens.keys());
  EXPECT_EQ(after.fallbacks.counts(), before.fallbacks.counts());
  EXPECT_EQ(after.tokens.models().at("m").answers, 3u);
}

TEST(ClusterUsage, AMalformedUsagePartRefusesTheReportWhole) {
  ControlPlane cp;
  start_control_plane(cp, 1, kT0);
  const std::string sketch = R"("firstByteMs":{"samples":3,"ewma":10,"buckets":[[20,1],[21,2]]})";
  const std::string good = R"({"backends":{"BACKEND_0":{"tokens":[1,1,2,1],)" + sketch + "}}}";
  ASSERT_EQ(cp.sync(R"({"isolate":"i","usage":)" + good + "}", kT0).find("control_plane_bad"), std::string::npos);
  ASSERT_EQ(cp.usage().tokens.backend(0).answers, 1u) << "the well-formed part is taken";
  cp.drain_logs();
  for (const std::string bad : {
           std::string(R"([])"),
           std::string(R"({"backends":{"BACKEND_0":{"tokens":[1,1,2]}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"tokens":[1,1,2,-1]}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"tokens":[1,1,2,1.5]}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"tokens":[1,1,2,1e300]}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":3,"ewma":10,"buckets":[[160,1]]}}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":3,"ewma":10,"buckets":[[21,1],[20,1]]}}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":3,"ewma":10,"buckets":[[20,0]]}}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":1,"ewma":10,"buckets":[[20,2]]}}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":3,"ewma":-1,"buckets":[]}}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":3,"buckets":[]}}}})"),
           std::string(R"({"backends":{"BACKEND_0":{"firstByteMs":{"samples":99999,"ewma":1,"buckets":[[2,70000]]}}}})"),
           std::string(R"({"models":{"m":[1,1,2]}})"),
           R"({"models":{")" + std::string(2000, 'm') + R"(":[1,1,2,1]}})",
           std::string(R"({"keys":{"":[1,1,2,1]}})"),
           std::string(R"({"fallbacks":{"a -> b":-1}})"),
           std::string(R"({"fallbacks":[]})")}) {
    const std::string report = R"({"isolate":"i","backends":{"BACKEND_0":{"counts":[1,1,0,0,0]}},"usage":)" + bad + "}";
    cp.sync(report, kT0);
    EXPECT_NE(cp.drain_logs().find("control_plane_bad_report"), std::string::npos) << bad;
    RouterHarness h;
    start_isolate(h, 1);
    ASSERT_TRUE(h.router.sync_report(h.now));
    EXPECT_FALSE(h.router.sync_answer(R"({"now":1,"usage":)" + bad + "}", h.now)) << "an isolate refuses it too: " << bad;
  }
  EXPECT_EQ(cp.usage().tokens.backend(0).answers, 1u) << "nothing of a refused report is counted";
  EXPECT_EQ(cp.cluster()[0].counts[0], 0u) << "nor its counters";
}

TEST(ClusterUsage, SumsPastTheReadersBoundAreWrittenAtIt) {
  ControlPlane cp;
  start_control_plane(cp, 1, kT0);
  const std::string max = "9007199254740991";
  const std::string report = R"({"isolate":"i","backends":{"BACKEND_0":{"counts":[)" + max + R"(,1,0,0,0]}},"usage":{"backends":{"BACKEND_0":{"tokens":[)" + max + "," + max + "," + max + "," + max +
                             R"(],"totalMs":{"samples":)" + max + R"(,"ewma":1e10,"buckets":[[3,1]]}}},"fallbacks":{"a -> b":)" + max + "}}}";
  cp.sync(report, kT0);
  const std::string snapshot = cp.sync(report, kT0);
  ASSERT_EQ(cp.drain_logs().find("control_plane_bad_report"), std::string::npos);
  RouterHarness h;
  start_isolate(h, 1);
  ASSERT_TRUE(h.router.sync_report(h.now));
  ASSERT_TRUE(h.router.sync_answer(snapshot, h.now)) << "the cluster's sums stay readable";
  const json cluster = cluster_of(h);
  EXPECT_EQ(cluster["fallbacks"]["a -> b"], 9007199254740991ull);
  EXPECT_EQ(cluster_backend(cluster, "BACKEND_0")["latency"]["totalMs"]["samples"], 9007199254740991ull);
  EXPECT_EQ(cluster_backend(cluster, "BACKEND_0")["attempts"], 9007199254740991ull) << "counters too";
}

// Every bucket of both histograms of every backend filled: the largest usage a report or a
// snapshot can carry for these backends.
std::string widest_report(size_t backends) {
  std::string sketch = R"({"samples":20000000,"ewma":123.4,"buckets":[)";
  for (size_t b = 0; b < LatencySketch::kBuckets; ++b) sketch += (b ? ",[" : "[") + std::to_string(b) + ",65535]";
  sketch += "]}";
  std::string report = R"({"isolate":"i","usage":{"backends":{)";
  for (size_t i = 0; i < backends; ++i)
    report += (i ? ",\"BACKEND_" : "\"BACKEND_") + std::to_string(i) + R"(":{"tokens":[1000000000,1000000000,2000000000,1000000],"firstByteMs":)" +
              sketch + R"(,"totalMs":)" + sketch + "}";
  return report + "}}}";
}

TEST(ClusterUsage, ASnapshotOf300BackendsStaysWithinTheBounds) {
  ControlPlane cp;
  start_control_plane(cp, 300, kT0);
  const std::string report = widest_report(300);
  EXPECT_LT(report.size(), kMaxMessageBytes);
  const std::string snapshot = cp.sync(report, kT0);
  ASSERT_EQ(cp.drain_logs().find("control_plane_bad_report"), std::string::npos);
  EXPECT_EQ(cp.usage().first_byte[299].samples(), 20000000u);
  EXPECT_LT(snapshot.size(), kMaxSnapshotBytes);
  const std::optional<std::string> state = cp.persist(kT0);
  ASSERT_TRUE(state);
  EXPECT_LT(state->size(), kMaxSnapshotBytes) << "the stored state (with the catalog) too";
  ::testing::Test::RecordProperty("report_bytes_300_widest", std::to_string(report.size()));
  ::testing::Test::RecordProperty("snapshot_bytes_300_widest", std::to_string(snapshot.size()));
  std::cout << "300 backends, every bucket filled: report " << report.size() << " B, snapshot " << snapshot.size()
            << " B, stored state " << state->size() << " B\n";
  RouterHarness h;
  start_isolate(h, 300);
  ASSERT_TRUE(h.router.sync_report(h.now));
  EXPECT_TRUE(h.router.sync_answer(snapshot, h.now)) << "an isolate takes it";
}

}  // namespace
}  // namespace router::testing
