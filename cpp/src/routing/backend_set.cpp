#include "routing/backend_set.hpp"

#include <algorithm>
#include <cmath>

#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {

namespace {
// describe() answers are flat: {"BACKEND_A": {"name","models":[...],...}}. Deeper is refused.
constexpr uint32_t kMaxDescribeDepth = 64;
// What one description may hold: enough for any real backend, small enough for a log line and
// /v1/models.
constexpr size_t kMaxModels = 1024;
constexpr size_t kMaxNameBytes = 256;
// More names than any backend has a use for (unknown names included).
constexpr size_t kMaxEndpoints = 16;

// describe().endpoints: absent or null for the default set; else an array of at most 16 names
// ("chat/completions", "responses", ...). A name this router does not know is skipped: a newer
// backend may serve an API the router does not route yet.
std::string read_endpoints(const JsonValue* endpoints, EndpointSet& out) {
  out = kDefaultEndpoints;
  if (endpoints == nullptr || endpoints->is_null()) return {};
  if (!endpoints->is_array() || endpoints->size() > kMaxEndpoints)
    return "describe().endpoints must be an array of at most 16 strings";
  out = 0;
  for (std::size_t i = 0; i < endpoints->size(); ++i) {
    const JsonValue& name = endpoints->item(i);
    if (!name.is_string() || name.string().size() > kMaxNameBytes)
      return "describe().endpoints must hold strings of at most 256 bytes";
    if (const std::optional<Endpoint> e = endpoint_of_name(name.string())) out |= endpoint_bit(*e);
  }
  return {};
}

// The description in `a`, or why it is not one. A weight out of range is reported in
// `weight_problem` and leaves `b.weight` unset (NaN).
std::string read_description(const JsonValue& a, Backend& b, std::string& weight_problem) {
  if (!a.is_object()) return "describe() answer is not an object";
  if (const JsonValue* e = a.find("error")) return e->is_string() ? e->string() : "describe() failed";
  const JsonValue* name = a.find("name");
  const JsonValue* models = a.find("models");
  const JsonValue* weight = a.find("weight");
  const JsonValue* version = a.find("version");
  if (name == nullptr || !name->is_string() || name->string().size() > kMaxNameBytes)
    return "describe().name must be a string of at most 256 bytes";
  if (models == nullptr || !models->is_array() || models->size() > kMaxModels)
    return "describe().models must be an array of at most 1024 strings";
  for (std::size_t m = 0; m < models->size(); ++m) {
    const JsonValue& model = models->item(m);
    if (!model.is_string() || model.string().empty() || model.string().size() > kMaxNameBytes)
      return "describe().models must hold non-empty strings of at most 256 bytes";
    b.models.push_back(model.string());
  }
  if (std::string problem = read_endpoints(a.find("endpoints"), b.endpoints); !problem.empty()) return problem;
  b.name = name->string();
  if (version != nullptr && version->is_string() && version->string().size() <= kMaxNameBytes)
    b.version = version->string();
  b.weight = NAN;
  if (weight == nullptr || weight->is_null()) b.weight = 1;
  else if (weight->is_number() && weight->number() > 0 && weight->number() <= BackendSet::kMaxWeight)
    b.weight = weight->number();
  else weight_problem = "describe().weight must be a finite number in (0, 1000000]";
  return {};
}
}  // namespace

bool Backend::serves(std::string_view model) const {
  for (const auto& m : models)
    if (m == "*" || m == model) return true;
  return false;
}

bool BackendSet::set_bindings(const std::vector<std::string>& env_names) {
  std::vector<std::string> names;
  for (const auto& n : env_names)
    if (n.size() > kBindingPrefix.size() && n.compare(0, kBindingPrefix.size(), kBindingPrefix) == 0)
      names.push_back(n);
  // Insertion sort: a handful of names, and in Wasm far smaller than std::sort's introsort.
  for (size_t i = 1; i < names.size(); ++i)
    for (size_t j = i; j > 0 && names[j] < names[j - 1]; --j) names[j].swap(names[j - 1]);
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names == bindings()) return false;
  backends_.clear();
  described_.clear();
  for (auto& n : names) {
    Backend b;
    b.binding = n;
    backends_.push_back(b);
    described_.push_back(std::move(b));
  }
  schedule_.assign(names.size(), Schedule{});
  cursor_ = 0;
  earliest_due_ = 0;
  undiscovered_ = names.size();
  described_at_.reset();
  return true;
}

std::vector<std::string> BackendSet::bindings() const {
  std::vector<std::string> out;
  out.reserve(backends_.size());
  for (const auto& b : backends_) out.push_back(b.binding);
  return out;
}

std::optional<size_t> BackendSet::index_of(std::string_view binding) const {
  for (size_t i = 0; i < backends_.size(); ++i)
    if (backends_[i].binding == binding) return i;
  return std::nullopt;
}

void BackendSet::merge(Backend& backend, const RouterConfig& config) const {
  auto it = config.backends.find(backend.binding);
  if (it == config.backends.end()) return;
  const BackendOverride& o = it->second;
  if (o.weight) backend.weight = *o.weight;
  if (o.models) backend.models = *o.models;
  if (o.enabled) backend.enabled = *o.enabled;
}

void BackendSet::apply_overrides(const RouterConfig& config) {
  for (size_t i = 0; i < backends_.size(); ++i) {
    std::string error = backends_[i].describe_error;
    backends_[i] = described_[i];
    backends_[i].describe_error = std::move(error);
    merge(backends_[i], config);
  }
}

void BackendSet::apply_one(size_t i, const JsonValue& answer, const RouterConfig& config, double now,
                           std::vector<std::string>& errors, std::vector<std::string>& accepted) {
  Schedule& s = schedule_[i];
  Backend b;
  b.binding = backends_[i].binding;
  std::string weight_problem;
  std::string problem = read_description(answer, b, weight_problem);
  if (problem.size() > 200) problem.resize(200);  // a log line, not a dump
  // A bad weight: a backend keeps its last good description whole; a new one takes this
  // description with weight 1. Any other problem: the last good description stays (none: the
  // backend is still not routable).
  const bool taken = problem.empty() && (weight_problem.empty() || !s.good);
  if (problem.empty() && !weight_problem.empty()) {
    problem = weight_problem;
    b.weight = 1;
  }
  if (!taken) b = described_[i];
  // One log line per change of problem, not one per failed round.
  if (!problem.empty() && problem != backends_[i].describe_error) errors.push_back(b.binding + ": " + problem);
  b.describe_error = problem;
  if (taken) {
    described_[i] = b;
    described_[i].describe_error.clear();
    s.good = true;
    accepted.push_back(b.binding);
  }
  if (!s.answered) undiscovered_--;
  s.answered = true;
  s.pending_until = 0;
  s.next_at = now + (b.describe_error.empty() ? config.discovery.describe_ttl_ms
                                              : std::min(config.discovery.describe_ttl_ms, kFailedDescribeRetryMs));
  earliest_due_ = std::min(earliest_due_, s.next_at);
  backends_[i] = std::move(b);
  merge(backends_[i], config);
}

bool BackendSet::apply_descriptions(std::string_view answers_json, const RouterConfig& config, double now,
                                    std::vector<std::string>& errors, std::vector<std::string>& accepted) {
  const JsonParse parsed = parse_json(answers_json, kMaxDescribeDepth);
  return parsed.ok && apply_descriptions(parsed.root, config, now, errors, accepted);
}

std::string BackendSet::description_json(size_t i) const {
  if (!has_description(i)) return {};
  const Backend& b = described_[i];
  JsonWriter w;
  w.begin_object().key("name").value(b.name).key("models").strings(b.models).key("weight").value(b.weight);
  if (!b.version.empty()) w.key("version").value(b.version);
  if (b.endpoints != kDefaultEndpoints) w.key("endpoints").strings(endpoint_names(b.endpoints));
  return w.end_object().take();
}

void BackendSet::defer(size_t i, double until) {
  if (i >= schedule_.size() || schedule_[i].next_at >= until) return;
  schedule_[i].next_at = until;
}

bool BackendSet::apply_descriptions(const JsonValue& answers, const RouterConfig& config, double now,
                                    std::vector<std::string>& errors, std::vector<std::string>& accepted) {
  if (answers.is_array()) {
    if (answers.size() != backends_.size()) return false;
    for (size_t i = 0; i < backends_.size(); ++i) apply_one(i, answers.item(i), config, now, errors, accepted);
  } else if (answers.is_object()) {
    for (size_t k = 0; k < answers.size(); ++k) {
      for (size_t i = 0; i < backends_.size(); ++i)
        if (backends_[i].binding == answers.key(k)) apply_one(i, answers.item(k), config, now, errors, accepted);
    }
  } else {
    return false;
  }
  described_at_ = now;
  return true;
}

std::vector<uint32_t> BackendSet::take_due(double now, double timeout_ms, size_t max) {
  std::vector<uint32_t> out;
  if (now < earliest_due_) return out;
  const size_t n = backends_.size();
  double earliest = INFINITY;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (cursor_ + k) % n;
    Schedule& s = schedule_[i];
    if (out.size() < max && s.next_at <= now && s.pending_until <= now) {
      s.pending_until = now + timeout_ms + kLostDescribeGraceMs;
      out.push_back(static_cast<uint32_t>(i));
    }
    earliest = std::min(earliest, std::max(s.next_at, s.pending_until));
  }
  earliest_due_ = earliest;
  if (!out.empty()) cursor_ = (out.back() + 1) % n;
  return out;
}

}  // namespace router
