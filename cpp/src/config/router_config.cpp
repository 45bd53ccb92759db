#include "config/router_config.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {
namespace {

constexpr double kMaxDurationMs = 86400000;  // one day: longer is a typo, and keeps sums of times exact
constexpr double kMaxWeight = 1000000;
constexpr uint64_t kMaxBodyBytes = uint64_t{32} << 20;  // the body is copied into Wasm memory
constexpr uint32_t kMaxDepth = 256;
constexpr std::size_t kMaxModelBytes = 256;  // same limit as a request's `model`
constexpr uint32_t kMaxNesting = 64;           // the text itself; valid settings need 4 levels
constexpr uint32_t kMaxRetryAfterSeconds = 86400;

std::string join_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  append_path_key(path, key);
  return path;
}

// Whole numbers without a fraction ("25", not "25.0"); others as the shortest text that reads
// back as the same double, so the policy round-trips exactly (JsonWriter's number format).
std::string number_text(double value) { return JsonWriter().value(value).take(); }

// Reads the settings of one JSON object into a struct. Keeps the first error; a read after an
// error does nothing. finish() then reports keys no read asked for, so typos are not ignored.
class ObjectReader {
 public:
  ObjectReader(const JsonValue& object, std::string path, std::optional<ConfigError>& error)
      : object_(object), path_(std::move(path)), error_(error) {}

  // Each read returns whether it stored a value (the key is present and valid).
  // An integral number in [min, max]; 1e6 and 3.0 count as integers.
  bool integer(const char* key, uint64_t min, uint64_t max, uint64_t& out) {
    const JsonValue* value = lookup(key);
    if (value == nullptr) return false;
    const double number = value->is_number() ? value->number() : NAN;
    if (!std::isfinite(number) || number != std::floor(number) || number < static_cast<double>(min) ||
        number > static_cast<double>(max)) {
      fail(key, "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
      return false;
    }
    out = static_cast<uint64_t>(number);
    return true;
  }

  bool integer(const char* key, uint32_t min, uint32_t max, uint32_t& out) {
    uint64_t wide = out;
    if (!integer(key, uint64_t{min}, uint64_t{max}, wide)) return false;
    out = static_cast<uint32_t>(wide);
    return true;
  }

  // A finite number in [min, max], or in (min, max] when min_exclusive.
  bool number(const char* key, double min, double max, double& out, bool min_exclusive = false) {
    const JsonValue* value = lookup(key);
    if (value == nullptr) return false;
    const double number = value->is_number() ? value->number() : NAN;
    const bool above_min = min_exclusive ? number > min : number >= min;
    if (!std::isfinite(number) || !above_min || number > max) {
      fail(key, std::string("must be a finite number in ") + (min_exclusive ? "(" : "[") + number_text(min) + ", " +
                    number_text(max) + "]");
      return false;
    }
    out = number;
    return true;
  }

  bool boolean(const char* key, bool& out) {
    const JsonValue* value = lookup(key);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
      fail(key, "must be true or false");
      return false;
    }
    out = value->boolean();
    return true;
  }

  // Claims `key` and returns its value when present and no error happened yet.
  const JsonValue* lookup(const char* key) {
    known_.emplace_back(key);
    if (error_) return nullptr;
    return object_.find(key);
  }

  void fail(std::string_view key, const std::string& what) { fail_at(join_path(path_, key), what); }

  // The item at `index` of the array under `key`.
  void fail_item(std::string_view key, std::size_t index, const std::string& what) {
    fail_at(join_path(path_, key) + "[" + std::to_string(index) + "]", what);
  }

  void finish() {
    if (error_) return;
    for (std::size_t i = 0; i < object_.size(); ++i) {
      const std::string& name_found = object_.key(i);
      bool known = false;
      for (const auto& name : known_) known = known || name == name_found;
      if (known) continue;
      std::string list;
      for (const auto& name : known_) list += (list.empty() ? "" : ", ") + name;
      const std::string field = join_path(path_, name_found);
      error_ = ConfigError{field, field + " is not a known setting (" +
                                      (path_.empty() ? std::string("top level") : path_) + " accepts: " + list + ")"};
      return;
    }
  }

 private:
  void fail_at(const std::string& field, const std::string& what) {
    if (!error_) error_ = ConfigError{field, field + " " + what};
  }

  const JsonValue& object_;
  std::string path_;
  std::optional<ConfigError>& error_;
  std::vector<std::string> known_;
};

// The section's object, or nullptr (with an error when present but not an object).
const JsonValue* section(ObjectReader& top, const char* key) {
  const JsonValue* value = top.lookup(key);
  if (value != nullptr && !value->is_object()) {
    top.fail(key, "must be an object");
    return nullptr;
  }
  return value;
}

bool usable_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxModelBytes) return false;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return false;
  }
  return true;
}

// Binding names are JS identifiers and end up in response headers: BACKEND_ then [A-Za-z0-9_].
bool valid_binding_name(std::string_view name) {
  constexpr std::string_view prefix = "BACKEND_";
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void read_backend(const JsonValue& value, const std::string& path, BackendOverride& out,
                  std::optional<ConfigError>& error) {
  ObjectReader reader(value, path, error);
  double weight = 0;
  if (reader.number("weight", 0, kMaxWeight, weight, /*min_exclusive=*/true)) out.weight = weight;
  if (const JsonValue* models = reader.lookup("models")) {
    if (!models->is_array() || models->size() == 0) {
      reader.fail("models", "must be a non-empty array of model names (use \"enabled\": false to disable a backend)");
    } else {
      std::vector<std::string> names;
      for (std::size_t i = 0; i < models->size() && !error; ++i) {
        const JsonValue& model = models->item(i);
        const std::string* name = model.is_string() ? &model.string() : nullptr;
        if (name == nullptr || !usable_name(*name)) {
          reader.fail_item("models", i,
                      "must be a non-empty string of at most " + std::to_string(kMaxModelBytes) +
                          " bytes without control characters");
        } else {
          names.push_back(*name);
        }
      }
      if (!error) out.models = std::move(names);
    }
  }
  bool enabled = true;
  if (reader.boolean("enabled", enabled)) out.enabled = enabled;
  reader.finish();
}

void read_config(const JsonValue& document, RouterConfig& config, std::optional<ConfigError>& error) {
  ObjectReader top(document, "", error);

  if (const JsonValue* strategy = top.lookup("strategy")) {
    const std::string* name = strategy->is_string() ? &strategy->string() : nullptr;
    if (name != nullptr && *name == "round-robin") {
      config.strategy = Strategy::RoundRobin;
    } else if (name != nullptr && *name == "least-inflight") {
      config.strategy = Strategy::LeastInflight;
    } else {
      top.fail("strategy", "must be \"round-robin\" or \"least-inflight\"");
    }
  }

  if (const JsonValue* value = section(top, "retry")) {
    ObjectReader r(*value, "retry", error);
    r.integer("maxAttempts", 1u, 10u, config.retry.max_attempts);
    r.number("backoffBaseMs", 0, kMaxDurationMs, config.retry.backoff_base_ms);
    r.number("backoffCapMs", 0, kMaxDurationMs, config.retry.backoff_cap_ms);
    r.number("retryAfterCapMs", 0, kMaxDurationMs, config.retry.retry_after_cap_ms);
    r.number("budgetPercent", 0, 100, config.retry.budget_percent);
    r.integer("budgetMinRetries", 0u, 1000u, config.retry.budget_min_retries);
    r.finish();
  }

  if (const JsonValue* value = section(top, "timeouts")) {
    ObjectReader r(*value, "timeouts", error);
    r.number("perTryMs", 1, kMaxDurationMs, config.timeouts.per_try_ms);
    r.number("firstByteMs", 1, kMaxDurationMs, config.timeouts.first_byte_ms);
    r.number("requestMs", 1, kMaxDurationMs, config.timeouts.request_ms);
    r.number("streamIdleMs", 1, kMaxDurationMs, config.timeouts.stream_idle_ms);
    r.finish();
  }

  if (const JsonValue* value = section(top, "health")) {
    ObjectReader r(*value, "health", error);
    r.integer("consecutiveFailures", 1u, 1000u, config.health.consecutive_failures);
    r.number("baseEjectionMs", 0, kMaxDurationMs, config.health.base_ejection_ms);
    r.number("maxEjectionMs", 0, kMaxDurationMs, config.health.max_ejection_ms);
    r.number("maxEjectionPercent", 0, 100, config.health.max_ejection_percent);
    r.boolean("panicRouting", config.health.panic_routing);
    r.finish();
  }

  if (const JsonValue* value = section(top, "limits")) {
    ObjectReader r(*value, "limits", error);
    r.integer("maxBodyBytes", uint64_t{1}, kMaxBodyBytes, config.limits.max_body_bytes);
    r.integer("maxDepth", 1u, kMaxDepth, config.limits.max_depth);
    r.finish();
  }

  if (const JsonValue* value = section(top, "discovery")) {
    ObjectReader r(*value, "discovery", error);
    r.number("describeTtlMs", 0, kMaxDurationMs, config.discovery.describe_ttl_ms);
    r.number("describeTimeoutMs", 1, 60000, config.discovery.describe_timeout_ms);
    r.finish();
  }

  if (const JsonValue* value = section(top, "rateLimit")) {
    ObjectReader r(*value, "rateLimit", error);
    r.integer("retryAfterSeconds", 1u, kMaxRetryAfterSeconds, config.rate_limit.retry_after_seconds);
    r.finish();
  }

  if (const JsonValue* value = section(top, "backends")) {
    for (std::size_t i = 0; i < value->size() && !error; ++i) {
      const std::string& name = value->key(i);
      const JsonValue& entry = value->item(i);
      const std::string path = join_path("backends", name);
      if (!valid_binding_name(name)) {
        error = ConfigError{path, path + ": a backend binding name is BACKEND_ followed by letters, digits or _"};
      } else if (!entry.is_object()) {
        error = ConfigError{path, path + " must be an object with \"weight\", \"models\" or \"enabled\""};
      } else {
        read_backend(entry, path, config.backends[name], error);
      }
    }
  }

  top.finish();
  if (error) return;

  // Rules between fields, checked once each field is valid on its own.
  if (config.retry.backoff_base_ms > config.retry.backoff_cap_ms) {
    error = ConfigError{"retry.backoffBaseMs", "retry.backoffBaseMs (" + number_text(config.retry.backoff_base_ms) +
                                                   ") must not exceed retry.backoffCapMs (" +
                                                   number_text(config.retry.backoff_cap_ms) + ")"};
  } else if (config.health.base_ejection_ms > config.health.max_ejection_ms) {
    error = ConfigError{"health.baseEjectionMs", "health.baseEjectionMs (" +
                                                     number_text(config.health.base_ejection_ms) +
                                                     ") must not exceed health.maxEjectionMs (" +
                                                     number_text(config.health.max_ejection_ms) + ")"};
  }
}

bool is_blank(std::string_view text) {
  for (const char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

ConfigResult failed(std::string field, std::string message) {
  return ConfigResult{std::nullopt, ConfigError{std::move(field), std::move(message)}};
}

}  // namespace

ConfigResult parse_router_config(std::string_view text) {
  if (is_blank(text)) return ConfigResult{RouterConfig{}, std::nullopt};

  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    // nlohmann would read a NUL outside a string as the end of the text.
    return failed("", "ROUTER_CONFIG is not valid JSON (NUL byte at offset " + std::to_string(nul) + ")");
  }

  const JsonParse parsed = parse_json(text, kMaxNesting, /*find_duplicate_keys=*/true);
  if (parsed.too_deep) {
    return failed("", "ROUTER_CONFIG is nested deeper than " + std::to_string(kMaxNesting) + " levels");
  }
  if (!parsed.ok) {
    // nlohmann's position is 1-based and counts the end of input as one more character.
    const std::string where = parsed.error_position > text.size()
                                  ? std::string(" (the text ends too early)")
                                  : " (error near byte " + std::to_string(parsed.error_position) + ")";
    if (parsed.number_overflow) return failed("", "ROUTER_CONFIG holds a number too large to represent" + where);
    return failed("", "ROUTER_CONFIG is not valid JSON" + where);
  }
  // The shape first: a repeated key inside a top-level array is not a setting at all.
  const JsonValue& document = parsed.root;
  if (!document.is_object()) return failed("", "ROUTER_CONFIG must be a JSON object");
  // A DOM would keep only the last value; a repeated setting is as likely a mistake as a misspelt one.
  if (!parsed.duplicate_key.empty()) {
    return failed(parsed.duplicate_key, parsed.duplicate_key + " appears more than once in ROUTER_CONFIG");
  }

  RouterConfig config;
  std::optional<ConfigError> error;
  read_config(document, config, error);
  if (error) return ConfigResult{std::nullopt, std::move(error)};
  return ConfigResult{std::move(config), std::nullopt};
}

// Written with JsonWriter rather than as a json tree: the shape is fixed, and tree building code is
// large in Wasm. JsonWriter writes numbers so that they read back exactly.
std::string router_config_to_json(const RouterConfig& config) {
  JsonWriter w;
  const RetryConfig& retry = config.retry;
  const TimeoutConfig& timeouts = config.timeouts;
  const HealthConfig& health = config.health;
  w.begin_object();
  w.key("strategy").value(config.strategy == Strategy::LeastInflight ? "least-inflight" : "round-robin");
  w.key("retry").begin_object();
  w.key("maxAttempts").value(retry.max_attempts);
  w.key("backoffBaseMs").value(retry.backoff_base_ms);
  w.key("backoffCapMs").value(retry.backoff_cap_ms);
  w.key("retryAfterCapMs").value(retry.retry_after_cap_ms);
  w.key("budgetPercent").value(retry.budget_percent);
  w.key("budgetMinRetries").value(retry.budget_min_retries);
  w.end_object();
  w.key("timeouts").begin_object();
  w.key("perTryMs").value(timeouts.per_try_ms);
  w.key("firstByteMs").value(timeouts.first_byte_ms);
  w.key("requestMs").value(timeouts.request_ms);
  w.key("streamIdleMs").value(timeouts.stream_idle_ms);
  w.end_object();
  w.key("health").begin_object();
  w.key("consecutiveFailures").value(health.consecutive_failures);
  w.key("baseEjectionMs").value(health.base_ejection_ms);
  w.key("maxEjectionMs").value(health.max_ejection_ms);
  w.key("maxEjectionPercent").value(health.max_ejection_percent);
  w.key("panicRouting").value(health.panic_routing);
  w.end_object();
  w.key("limits").begin_object();
  w.key("maxBodyBytes").value(config.limits.max_body_bytes);
  w.key("maxDepth").value(config.limits.max_depth);
  w.end_object();
  w.key("discovery").begin_object().key("describeTtlMs").value(config.discovery.describe_ttl_ms)
      .key("describeTimeoutMs").value(config.discovery.describe_timeout_ms).end_object();
  w.key("rateLimit").begin_object().key("retryAfterSeconds").value(config.rate_limit.retry_after_seconds).end_object();
  w.key("backends").begin_object();
  for (const auto& [name, override_] : config.backends) {
    w.key(name).begin_object();
    if (override_.weight) w.key("weight").value(*override_.weight);
    if (override_.models) w.key("models").strings(*override_.models);
    if (override_.enabled) w.key("enabled").value(*override_.enabled);
    w.end_object();
  }
  w.end_object();
  return w.end_object().take();
}

}  // namespace router
