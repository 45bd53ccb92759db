#include "backend_set.hpp"

#include <algorithm>

#include "json_tree.hpp"

namespace router {

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
  described_at_.reset();
  any_failed_ = false;
  return true;
}

std::vector<std::string> BackendSet::bindings() const {
  std::vector<std::string> out;
  out.reserve(backends_.size());
  for (const auto& b : backends_) out.push_back(b.binding);
  return out;
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
    backends_[i] = described_[i];
    merge(backends_[i], config);
  }
}

namespace {
// describe() answers are flat: [{"name","models":[...],...}]. Deeper is refused, not parsed.
constexpr uint32_t kMaxDescribeDepth = 64;
}  // namespace

bool BackendSet::apply_descriptions(std::string_view answers_json, const RouterConfig& config, double now,
                                    std::vector<std::string>& errors) {
  const JsonParse parsed = parse_json(answers_json, kMaxDescribeDepth);
  const JsonValue& answers = parsed.root;
  if (!parsed.ok || !answers.is_array() || answers.size() != backends_.size()) return false;
  any_failed_ = false;
  for (size_t i = 0; i < backends_.size(); ++i) {
    const JsonValue& a = answers.item(i);
    Backend b;
    b.binding = backends_[i].binding;
    std::string problem;
    if (!a.is_object()) {
      problem = "describe() answer is not an object";
    } else if (const JsonValue* e = a.find("error")) {
      problem = e->is_string() ? e->string() : "describe() failed";
    } else {
      const JsonValue* name = a.find("name");
      const JsonValue* models = a.find("models");
      const JsonValue* weight = a.find("weight");
      const JsonValue* version = a.find("version");
      if (name == nullptr || !name->is_string()) problem = "describe().name must be a string";
      else if (models == nullptr || !models->is_array()) problem = "describe().models must be an array of strings";
      else if (weight != nullptr && !weight->is_null() && (!weight->is_number() || !(weight->number() > 0)))
        problem = "describe().weight must be a number > 0";
      if (problem.empty()) {
        b.name = name->string();
        for (std::size_t m = 0; m < models->size(); ++m) {
          if (!models->item(m).is_string()) { problem = "describe().models must be an array of strings"; break; }
          b.models.push_back(models->item(m).string());
        }
        if (weight != nullptr && weight->is_number()) b.weight = weight->number();
        if (version != nullptr && version->is_string()) b.version = version->string();
      }
    }
    if (!problem.empty()) {
      if (problem.size() > 200) problem.resize(200);  // a log line, not a dump
      b.name.clear();
      b.models.clear();
      b.weight = 1;
      b.describe_error = problem;
      any_failed_ = true;
      errors.push_back(b.binding + ": " + problem);
    }
    described_[i] = b;
    backends_[i] = std::move(b);
    merge(backends_[i], config);
  }
  described_at_ = now;
  return true;
}

bool BackendSet::stale(double now, double ttl_ms) const {
  if (backends_.empty()) return false;  // nothing to discover
  if (!described_at_) return true;
  double ttl = any_failed_ ? std::min(ttl_ms, kFailedDescribeRetryMs) : ttl_ms;
  return now - *described_at_ >= ttl;
}

}  // namespace router
