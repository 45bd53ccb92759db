#include "routing/router.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "json/json_tree.hpp"
#include "json/json_writer.hpp"
#include "api/openai_error.hpp"

namespace router {

namespace {
// The configure request is flat: {"routerConfig": "...", "apiKeyHashes": [...], ...}.
constexpr uint32_t kMaxInputDepth = 16;

const char* state_name(BackendState s) {
  switch (s) {
    case BackendState::Ejected: return "ejected";
    case BackendState::Cooldown: return "cooldown";
    default: return "healthy";
  }
}
}  // namespace

Router::Router() : retry_policy_(RetryConfig{}, TimeoutConfig{}), health_(HealthConfig{}, &logs_) {}
Router::~Router() = default;

namespace {
// The configure request's fields (docs/architecture.md, rt_router_configure), checked for type.
struct ConfigureInput {
  const JsonValue* raw_config = nullptr;  // a string, or absent/null
  const JsonValue* admin_hash = nullptr;  // a string, or absent/null
  const JsonValue* isolate_id = nullptr;  // a string, or absent/null: names this isolate to the control plane
  bool keys_set = false;                  // apiKeysSet: ROUTER_API_KEYS exists
  std::vector<std::string> hashes, names;
  DashboardFiles dashboard;               // dashboardPage, dashboardScript, dashboardStyle: strings, or absent
};

// The status page's files; false when one is there but not a string.
template <typename Field>
bool read_dashboard_files(const Field& field, DashboardFiles& out) {
  const std::pair<const char*, std::string*> files[] = {
      {"dashboardPage", &out.page}, {"dashboardScript", &out.script}, {"dashboardStyle", &out.style}};
  for (const auto& [name, text] : files) {
    const JsonValue* value = field(name);
    if (value && !value->is_string()) return false;
    if (value) *text = value->string();
  }
  return true;
}

// False when `in` is not the expected JSON (then configure answers -1 and changes nothing).
bool read_configure_input(const JsonValue& in, ConfigureInput& out) {
  if (!in.is_object()) return false;
  auto field = [&](const char* name) -> const JsonValue* {
    const JsonValue* value = in.find(name);
    return value == nullptr || value->is_null() ? nullptr : value;
  };
  out.raw_config = field("routerConfig");
  out.admin_hash = field("adminKeyHash");
  out.isolate_id = field("isolateId");
  const JsonValue* key_hashes = field("apiKeyHashes");
  const JsonValue* env_names = field("envNames");
  const JsonValue* keys_set = field("apiKeysSet");
  if ((out.raw_config && !out.raw_config->is_string()) || (out.admin_hash && !out.admin_hash->is_string()) ||
      (out.isolate_id && !out.isolate_id->is_string()) ||
      (key_hashes && !key_hashes->is_array()) || (env_names && !env_names->is_array()) ||
      (keys_set && !keys_set->is_boolean()))
    return false;
  for (const JsonValue* list : {key_hashes, env_names}) {
    if (!list) continue;
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (!list->item(i).is_string()) return false;
      (list == key_hashes ? out.hashes : out.names).push_back(list->item(i).string());
    }
  }
  out.keys_set = keys_set && keys_set->boolean();
  return read_dashboard_files(field, out.dashboard);
}
}  // namespace

int Router::configure(std::string_view input, double now, std::string& output) {
  (void)now;
  const JsonParse parsed_input = parse_json(input, kMaxInputDepth);
  ConfigureInput in;
  if (!parsed_input.ok || !read_configure_input(parsed_input.root, in)) return -1;

  std::vector<std::string> warnings;
  // Keys set but none usable (",", blanks) must not leave the router open: fail closed.
  const bool keys_unusable = in.keys_set && in.hashes.empty();
  const std::string error_object =
      apply_policy(in.raw_config ? std::string_view(in.raw_config->string()) : std::string_view(), keys_unusable);
  apply_keys(in.hashes, in.admin_hash ? &in.admin_hash->string() : nullptr, keys_unusable, warnings);
  apply_bindings(in.names, warnings);
  dashboard_ = std::move(in.dashboard);
  health_.set_config(config_.health);
  balancer_.set_strategy(config_.strategy);
  budget_.configure(config_.retry.budget_percent, config_.retry.budget_min_retries);
  retry_policy_ = RetryPolicy(config_.retry, config_.timeouts);
  const bool control_plane = std::find(in.names.begin(), in.names.end(), ClusterSync::kBinding) != in.names.end();
  cluster_.configure(control_plane, config_.control_plane, in.isolate_id ? in.isolate_id->string() : "");
  configured_ = true;

  JsonWriter w;
  w.begin_object().key("backends").strings(backends_.bindings());
  // authRequired tells the shim to send the Authorization hash: some path (maybe only /status) needs it.
  w.key("authRequired").value(api_keys_.required() || admin_key_hash_.has_value()).key("warnings").strings(warnings);
  if (!error_object.empty()) w.key("error").raw(error_object);
  output = w.end_object().take();
  return 0;
}

void Router::apply_keys(const std::vector<std::string>& hashes, const std::string* admin_hash, bool keys_unusable,
                        std::vector<std::string>& warnings) {
  api_keys_.set(hashes);
  admin_key_hash_.reset();
  if (admin_hash) admin_key_hash_ = normalize_sha256_hex(*admin_hash);
  if (!api_keys_.required() && !keys_unusable) {
    const char* text = "no API keys configured: the router accepts requests from anyone";
    warnings.push_back(text);
    logs_.add("warn", "no_api_keys", {{"message", text}});
  }
}

void Router::apply_bindings(const std::vector<std::string>& names, std::vector<std::string>& warnings) {
  rate_limiting_ = std::find(names.begin(), names.end(), kRateLimiterBinding) != names.end();
  analytics_ = std::find(names.begin(), names.end(), kAnalyticsBinding) != names.end();
  if (backends_.set_bindings(names)) {
    health_.reset(backends_.bindings());
    usage_.reset(backends_.size());
    balancer_.reset(backends_.size());
    cluster_.reset(backends_.size());
    catalog_covers_.assign(backends_.size(), false);
  }
  backends_.apply_overrides(config_);
  for (const auto& [binding, override_] : config_.backends) {
    auto bindings = backends_.bindings();
    if (std::find(bindings.begin(), bindings.end(), binding) == bindings.end()) {
      std::string text = "ROUTER_CONFIG.backends." + binding + " names no BACKEND_ binding";
      warnings.push_back(text);
      logs_.add("warn", "unknown_backend_override", {{"backend", binding}});
    }
  }
  if (backends_.size() == 0) {
    const char* text = "no BACKEND_* bindings: every routed request will answer 503";
    warnings.push_back(text);
    logs_.add("warn", "no_backends", {{"message", text}});
  }
}

std::string Router::apply_policy(std::string_view raw_config, bool keys_unusable) {
  ConfigResult parsed = parse_router_config(raw_config);
  std::string error_object;
  if (parsed.error) {
    error_object = openai_error_object(parsed.error->message, "server_error", parsed.error->field, "invalid_router_config");
    logs_.add("error", "invalid_router_config", {{"field", parsed.error->field}, {"message", parsed.error->message}});
    config_ = RouterConfig{};  // requests answer 500 anyway; keep defaults for /status internals
  } else {
    config_ = std::move(*parsed.config);
    if (keys_unusable) {
      const char* text = "ROUTER_API_KEYS is set but holds no usable key (comma-separated keys, blanks ignored); "
                         "every /v1 request is refused until it is fixed";
      error_object = openai_error_object(text, "server_error", "ROUTER_API_KEYS", "invalid_api_keys");
      logs_.add("error", "invalid_api_keys", {{"message", text}});
    }
  }
  config_error_body_ = error_object.empty() ? std::string() : R"({"error":)" + error_object + "}";
  return error_object;
}

int Router::describe(std::string_view answers, double now, std::string* accepted) {
  std::vector<std::string> errors, taken;
  if (!backends_.apply_descriptions(answers, config_, now, errors, taken)) return -1;
  for (const auto& e : errors) logs_.add("warn", "describe_failed", {{"detail", e}});
  if (accepted) {
    accepted->clear();
    for (const auto& b : taken) *accepted += (accepted->empty() ? "" : "\n") + b;
  }
  return 0;
}

void Router::describe_parsed(const JsonValue& answers, double now) {
  std::vector<std::string> errors, taken;
  backends_.apply_descriptions(answers, config_, now, errors, taken);
  for (const auto& e : errors) logs_.add("warn", "describe_failed", {{"detail", e}});
}

bool Router::sync_answer(std::string_view snapshot, double now) {
  // A snapshot is a few KB per hundred backends; its catalog nests descriptions (depth 4).
  const JsonParse parsed = snapshot.size() <= kMaxSnapshotBytes ? parse_json(snapshot, 8) : JsonParse{};
  Snapshot s;
  if (!parsed.ok || !read_snapshot(parsed.root, s)) {
    logs_.add("warn", "control_plane_bad_snapshot", {});
    sync_failed(now);
    return false;
  }
  for (const BackendClaim& c : s.backends) {
    const auto i = backends_.index_of(c.binding);
    if (!i) continue;  // a backend this isolate does not have (a deploy in progress)
    const double ejected_until = std::min(c.ejected_until, now + config_.health.max_ejection_ms);
    const double cooldown_until = std::min(c.cooldown_until, now + config_.retry.retry_after_cap_ms);
    health_.adopt(*i, ejected_until, c.times_ejected, cooldown_until, now);
  }
  apply_catalog(s, now);
  cluster_.acknowledged(s, backends_, now, logs_);
  return true;
}

void Router::apply_catalog(const Snapshot& snapshot, double now) {
  if (snapshot.catalog) {
    std::vector<std::string> errors, taken;
    backends_.apply_descriptions(*snapshot.catalog, config_, now, errors, taken);
    for (const auto& e : errors) logs_.add("warn", "catalog_entry_refused", {{"detail", e}});
    for (const auto& b : taken)
      if (auto i = backends_.index_of(b)) catalog_covers_[*i] = true;
    cluster_.set_catalog_version(snapshot.catalog_version);
  }
  for (size_t i = 0; i < catalog_covers_.size(); ++i)
    if (catalog_covers_[i]) backends_.defer(i, now + config_.discovery.describe_ttl_ms);
}

std::vector<uint32_t> Router::discovery_batch(double now) {
  // The request's own attempts, and its sync with the control plane (one RPC, from waitUntil).
  const size_t syncs = cluster_.state() == ControlPlaneState::Absent ? 0 : 1;
  const size_t share = kMaxWorkerInvocations - retry_policy_.max_attempts() - syncs;
  return backends_.take_due(now, config_.discovery.describe_timeout_ms, share);
}

Action Router::begin(uint32_t handle, const RequestHead& head, double now, uint64_t seed, uint64_t id_bits) {
  balancer_.seed_once(seed);
  health_.refresh(now);
  end_abandoned(now);
  auto exchange = std::make_unique<Exchange>(*this, head, now, seed, id_bits);
  Exchange* e = exchange.get();
  exchanges_[handle] = std::move(exchange);
  Action first = e->start(now);
  next_sweep_at_ = std::min(next_sweep_at_, e->abandoned_at());
  return first;
}

void Router::end_abandoned(double now) {
  if (now < next_sweep_at_) return;
  next_sweep_at_ = std::numeric_limits<double>::infinity();
  for (auto it = exchanges_.begin(); it != exchanges_.end();) {
    const double at = it->second->abandoned_at();
    if (now < at) {
      next_sweep_at_ = std::min(next_sweep_at_, at);
      ++it;
      continue;
    }
    it->second->end(EndHow::ClientGone, {}, now);
    it = exchanges_.erase(it);
  }
}

Exchange* Router::exchange(uint32_t handle) {
  auto it = exchanges_.find(handle);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

std::string Router::end(uint32_t handle, EndHow how, std::string_view tail, double now, bool& found) {
  auto it = exchanges_.find(handle);
  found = it != exchanges_.end();
  if (!found) return {};
  std::string out = it->second->end(how, tail, now);
  exchanges_.erase(it);
  return out;
}

bool Router::api_key_ok(std::string_view auth_hash) const {
  return !api_keys_.required() || api_keys_.matches(auth_hash);
}

bool Router::admin_ok(std::string_view auth_hash) const {
  if (!admin_key_hash_) return api_key_ok(auth_hash);
  std::string candidate = normalize_sha256_hex(auth_hash);
  return !admin_key_hash_->empty() && !candidate.empty() && constant_time_equal(*admin_key_hash_, candidate);
}

std::vector<uint32_t> Router::eligible(std::string_view model, Endpoint endpoint) const {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < backends_.size(); ++i)
    if (backends_[i].enabled && backends_[i].serves(model, endpoint)) out.push_back(static_cast<uint32_t>(i));
  return out;
}

bool Router::served_elsewhere(std::string_view model) const {
  for (const Backend& b : backends_.all())
    if (b.enabled && b.endpoints != 0 && b.serves(model)) return true;
  return false;
}

std::vector<uint32_t> Router::candidates(const std::vector<uint32_t>& eligible, double now) const {
  std::vector<uint32_t> out;
  for (uint32_t i : eligible)
    if (health_.healthy(i, now)) out.push_back(i);
  if (out.empty() && config_.health.panic_routing) return eligible;
  return out;
}

Choice Router::choose(std::string_view model, Endpoint endpoint, const RetryState& retry, SplitMix64& rng,
                      double now, bool untried_only) {
  health_.refresh(now);
  using Why = Choice::Why;
  if (backends_.size() == 0) return {Why::NoBackends, 0, false, now + 60000};
  const std::vector<uint32_t> serving = eligible(model, endpoint);
  if (serving.empty()) {
    if (backends_.undiscovered() > 0) return {Why::Discovering, 0, false, now + 1000};
    for (const Backend& b : backends_.all())
      if (b.enabled && !b.describe_error.empty() && b.models.empty())
        return {Why::DiscoveryFailed, 0, false, now + BackendSet::kFailedDescribeRetryMs};
    return {Why::ModelNotServed, 0, false, 0};
  }
  std::vector<uint32_t> healthy = candidates(serving, now);
  if (healthy.empty()) return {Why::AllUnhealthy, 0, false, health_.next_return(serving, now)};
  bool revisit = false;
  // The untried first (before the first attempt that is every candidate).
  if (retry.attempts() > 0) healthy = retry.pool(healthy, revisit);
  if (revisit && untried_only) return {Why::OnlyRevisits, 0, false, 0};
  const std::optional<uint32_t> chosen = pick(healthy, rng, now);
  if (!chosen) return {Why::NonePicked, 0, false, now + 1000};
  return {Why::Chosen, *chosen, revisit, 0};
}

std::optional<uint32_t> Router::pick(const std::vector<uint32_t>& pool, SplitMix64& rng, double now) {
  std::vector<Candidate> candidates;
  candidates.reserve(pool.size());
  const bool latency = balancer_.strategy() == Strategy::PeakEwma;
  for (uint32_t i : pool) {
    const bool tracked = i < health_.size();
    candidates.push_back({i, backends_[i].weight, tracked ? health_[i].in_flight : 0});
    if (latency && tracked) candidates.back().latency = &health_[i].peak_ewma;
  }
  return balancer_.pick(candidates, rng, now);
}

std::string Router::status_json(double now) const {
  JsonWriter w;
  w.begin_object().key("backends").begin_array();
  for (size_t i = 0; i < backends_.size(); ++i) {
    const Backend& b = backends_[i];
    const BackendHealth& h = health_[i];
    BackendState state = health_.state(i, now);
    // Until its first good describe() answer a backend's name and weight are unknown (null), not
    // defaults (unless ROUTER_CONFIG sets the weight); its models are only what ROUTER_CONFIG gives it.
    const bool described = backends_.has_description(i);
    const auto set = config_.backends.find(b.binding);
    const bool weight_known = described || (set != config_.backends.end() && set->second.weight);
    w.begin_object();
    w.key("binding").value(b.binding).key("described").value(described).key("name");
    if (described) w.value(b.name); else w.null();
    w.key("models").strings(b.models).key("endpoints").strings(endpoint_names(b.endpoints)).key("weight");
    if (weight_known) w.value(b.weight); else w.null();
    w.key("enabled").value(b.enabled);
    if (!b.version.empty()) w.key("version").value(b.version);
    if (!b.describe_error.empty()) w.key("describeError").value(b.describe_error);
    w.key("state").value(state_name(state)).key("until");
    if (state == BackendState::Healthy) w.null(); else w.value(health_.until(i));
    w.key("inFlight").value(h.in_flight).key("consecutiveFailures").value(h.consecutive_failures);
    w.key("timesEjected").value(h.times_ejected).key("attempts").value(h.attempts);
    w.key("successes").value(h.successes).key("failures").value(h.failures);
    w.key("rateLimited").value(h.rate_limited).key("serverErrors").value(h.server_errors);
    w.key("tokens");
    UsageLedger::write(w, usage_.backend(i));
    w.key("latency").begin_object();
    write_latency(w.key("firstByteMs"), h.first_byte);
    write_latency(w.key("totalMs"), h.total);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.key("policy").raw(router_config_to_json(config_));
  w.key("discoveredAt");
  if (backends_.described()) w.value(backends_.described_at()); else w.null();
  w.key("requestsInFlight").value(static_cast<uint64_t>(exchanges_.size()));
  w.key("retriesInFlight").value(budget_.retries_in_flight());
  w.key("usage");
  usage_.write_status(w);
  fallbacks_.write(w.key("fallbacks"));
  w.key("now").value(now);
  cluster_.write_status(w, backends_, now);
  return w.end_object().take();
}

void Router::summarized(const AccessSummary& summary, SplitMix64& rng) {
  if (analytics_) data_points_.add_line(analytics_data_point(summary));
  if (access_sampled(config_.access_log.sample_rate, rng)) logs_.add_line(access_log_line(summary));
}

void Router::fallback_taken(const std::string& from, const std::string& to) {
  const std::string pair = FallbackCounts::pair(from, to);
  fallbacks_.add(pair);
  if (ClusterUsage* delta = cluster_.pending()) delta->fallbacks.add(pair);
}

std::string Router::models_json() const {
  // Sorted, unique; "*" is a capability, not a model.
  std::map<std::string, std::string> owners;
  for (const Backend& b : backends_.all()) {
    if (!b.enabled) continue;
    for (const auto& m : b.models)
      if (m != "*") owners.emplace(m, b.name.empty() ? b.binding : b.name);
  }
  double created = backends_.described() ? std::floor(backends_.described_at() / 1000) : 0;
  JsonWriter w;
  w.begin_object().key("object").value("list").key("data").begin_array();
  for (const auto& [id, owner] : owners)
    w.begin_object().key("id").value(id).key("object").value("model").key("created").value(created)
        .key("owned_by").value(owner).end_object();
  return w.end_array().end_object().take();
}

}  // namespace router
