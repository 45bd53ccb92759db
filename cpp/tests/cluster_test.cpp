// The control plane (docs/control-plane.md): isolates (Routers driven by RouterHarness) syncing
// through one ControlPlane, with a fake clock. What one isolate learns, the others avoid after one
// sync; what the control plane is away, each isolate works alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/control_plane.hpp"
#include "cluster_harness.hpp"
#include "router_harness.hpp"

namespace router::testing {
namespace {

TEST(ClusterSync, WithoutTheBindingThereIsNoSyncAndStatusSaysAbsent) {
  RouterHarness h;
  h.backends(2);
  EXPECT_FALSE(h.router.sync_report(h.now));
  EXPECT_NE(h.router.status_json(h.now).find(R"("cluster":{"controlPlane":"absent")"), std::string::npos);
}

TEST(ClusterSync, OnlyTheFirstSyncMayWaitAndSyncsKeepTheirInterval) {
  RouterHarness h;
  ControlPlane cp;
  start_isolate(h, 2);
  start_control_plane(cp, 2, h.now);
  auto first = h.router.sync_report(h.now);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->wait_ms, 50);
  EXPECT_EQ(first->timeout_ms, 1000);
  EXPECT_FALSE(h.router.sync_report(h.now + 10)) << "one sync in flight at a time";
  h.router.sync_answer(cp.sync(first->report, h.now), h.now);
  h.now += 999;
  EXPECT_FALSE(h.router.sync_report(h.now)) << "not before syncIntervalMs";
  h.now += 1;
  auto second = h.router.sync_report(h.now);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->wait_ms, 0);
}

TEST(ClusterSync, AnEjectionHereMakesASyncDueAtOnce) {
  RouterHarness h;
  ControlPlane cp;
  start_isolate(h, 3);
  start_control_plane(cp, 3, h.now);
  ASSERT_TRUE(sync(h, cp));
  h.now += 10;
  EXPECT_FALSE(h.router.sync_report(h.now));
  h.eject_backend_0();
  auto request = h.router.sync_report(h.now);
  ASSERT_TRUE(request) << "news do not wait for syncIntervalMs";
  EXPECT_NE(request->report.find(R"("BACKEND_0":{"counts")"), std::string::npos);
  EXPECT_TRUE(h.router.sync_answer(cp.sync(request->report, h.now), h.now));
  EXPECT_FALSE(h.router.sync_report(h.now + 10)) << "and only once";
}

TEST(ClusterSync, DiscoveryLeavesOneInvocationForTheSync) {
  RouterHarness clustered;
  std::vector<std::string> env{"CONTROL_PLANE"};
  for (int i = 0; i < 100; ++i) env.push_back("BACKEND_" + std::to_string(i));
  clustered.configure(env);
  EXPECT_EQ(clustered.router.discovery_batch(clustered.now).size(), Router::kMaxWorkerInvocations - 3 - 1)
      << "3 attempts and the sync RPC: 32 Workers at most";
}

TEST(ClusterSync, ASyncThatNeverAnswersIsGivenUpAfterItsTimeout) {
  RouterHarness h;
  start_isolate(h, 1);
  ASSERT_TRUE(h.router.sync_report(h.now));
  h.now += 999;
  EXPECT_FALSE(h.router.sync_report(h.now));
  h.now += 1;
  EXPECT_TRUE(h.router.sync_report(h.now));
}

TEST(ClusterSync, ABackendOneIsolateEjectsIsAvoidedByAnotherAfterOneSync) {
  RouterHarness a, b;
  ControlPlane cp;
  start_isolate(a, 3);
  start_isolate(b, 3);
  start_control_plane(cp, 3, a.now);
  ASSERT_TRUE(sync(b, cp));
  a.eject_backend_0();
  ASSERT_TRUE(sync(a, cp));
  b.now = a.now += 1000;
  ASSERT_TRUE(sync(b, cp));
  EXPECT_EQ(b.router.health().state(0, b.now), BackendState::Ejected);
  for (int i = 0; i < 20; ++i) EXPECT_NE(b.serve_one(), 0u) << "request " << i;
  EXPECT_EQ(b.router.health()[0].attempts, 0u) << "B never called the ejected backend";
  EXPECT_NE(b.router.status_json(b.now).find(R"({"binding":"BACKEND_0","state":"ejected")"), std::string::npos);
}

TEST(ClusterSync, A429CooldownOneIsolateSawIsKeptByAnother) {
  RouterHarness a, b;
  ControlPlane cp;
  start_isolate(a, 2);
  start_isolate(b, 2);
  start_control_plane(cp, 2, a.now);
  for (bool limited = false; !limited;) {
    auto [e, call] = a.post(chat_body());
    limited = backend_of(call) == 0;
    a.answered(e, limited ? 429 : 200, limited ? "5" : "");
    a.end(e);
  }
  ASSERT_TRUE(sync(a, cp));
  ASSERT_TRUE(sync(b, cp));
  EXPECT_EQ(b.router.health().state(0, b.now), BackendState::Cooldown);
  EXPECT_EQ(b.router.health().until(0), a.now + 5000);
  b.now += 5000;
  EXPECT_EQ(b.router.health().state(0, b.now), BackendState::Healthy) << "a cooldown ends by itself";
}

TEST(ClusterSync, ReportsCarryDeltasAndAFailedSyncKeepsThem) {
  RouterHarness h;
  ControlPlane cp;
  start_isolate(h, 1);
  start_control_plane(cp, 1, h.now);
  for (int i = 0; i < 3; ++i) h.serve_one();
  auto lost = h.router.sync_report(h.now);
  ASSERT_TRUE(lost);
  EXPECT_NE(lost->report.find(R"("counts":[3,3,0,0,0])"), std::string::npos) << lost->report;
  h.router.sync_failed(h.now);
  h.serve_one();
  h.now += 1000;
  auto next = h.router.sync_report(h.now);
  ASSERT_TRUE(next);
  EXPECT_NE(next->report.find(R"("counts":[4,4,0,0,0])"), std::string::npos) << next->report;
  ASSERT_TRUE(h.router.sync_answer(cp.sync(next->report, h.now), h.now));
  h.now += 1000;
  EXPECT_EQ(h.router.sync_report(h.now)->report.find("counts"), std::string::npos) << "acknowledged deltas are not sent again";
  EXPECT_EQ(cp.cluster()[0].counts[0], 4u);
}

TEST(ClusterSync, AnUnreachableControlPlaneIsLoggedOncePerIntervalAndShownInStatus) {
  RouterHarness h;
  start_isolate(h, 1);
  h.router.drain_logs();
  for (int i = 0; i < 4; ++i, h.now += 400) {
    if (h.router.sync_report(h.now)) h.router.sync_failed(h.now);
  }
  std::string logs = h.router.drain_logs();
  size_t count = 0;
  for (size_t at = logs.find("control_plane_unreachable"); at != std::string::npos; at = logs.find("control_plane_unreachable", at + 1)) count++;
  EXPECT_EQ(count, 2u) << logs;  // at 0 and 1200 ms: never twice within syncIntervalMs
  EXPECT_NE(h.router.status_json(h.now).find(R"("controlPlane":"unreachable")"), std::string::npos);
  EXPECT_EQ(h.serve_one(), 0u) << "requests go on as without a control plane";
}

TEST(ClusterSync, ANewIsolateTakesTheCatalogAndDoesNotDescribeWhileSyncsSucceed) {
  RouterHarness h;
  ControlPlane cp;
  start_control_plane(cp, 2, h.now);
  start_isolate(h, 2, /*describe=*/false);
  ASSERT_TRUE(sync(h, cp));
  EXPECT_EQ(h.router.cluster().catalog_version(), cp.catalog_version());
  auto [e, first] = h.post(chat_body());
  EXPECT_EQ(kind(first), ActionKind::Call) << "no discovery: the catalog described every backend";
  h.answered(e, 200);
  h.end(e);
  for (int s = 0; s < 70; ++s) {  // 70 s of syncs: past the 60 s TTL, still nothing to describe
    h.now += 1000;
    ASSERT_TRUE(sync(h, cp));
  }
  EXPECT_TRUE(h.router.discovery_batch(h.now).empty());
}

TEST(ClusterSync, OwnDiscoveryResumesWhenTheControlPlaneIsAwayLongerThanTheTtl) {
  RouterHarness h;
  ControlPlane cp;
  start_control_plane(cp, 2, h.now);
  start_isolate(h, 2, /*describe=*/false);
  ASSERT_TRUE(sync(h, cp));
  h.now += 59000;
  EXPECT_TRUE(h.router.discovery_batch(h.now).empty());
  h.now += 1000;
  EXPECT_EQ(h.router.discovery_batch(h.now).size(), 2u);
}

TEST(ClusterSync, AMalformedSnapshotCountsAsAFailedSync) {
  RouterHarness h;
  start_isolate(h, 1);
  for (const char* bad : {"", "nope", "[]", R"({"backends":{"BACKEND_0":{"ejectedUntil":-5}}})",
                          R"({"backends":{"BACKEND_0":{"counts":[1,2]}}})", R"({"catalog":[]})"}) {
    h.now += 1000;
    ASSERT_TRUE(h.router.sync_report(h.now));
    EXPECT_FALSE(h.router.sync_answer(bad, h.now)) << bad;
    EXPECT_EQ(h.router.cluster().state(), ControlPlaneState::Unreachable);
  }
  EXPECT_EQ(h.router.health().state(0, h.now), BackendState::Healthy);
}

TEST(ClusterSync, AClaimBeyondTheCapsIsHeldToThem) {
  RouterHarness h;
  start_isolate(h, 4);
  ASSERT_TRUE(h.router.sync_report(h.now));
  const std::string snapshot = R"({"backends":{"BACKEND_0":{"ejectedUntil":1e14,"timesEjected":3},"BACKEND_9":{"ejectedUntil":1e14}}})";
  ASSERT_TRUE(h.router.sync_answer(snapshot, h.now));
  EXPECT_EQ(h.router.health().until(0), h.now + 300000) << "health.maxEjectionMs";
  EXPECT_EQ(h.router.health()[0].times_ejected, 3u);
}

TEST(ControlPlane, EjectionsMergeByTheLatestEndWithinTheClusterWideMaxPercent) {
  ControlPlane cp;
  start_control_plane(cp, 2, kT0);
  auto report = [&](const char* backends) {
    return cp.sync(std::string(R"({"isolate":"i","catalogVersion":99,"backends":)") + backends + "}", kT0);
  };
  report(R"({"BACKEND_0":{"ejectedUntil":1700000030000,"timesEjected":1}})");
  report(R"({"BACKEND_0":{"ejectedUntil":1700000010000,"timesEjected":2}})");
  EXPECT_EQ(cp.cluster()[0].ejected_until, kT0 + 30000) << "the latest end wins";
  EXPECT_EQ(cp.cluster()[0].times_ejected, 2u) << "the highest count wins";
  const std::string snapshot = report(R"({"BACKEND_1":{"ejectedUntil":1700000030000,"timesEjected":1}})");
  EXPECT_EQ(cp.cluster()[1].ejected_until, 0) << "at most 50% of the backends ejected";
  EXPECT_EQ(snapshot.find("catalog\":"), std::string::npos) << "an isolate with a newer catalog version gets none";
}

TEST(ControlPlane, FailuresInARowAcrossIsolatesEjectAsOneIsolatesWould) {
  ControlPlane cp;
  start_control_plane(cp, 4, kT0);
  auto report = [&](const std::string& isolate, const char* entry) {
    cp.sync(R"({"isolate":")" + isolate + R"(","backends":{"BACKEND_0":)" + entry + "}}", kT0);
  };
  for (int i = 0; i < 4; ++i) report("i" + std::to_string(i), R"({"counts":[1,0,1,0,0],"streak":1})");
  report("ok", R"({"counts":[3,2,1,0,0],"streak":1})");  // a success elsewhere: the streak starts over at 1
  EXPECT_EQ(cp.cluster()[0].ejected_until, 0) << "5 failures, but not in a row";
  for (int i = 0; i < 3; ++i) report("j" + std::to_string(i), R"({"counts":[1,0,1,0,0],"streak":1})");
  EXPECT_EQ(cp.cluster()[0].ejected_until, 0);
  report("k", R"({"counts":[1,0,1,0,0],"streak":1})");
  EXPECT_EQ(cp.cluster()[0].ejected_until, kT0 + 30000) << "health.baseEjectionMs x 1";
  EXPECT_EQ(cp.cluster()[0].times_ejected, 1u);
  EXPECT_NE(cp.drain_logs().find("cluster_ejected"), std::string::npos);
}

TEST(ControlPlane, AfterACooldownTheIsolateThatSawThe429ProbesFirst) {
  ControlPlane cp;
  start_control_plane(cp, 2, kT0);
  auto sync_from = [&](const std::string& isolate, const std::string& entry, double now) {
    const std::string snapshot = cp.sync(R"({"isolate":")" + isolate + R"(","catalogVersion":99,"backends":{"BACKEND_0":)" + entry + "}}", now);
    const size_t at = snapshot.find("cooldownUntil\":");
    return at == std::string::npos ? 0.0 : std::stod(snapshot.substr(at + 15));
  };
  EXPECT_EQ(sync_from("a", R"({"counts":[1,0,0,1,0],"cooldownUntil":1700000005000})", kT0), kT0 + 5000);
  EXPECT_EQ(sync_from("b", "{}", kT0), kT0 + 5000 + 2000) << "the others hold off two sync intervals longer";
  EXPECT_EQ(sync_from("a", "{}", kT0 + 5000), 0) << "a probes when the cooldown ends";
  EXPECT_EQ(sync_from("b", "{}", kT0 + 5000), kT0 + 7000);
  sync_from("a", R"({"counts":[1,1,0,0,0]})", kT0 + 5500);
  EXPECT_EQ(sync_from("b", "{}", kT0 + 5600), 0) << "the probe succeeded: the hold is over";
}

TEST(ControlPlane, AMalformedReportIsIgnoredAndStillAnswered) {
  ControlPlane cp;
  start_control_plane(cp, 1, kT0);
  for (const std::string bad : {std::string("x"), std::string(R"({"isolate":7})"), R"({"isolate":")" + std::string(65, 'i') + "\"}",
                                std::string(R"({"isolate":"i","backends":{"BACKEND_0":{"counts":[1,1,1,1,-1]}}})"),
                                std::string(R"({"isolate":"i","backends":{"BACKEND_0":{"timesEjected":1e9}}})")}) {
    EXPECT_EQ(cp.sync(bad, kT0).rfind(R"({"now":)", 0), 0u) << bad;
  }
  EXPECT_EQ(cp.cluster()[0].counts[0], 0u);
  EXPECT_NE(cp.drain_logs().find("control_plane_bad_report"), std::string::npos);
}

TEST(ControlPlane, StateSurvivesARestartThroughPersistAndRestore) {
  ControlPlane cp;
  start_control_plane(cp, 2, kT0);
  cp.sync(R"({"isolate":"i","backends":{"BACKEND_1":{"counts":[5,3,2,0,0],"ejectedUntil":1700000030000,"timesEjected":1}}})", kT0);
  auto state = cp.persist(kT0);
  ASSERT_TRUE(state);
  EXPECT_FALSE(cp.persist(kT0 + 10)) << "at most once per kPersistEveryMs";
  ControlPlane again;
  std::string out;
  ASSERT_EQ(again.configure(configure_input(2), kT0 + 5000, out), 0);
  ASSERT_TRUE(again.restore(*state, kT0 + 5000));
  EXPECT_EQ(again.cluster()[1].ejected_until, kT0 + 30000);
  EXPECT_EQ(again.cluster()[1].counts[0], 5u);
  EXPECT_GT(again.catalog_version(), cp.catalog_version()) << "every isolate takes the catalog again";
  RouterHarness h;
  start_isolate(h, 2, /*describe=*/false);
  h.now = kT0 + 5000;
  ASSERT_TRUE(sync(h, again));
  EXPECT_TRUE(h.router.backends().has_description(0));
  EXPECT_EQ(h.router.health().state(1, h.now), BackendState::Ejected);
  EXPECT_FALSE(again.restore("{not json", kT0));
}

TEST(ControlPlane, DiscoversInBatchesOfAtMost25AndSchedulesItsAlarm) {
  ControlPlane cp;
  std::string out;
  ASSERT_EQ(cp.configure(configure_input(100), kT0, out), 0);
  EXPECT_EQ(cp.next_alarm(kT0), kT0) << "nothing described yet: due now";
  size_t total = 0;
  for (int round = 0; round < 4; ++round) {
    auto batch = cp.discovery(kT0);
    EXPECT_EQ(batch.size(), 25u);
    total += batch.size();
  }
  EXPECT_EQ(total, 100u);
  EXPECT_TRUE(cp.discovery(kT0).empty());
  EXPECT_EQ(cp.next_alarm(kT0), kT0) << "its new catalog version is not stored yet";
  ASSERT_TRUE(cp.persist(kT0));
  EXPECT_EQ(cp.next_alarm(kT0), kT0 + 5000 + BackendSet::kLostDescribeGraceMs) << "then: when the batches handed out time out";
}

TEST(ControlPlane, ANewListOfBackendsStartsTheirStateOver) {
  ControlPlane cp;
  start_control_plane(cp, 2, kT0);
  cp.sync(R"({"isolate":"i","backends":{"BACKEND_0":{"counts":[1,1,0,0,0]}}})", kT0);
  std::string out;
  ASSERT_EQ(cp.configure(R"({"envNames":["BACKEND_0","BACKEND_X"]})", kT0, out), 0);
  EXPECT_EQ(cp.cluster()[1].binding, "BACKEND_X");
  EXPECT_EQ(cp.cluster()[0].counts[0], 0u);
}

}  // namespace
}  // namespace router::testing
