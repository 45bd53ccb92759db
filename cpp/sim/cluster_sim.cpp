#include "cluster_sim.hpp"

#include <algorithm>
#include <cmath>

namespace sim {

using namespace router;

namespace {
constexpr const char* kBody = R"({"model":"m","stream":false,"messages":[{"role":"user","content":"hi"}]})";
constexpr double kFailMs = 30;        // a down backend throws quickly
constexpr double kFlapPeriodMs = 20000;  // Flapping: down the first half of every period
uint64_t key(uint32_t i, uint32_t h) { return (uint64_t(i) << 32) | h; }
}  // namespace

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::Baseline: return "baseline";
    case Scenario::Down: return "down";
    case Scenario::RateLimited: return "rate-limited";
    case Scenario::Flapping: return "flapping";
    case Scenario::Slow: return "slow";
    case Scenario::FiveTimesSlower: return "slow-5x";
  }
  return "?";
}

ClusterSim::ClusterSim(const Options& opt, Scenario scenario, bool with_cp)
    : opt_(opt), scenario_(scenario), with_cp_(with_cp), isolates_(opt.isolates), rng_(opt.seed),
      known_bad_(opt.backends, false), cluster_streak_(opt.backends, 0), cooling_until_(opt.backends, 0), window_start_(opt.backends, 0),
      window_count_(opt.backends, 0) {
  std::vector<double> weights(opt.isolates);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / std::pow(double(i + 1), opt.skew);
  isolate_pick_ = std::discrete_distribution<uint32_t>(weights.begin(), weights.end());
  row_.scenario = scenario_name(scenario);
  row_.mode = with_cp ? "sync " + std::to_string(int(opt.sync_ms)) + " ms" : "local-only";
  row_.attempts.assign(opt.backends, 0);
}

std::string ClusterSim::configure_input(uint32_t isolate) const {
  std::string cfg = R"({\"controlPlane\":{\"syncIntervalMs\":)" + std::to_string(int(opt_.sync_ms)) + "}";
  if (opt_.cap_ms > 0) cfg += R"(,\"retry\":{\"retryAfterCapMs\":)" + std::to_string(int(opt_.cap_ms)) + "}";
  if (!opt_.strategy.empty()) cfg += R"(,\"strategy\":\")" + opt_.strategy + R"(\")";
  cfg += "}";
  std::string input = R"({"routerConfig":")" + cfg + R"(","envNames":[)";
  for (size_t b = 0; b < opt_.backends; ++b) input += (b ? ",\"BACKEND_" : "\"BACKEND_") + std::to_string(b) + "\"";
  if (with_cp_) input += R"(,"CONTROL_PLANE")";
  return input + R"(],"isolateId":"iso)" + std::to_string(isolate) + "\"}";
}

std::string ClusterSim::describe_answers() const {
  std::string answers = "{";
  for (size_t b = 0; b < opt_.backends; ++b)
    answers += (b ? ",\"BACKEND_" : "\"BACKEND_") + std::to_string(b) + R"(":{"name":"b)" + std::to_string(b) +
               R"(","models":["m"]})";
  return answers + "}";
}

// Isolates start on their first request, as Cloudflare starts them, each with the catalog described.
void ClusterSim::start_isolate(uint32_t i) {
  Isolate& iso = isolates_[i];
  iso.router = std::make_unique<Router>();
  std::string out;
  iso.router->configure(configure_input(i), t0_, out);
  iso.router->describe(describe_answers(), t0_);
}

void ClusterSim::push(Event e) {
  e.order = order_++;
  queue_.push(std::move(e));
}

uint32_t ClusterSim::pick_isolate() { return isolate_pick_(rng_); }

Row ClusterSim::run() {
  if (with_cp_) {
    std::string out;
    cp_.configure(configure_input(0), t0_, out);
    cp_.describe(describe_answers(), t0_);
  }
  std::exponential_distribution<double> gap(opt_.rps / 1000.0);
  const double end = t0_ + opt_.seconds * 1000;
  for (double t = t0_ + gap(rng_); t < end; t += gap(rng_)) push({t, 0, Kind::Arrival, pick_isolate(), 0, {}, 0, 0, {}});
  while (!queue_.empty()) {
    Event e = queue_.top();
    queue_.pop();
    Isolate& iso = isolates_[e.isolate];
    if (!iso.router) start_isolate(e.isolate);
    if (e.kind == Kind::Arrival) {
      uint32_t h = iso.next_handle++;
      start_of_[key(e.isolate, h)] = e.at;
      RequestHead head{"POST", "/v1/chat/completions", "application/json", "", "", "", ""};
      Action a = iso.router->begin(h, head, e.at, order_, order_ * 0x9E3779B97F4A7C15ULL);
      if (kind(a) == ActionKind::ReadBody) a = iso.router->exchange(h)->body(kBody, BodyRead::Complete, e.at);
      act(e.isolate, h, a, e.at);
    } else if (e.kind == Kind::CallDone) {
      call_done(e);
    } else if (e.kind == Kind::Resume) {
      act(e.isolate, e.handle, iso.router->exchange(e.handle)->resume(e.at), e.at);
    } else {
      iso.syncing = false;
      iso.router->sync_answer(e.text, e.at);
    }
  }
  return row_;
}

void ClusterSim::act(uint32_t i, uint32_t handle, const Action& a, double now) {
  Router& r = *isolates_[i].router;
  switch (kind(a)) {
    case ActionKind::Call: return call(i, handle, std::get<Call>(a), now);
    case ActionKind::Wait: return push({std::get<Wait>(a).until, 0, Kind::Resume, i, handle, {}, 0, 0, {}});
    case ActionKind::Discover:
      r.describe(describe_answers(), now);
      return act(i, handle, r.exchange(handle)->resume(now), now);
    case ActionKind::Forward: return finish(i, handle, std::get<Forward>(a).status < 400, now);
    case ActionKind::Reply: return finish(i, handle, std::get<Reply>(a).status < 400, now);
    default: return finish(i, handle, false, now);
  }
}

bool ClusterSim::backend_down(uint32_t b, double now) const {
  if (b != 0) return false;
  if (scenario_ == Scenario::Down) return true;
  return scenario_ == Scenario::Flapping && std::fmod(now - t0_, kFlapPeriodMs) < kFlapPeriodMs / 2;
}

// Log-normal latencies: median 300 ms; the slow backend's median is 4 s (the per-try timeout is
// 30 s by default, so only its tail times out; see the doc); slow-5x's is 1.5 s (none times out).
double ClusterSim::draw_latency(uint32_t b) {
  double median = 300;
  if (b == 0 && scenario_ == Scenario::Slow) median = 4000;
  if (b == 0 && scenario_ == Scenario::FiveTimesSlower) median = 5 * 300;
  std::lognormal_distribution<double> d(std::log(median), scenario_ == Scenario::Slow && b == 0 ? 1.5 : 0.5);
  return d(rng_);
}

void ClusterSim::call(uint32_t i, uint32_t handle, const Call& c, double now) {
  const uint32_t b = c.backend;
  if (b < row_.attempts.size()) ++row_.attempts[b];
  Event e{now, 0, Kind::CallDone, i, handle, AttemptOutcome::Answered, 200, b, {}};
  if (backend_down(b, now)) {
    e.at = now + kFailMs;
    e.outcome = AttemptOutcome::Threw;
  } else if (scenario_ == Scenario::RateLimited && b == 0) {
    if (now - window_start_[b] >= 60000) window_start_[b] = now, window_count_[b] = 0;
    if (++window_count_[b] > opt_.quota_per_min) {
      e.at = now + kFailMs;
      e.status = 429;
      e.text = std::to_string(int(std::ceil((window_start_[b] + 60000 - now) / 1000)));
    }
  }
  if (e.at == now) {
    const double latency = draw_latency(b);
    e.at = now + std::min(latency, c.timeout_ms);
    if (latency > c.timeout_ms) e.outcome = AttemptOutcome::TimedOut;
  }
  push(std::move(e));
}

void ClusterSim::call_done(const Event& e) {
  Router& r = *isolates_[e.isolate].router;
  const bool failed = e.outcome != AttemptOutcome::Answered || e.status >= 400;
  double cooldown = e.status == 429 ? std::stod(e.text) * 1000 : -1;
  note_attempt(e.isolate, e.backend, failed, e.at, cooldown);
  Exchange* x = r.exchange(e.handle);
  act(e.isolate, e.handle, x->outcome(e.outcome, e.status, AnswerBody::Json, e.text, "", e.at), e.at);
}

// Ground truth for "wasted": the failed attempt went to a backend the cluster had already found
// bad: the cluster's attempts on it (all isolates, in time order) had failed consecutiveFailures
// times in a row with no success since, or some isolate got a 429 whose Retry-After has not run out.
void ClusterSim::note_attempt(uint32_t i, uint32_t b, bool failed, double now, double cooldown_ms) {
  if (!failed) {
    known_bad_[b] = false;
    cluster_streak_[b] = 0;
    return;
  }
  ++row_.failed_attempts;
  if (known_bad_[b] || now < cooling_until_[b]) ++row_.wasted_attempts;
  const int limit = int(isolates_[i].router->config().health.consecutive_failures);
  if (++cluster_streak_[b] >= limit) known_bad_[b] = true;
  if (cooldown_ms >= 0) cooling_until_[b] = std::max(cooling_until_[b], now + cooldown_ms);
}

void ClusterSim::finish(uint32_t i, uint32_t handle, bool ok, double now) {
  Router& r = *isolates_[i].router;
  bool found = false;
  r.end(handle, EndHow::Completed, "", now, found);
  auto it = start_of_.find(key(i, handle));
  row_.latencies.push_back(now - it->second);
  start_of_.erase(it);
  ++row_.requests;
  if (!ok) ++row_.client_errors;
  const std::string logs = r.drain_logs();
  for (size_t p = logs.find("backend_ejected"); p != std::string::npos; p = logs.find("backend_ejected", p + 1))
    if (logs.compare(p, 26, "backend_ejected_by_cluster") != 0) ++row_.ejections;
  maybe_sync(i, now);
}

// The sync RPC: the object merges the report half a round trip later, the answer arrives a whole
// round trip later (the object itself is modelled as instantaneous).
void ClusterSim::maybe_sync(uint32_t i, double now) {
  Isolate& iso = isolates_[i];
  if (!with_cp_ || iso.syncing) return;
  auto request = iso.router->sync_report(now);
  if (!request) return;
  iso.syncing = true;
  std::string snapshot = cp_.sync(request->report, now + opt_.rpc_ms / 2);
  ++row_.syncs;
  row_.report_bytes_sum += double(request->report.size());
  row_.report_bytes_max = std::max(row_.report_bytes_max, double(request->report.size()));
  row_.snapshot_bytes_sum += double(snapshot.size());
  row_.snapshot_bytes_max = std::max(row_.snapshot_bytes_max, double(snapshot.size()));
  push({now + opt_.rpc_ms, 0, Kind::SyncDone, i, 0, {}, 0, 0, std::move(snapshot)});
}

}  // namespace sim
