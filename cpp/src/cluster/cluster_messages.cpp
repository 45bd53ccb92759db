#include "cluster/cluster_messages.hpp"

#include "cluster/cluster_usage.hpp"
#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {

namespace {
constexpr double kMaxTime = 1e15;                  // epoch ms, far past any real date
constexpr uint32_t kMaxTimesEjected = 1000;
constexpr double kMaxStreak = 1e6;

bool read_number(const JsonValue* v, double max, double& out) {
  if (!v) return true;  // absent: stays 0
  if (!v->is_number() || !(v->number() >= 0) || v->number() > max) return false;
  out = v->number();
  return true;
}

bool read_counts(const JsonValue* v, Counts& out) {
  if (!v) return true;
  if (!v->is_array() || v->size() != out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    double n = 0;
    if (!read_number(&v->item(i), kMaxCount, n) || n != static_cast<double>(static_cast<uint64_t>(n))) return false;
    out[i] = static_cast<uint64_t>(n);
  }
  return true;
}

bool read_claim(const std::string& binding, const JsonValue& v, BackendClaim& out) {
  if (!v.is_object() || binding.empty() || binding.size() > 256) return false;
  out.binding = binding;
  double times = 0, streak = 0;
  const bool ok = read_counts(v.find("counts"), out.counts) && read_number(v.find("ejectedUntil"), kMaxTime, out.ejected_until) &&
                  read_number(v.find("timesEjected"), kMaxTimesEjected, times) &&
                  read_number(v.find("cooldownUntil"), kMaxTime, out.cooldown_until) &&
                  read_number(v.find("streak"), kMaxStreak, streak);
  out.times_ejected = static_cast<uint32_t>(times);
  out.streak = static_cast<uint32_t>(streak);
  return ok;
}

bool read_claims(const JsonValue* v, std::vector<BackendClaim>& out) {
  if (!v) return true;
  if (!v->is_object()) return false;
  out.resize(v->size());
  for (size_t i = 0; i < v->size(); ++i)
    if (!read_claim(v->key(i), v->item(i), out[i])) return false;
  return true;
}

bool read_usage_part(const JsonValue& root, const JsonValue*& out) {
  out = root.find("usage");
  return !out || check_usage(*out);
}

bool read_version(const JsonValue* v, uint64_t& out) {
  double n = 0;
  if (!read_number(v, kMaxCount, n)) return false;
  out = static_cast<uint64_t>(n);
  return true;
}
}  // namespace

bool BackendClaim::empty() const {
  for (uint64_t c : counts)
    if (c != 0) return false;
  return ejected_until == 0 && cooldown_until == 0;
}

void write_claims(JsonWriter& w, const std::vector<BackendClaim>& claims) {
  w.key("backends").begin_object();
  for (const BackendClaim& c : claims) {
    w.key(c.binding).begin_object();
    if (c.counts != Counts{}) {
      w.key("counts").begin_array();
      for (uint64_t n : c.counts) w.value(capped_count(n));
      w.end_array();
    }
    if (c.ejected_until > 0) w.key("ejectedUntil").value(c.ejected_until);
    if (c.times_ejected > 0) w.key("timesEjected").value(c.times_ejected);
    if (c.cooldown_until > 0) w.key("cooldownUntil").value(c.cooldown_until);
    if (c.streak > 0) w.key("streak").value(c.streak);
    w.end_object();
  }
  w.end_object();
}

std::string write_report(const Report& report, std::string_view usage) {
  JsonWriter w;
  w.begin_object().key("isolate").value(report.isolate).key("catalogVersion").value(report.catalog_version);
  write_claims(w, report.backends);
  if (!usage.empty()) w.key("usage").raw(usage);
  return w.end_object().take();
}

bool read_report(const JsonValue& root, Report& out) {
  if (!root.is_object()) return false;
  const JsonValue* isolate = root.find("isolate");
  if (!isolate || !isolate->is_string() || isolate->string().size() > kMaxIsolateIdBytes) return false;
  out.isolate = isolate->string();
  return read_version(root.find("catalogVersion"), out.catalog_version) && read_claims(root.find("backends"), out.backends) &&
         read_usage_part(root, out.usage);
}

bool read_snapshot(const JsonValue& root, Snapshot& out) {
  if (!root.is_object()) return false;
  double isolates = 0;
  const JsonValue* catalog = root.find("catalog");
  if (catalog && !catalog->is_object()) return false;
  out.catalog = catalog;
  const bool ok = read_number(root.find("now"), kMaxTime, out.now) && read_number(root.find("isolates"), 1e9, isolates) &&
                  read_version(root.find("catalogVersion"), out.catalog_version) && read_claims(root.find("backends"), out.backends) &&
                  read_usage_part(root, out.usage);
  out.isolates = static_cast<uint32_t>(isolates);
  return ok;
}

}  // namespace router
