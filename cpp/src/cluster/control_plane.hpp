// ControlPlane: the core of the control-plane Durable Object (docs/control-plane.md). It merges
// what isolates report (ejections by the latest end and highest count, within the cluster-wide
// max-ejection-percent; cooldowns by the latest end; counters added; failures in a row across
// isolates eject as one isolate's would; tokens, latency histograms and fallbacks added up into
// the cluster's usage), answers each with a compact
// snapshot, discovers backends itself (describe() in batches its alarm performs) and hands the
// catalog to isolates whose version is older. Sans-I/O like the Router: the Durable Object's JS
// carries bytes, storage and describe() calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_messages.hpp"
#include "cluster/cluster_usage.hpp"
#include "routing/router.hpp"

namespace router {

class ControlPlane {
 public:
  // describe() calls per alarm invocation: under Cloudflare's 32 Workers per invocation.
  static constexpr size_t kMaxDescribePerInvocation = 25;
  // An isolate counts as live this long after its last report.
  static constexpr double kIsolateWindowMs = 10000;
  // Changed state is written to storage at most this often.
  static constexpr double kPersistEveryMs = 1000;
  static constexpr size_t kMaxIsolates = 100000;

  // Input as Router::configure's (envNames, routerConfig): the backends and the policy. The output
  // is Router::configure's plus "describeTimeoutMs", the bound of each describe() the alarm makes.
  int configure(std::string_view input, double now, std::string& output);
  // Merges one isolate's report (a malformed one is logged and ignored) and answers its snapshot.
  std::string sync(std::string_view report, double now);
  // Bindings to describe() now (at most kMaxDescribePerInvocation).
  std::vector<std::string> discovery(double now);
  // describe() answers, {binding: answer}: 0, or -1 when malformed.
  int describe(std::string_view answers, double now);
  // The state persist() wrote: false when malformed (then nothing changes).
  bool restore(std::string_view state, double now);
  // The state to store (health, counters, catalog) when it changed and was not stored in the last
  // kPersistEveryMs.
  std::optional<std::string> persist(double now);
  // When the Durable Object's alarm should fire next (epoch ms); 0: nothing to do.
  double next_alarm(double now) const;
  std::string drain_logs() { return catalog_.drain_logs(); }

  const std::vector<BackendClaim>& cluster() const { return cluster_; }
  // Tokens, latency and fallbacks over every isolate's reports (backends as catalog's list).
  const ClusterUsage& usage() const { return usage_; }
  uint64_t catalog_version() const { return catalog_version_; }

 private:
  void merge_claim(size_t i, const BackendClaim& claim, const std::string& isolate, double now);
  void count_streak(size_t i, const BackendClaim& claim, double now);
  // Ejects backend i until then, unless it already is for longer or the cluster-wide
  // max-ejection-percent forbids; true when it did.
  bool eject(size_t i, double until, double now);
  void note_isolate(const std::string& id, double now);
  void bump_catalog_version();
  std::string snapshot(bool with_catalog, const std::string& isolate, double now) const;
  size_t ejected_count(double now) const;

  // After a 429 cooldown ends, the isolate that saw the 429 probes the backend first; the others
  // hold off `kProbeIntervals` sync intervals longer, so a rate-limited upstream is not hit by
  // the whole cluster each time its (capped) cooldown ends. A success reported ends the hold.
  struct Probe {
    std::string isolate;  // who probes; "" when no hold is in force
    double hold_until = 0;
  };
  static constexpr double kProbeIntervals = 2;
  void start_probe(size_t i, const std::string& isolate, double cooldown_until);

  Router catalog_;  // the configuration and discovery, exactly as an isolate keeps them
  std::vector<Probe> probes_;
  std::vector<BackendClaim> cluster_;
  ClusterUsage usage_;
  std::vector<std::string> catalog_text_;  // each backend's description as last handed out
  std::map<std::string, double> isolates_;  // id -> last report
  double isolates_pruned_at_ = 0;
  uint64_t catalog_version_ = 0;
  bool dirty_ = false;
  double persisted_at_ = -1;
};

}  // namespace router
