#include "cluster/cluster_usage.hpp"

#include <algorithm>
#include <cmath>

#include "cluster/cluster_messages.hpp"
#include "json/json_tree.hpp"
#include "json/json_writer.hpp"
#include "routing/backend_set.hpp"

namespace router {

namespace {
constexpr double kMaxEwmaMs = 1e10;
constexpr size_t kMaxBindingBytes = 256;
constexpr size_t kMaxNameBytes = 1024;  // a model name, a key id, a "from -> to" pair
constexpr size_t kMaxBackendEntries = 100000;

// What the writers put out is what the readers take: sums stay at kMaxCount (capped_count), an
// EWMA from a clock that jumped stays at kMaxEwmaMs.

bool read_count(const JsonValue& v, double max, uint64_t& out) {
  if (!v.is_number() || !(v.number() >= 0) || v.number() > max) return false;
  if (v.number() != std::floor(v.number())) return false;
  out = static_cast<uint64_t>(v.number());
  return true;
}

void write_tokens(JsonWriter& w, const TokenUsage& u) {
  w.begin_array().value(capped_count(u.prompt)).value(capped_count(u.completion));
  w.value(capped_count(u.total)).value(capped_count(u.answers));
  w.end_array();
}

bool read_tokens(const JsonValue& v, TokenUsage& out) {
  return v.is_array() && v.size() == 4 && read_count(v.item(0), kMaxCount, out.prompt) &&
         read_count(v.item(1), kMaxCount, out.completion) && read_count(v.item(2), kMaxCount, out.total) &&
         read_count(v.item(3), kMaxCount, out.answers);
}

void write_sketch(JsonWriter& w, const LatencySketch& s) {
  w.begin_object().key("samples").value(capped_count(s.samples())).key("ewma").value(std::min(s.ewma(), kMaxEwmaMs));
  w.key("buckets").begin_array();
  for (size_t i = 0; i < LatencySketch::kBuckets; ++i)
    if (s.buckets()[i] > 0) w.begin_array().value(static_cast<uint64_t>(i)).value(s.buckets()[i]).end_array();
  w.end_array().end_object();
}

bool read_sketch(const JsonValue* v, LatencySketch& out) {
  if (!v) return true;  // absent: no samples
  const JsonValue* samples = v->is_object() ? v->find("samples") : nullptr;
  const JsonValue* ewma = v->is_object() ? v->find("ewma") : nullptr;
  const JsonValue* buckets = v->is_object() ? v->find("buckets") : nullptr;
  uint64_t n = 0, weight = 0;
  if (!samples || !ewma || !buckets || !read_count(*samples, kMaxCount, n) || !ewma->is_number() ||
      !(ewma->number() >= 0 && ewma->number() <= kMaxEwmaMs) || !buckets->is_array() ||
      buckets->size() > LatencySketch::kBuckets)
    return false;
  uint64_t previous = 0;
  for (size_t k = 0; k < buckets->size(); ++k) {
    const JsonValue& pair = buckets->item(k);
    uint64_t i = 0, count = 0;
    if (!pair.is_array() || pair.size() != 2 || !read_count(pair.item(0), LatencySketch::kBuckets - 1, i) ||
        !read_count(pair.item(1), LatencySketch::kHalveAt, count) || count == 0 || (k > 0 && i <= previous))
      return false;
    previous = i;
    weight += count;
    out.set_bucket(i, static_cast<uint32_t>(count));
  }
  out.set_summary(n, ewma->number());
  return weight <= n;
}

// {name: tokens} into `add` (bounded by UsageLedger::kMaxEntries + its "(other)").
template <typename Add>
bool read_named_tokens(const JsonValue* v, Add add) {
  if (!v) return true;
  if (!v->is_object() || v->size() > UsageLedger::kMaxEntries + 1) return false;
  for (size_t i = 0; i < v->size(); ++i) {
    TokenUsage u;
    if (v->key(i).empty() || v->key(i).size() > kMaxNameBytes || !read_tokens(v->item(i), u)) return false;
    add(v->key(i), u);
  }
  return true;
}

bool read_fallbacks(const JsonValue* v, FallbackCounts* into) {
  if (!v) return true;
  if (!v->is_object() || v->size() > FallbackCounts::kMaxPairs + 1) return false;
  for (size_t i = 0; i < v->size(); ++i) {
    uint64_t n = 0;
    if (v->key(i).empty() || v->key(i).size() > kMaxNameBytes || !read_count(v->item(i), kMaxCount, n)) return false;
    if (into) into->add(v->key(i), n);
  }
  return true;
}

bool read_backend(const std::string& binding, const JsonValue& v, const BackendSet* backends, ClusterUsage* into) {
  if (binding.empty() || binding.size() > kMaxBindingBytes || !v.is_object()) return false;
  TokenUsage tokens;
  LatencySketch first_byte, total;
  const JsonValue* t = v.find("tokens");
  if ((t && !read_tokens(*t, tokens)) || !read_sketch(v.find("firstByteMs"), first_byte) ||
      !read_sketch(v.find("totalMs"), total))
    return false;
  const std::optional<size_t> i = into && backends ? backends->index_of(binding) : std::nullopt;
  if (!i || *i >= into->first_byte.size()) return true;
  into->tokens.add_backend(*i, tokens);
  into->first_byte[*i].absorb(first_byte);
  into->total[*i].absorb(total);
  return true;
}

// Checks `v`; with `into`, absorbs it there too.
bool read_usage(const JsonValue& v, const BackendSet* backends, ClusterUsage* into) {
  if (!v.is_object()) return false;
  const JsonValue* entries = v.find("backends");
  if (entries && (!entries->is_object() || entries->size() > kMaxBackendEntries)) return false;
  for (size_t i = 0; entries && i < entries->size(); ++i)
    if (!read_backend(entries->key(i), entries->item(i), backends, into)) return false;
  const auto model = [&](const std::string& name, const TokenUsage& u) { if (into) into->tokens.add_model(name, u); };
  const auto key = [&](const std::string& name, const TokenUsage& u) { if (into) into->tokens.add_key(name, u); };
  return read_named_tokens(v.find("models"), model) && read_named_tokens(v.find("keys"), key) &&
         read_fallbacks(v.find("fallbacks"), into ? &into->fallbacks : nullptr);
}

}  // namespace

bool check_usage(const JsonValue& v) { return read_usage(v, nullptr, nullptr); }

void add_usage(const JsonValue& v, const BackendSet& backends, ClusterUsage& into) { read_usage(v, &backends, &into); }

void ClusterUsage::reset(size_t backends) {
  tokens.reset(backends);
  first_byte.assign(backends, LatencySketch{});
  total.assign(backends, LatencySketch{});
  fallbacks.clear();
}

void ClusterUsage::answered_after(size_t backend, double first_byte_ms, bool whole) {
  if (backend >= first_byte.size()) return;
  first_byte[backend].add(first_byte_ms);
  if (whole) total[backend].add(first_byte_ms);
}

void ClusterUsage::stream_ended_after(size_t backend, double total_ms) {
  if (backend < total.size()) total[backend].add(total_ms);
}

void ClusterUsage::absorb(const ClusterUsage& later) {
  tokens.merge(later.tokens);
  for (size_t i = 0; i < first_byte.size() && i < later.first_byte.size(); ++i) {
    first_byte[i].absorb(later.first_byte[i]);
    total[i].absorb(later.total[i]);
  }
  fallbacks.merge(later.fallbacks);
}

bool ClusterUsage::empty() const {
  for (size_t i = 0; i < first_byte.size(); ++i)
    if (first_byte[i].samples() > 0 || total[i].samples() > 0) return false;
  return tokens.empty() && fallbacks.empty();
}

void write_usage(JsonWriter& w, const ClusterUsage& usage, const BackendSet& backends) {
  w.begin_object().key("backends").begin_object();
  for (size_t i = 0; i < backends.size() && i < usage.first_byte.size(); ++i) {
    const TokenUsage& tokens = usage.tokens.backend(i);
    const LatencySketch &first_byte = usage.first_byte[i], &total = usage.total[i];
    if (tokens == TokenUsage{} && first_byte.samples() == 0 && total.samples() == 0) continue;
    w.key(backends[i].binding).begin_object();
    if (tokens != TokenUsage{}) write_tokens(w.key("tokens"), tokens);
    if (first_byte.samples() > 0) write_sketch(w.key("firstByteMs"), first_byte);
    if (total.samples() > 0) write_sketch(w.key("totalMs"), total);
    w.end_object();
  }
  w.end_object().key("models").begin_object();
  for (const auto& [model, u] : usage.tokens.models()) write_tokens(w.key(model), u);
  w.end_object().key("keys").begin_object();
  for (const auto& [key, u] : usage.tokens.keys()) write_tokens(w.key(key), u);
  w.end_object();
  usage.fallbacks.write(w.key("fallbacks"));
  w.end_object();
}

}  // namespace router
