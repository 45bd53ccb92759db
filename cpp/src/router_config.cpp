#include "router_config.hpp"

#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace router {
namespace {

using nlohmann::json;

constexpr double kMaxDurationMs = 86400000;  // one day: longer is a typo, and keeps sums of times exact
constexpr double kMaxWeight = 1000000;
constexpr uint64_t kMaxBodyBytes = uint64_t{32} << 20;  // the body is copied into Wasm memory
constexpr uint32_t kMaxDepth = 256;
constexpr std::size_t kMaxModelBytes = 256;  // same limit as a request's `model`

std::string join_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

// Whole numbers without a fraction ("25", not "25.0"); others as the shortest text that reads
// back as the same double, so the policy round-trips exactly.
std::string number_text(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(static_cast<int64_t>(value));
  return json(value).dump();
}

// Reads the settings of one JSON object into a struct. Keeps the first error; a read after an
// error does nothing. finish() then reports keys no read asked for, so typos are not ignored.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path, std::optional<ConfigError>& error)
      : object_(object), path_(std::move(path)), error_(error) {}

  // Each read returns whether it stored a value (the key is present and valid).
  // An integral number in [min, max]; 1e6 and 3.0 count as integers.
  bool integer(const char* key, uint64_t min, uint64_t max, uint64_t& out) {
    const json* value = lookup(key);
    if (value == nullptr) return false;
    const double number = value->is_number() ? value->get<double>() : NAN;
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
    const json* value = lookup(key);
    if (value == nullptr) return false;
    const double number = value->is_number() ? value->get<double>() : NAN;
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
    const json* value = lookup(key);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
      fail(key, "must be true or false");
      return false;
    }
    out = value->get<bool>();
    return true;
  }

  // Claims `key` and returns its value when present and no error happened yet.
  const json* lookup(const char* key) {
    known_.emplace_back(key);
    if (error_) return nullptr;
    const auto found = object_.find(key);
    return found == object_.end() ? nullptr : &*found;
  }

  void fail(std::string_view key, const std::string& what) {
    if (error_) return;
    const std::string field = join_path(path_, key);
    error_ = ConfigError{field, field + " " + what};
  }

  void finish() {
    if (error_) return;
    for (const auto& item : object_.items()) {
      bool known = false;
      for (const auto& name : known_) known = known || name == item.key();
      if (known) continue;
      std::string list;
      for (const auto& name : known_) list += (list.empty() ? "" : ", ") + name;
      const std::string field = join_path(path_, item.key());
      error_ = ConfigError{field, field + " is not a known setting (" +
                                      (path_.empty() ? std::string("top level") : path_) + " accepts: " + list + ")"};
      return;
    }
  }

 private:
  const json& object_;
  std::string path_;
  std::optional<ConfigError>& error_;
  std::vector<std::string> known_;
};

// The section's object, or nullptr (with an error when present but not an object).
const json* section(ObjectReader& top, const char* key) {
  const json* value = top.lookup(key);
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

void read_backend(const json& value, const std::string& path, BackendOverride& out,
                  std::optional<ConfigError>& error) {
  ObjectReader reader(value, path, error);
  double weight = 0;
  if (reader.number("weight", 0, kMaxWeight, weight, /*min_exclusive=*/true)) out.weight = weight;
  if (const json* models = reader.lookup("models")) {
    if (!models->is_array() || models->empty()) {
      reader.fail("models", "must be a non-empty array of model names (use \"enabled\": false to disable a backend)");
    } else {
      std::vector<std::string> names;
      for (std::size_t i = 0; i < models->size() && !error; ++i) {
        const json& model = (*models)[i];
        const std::string* name = model.get_ptr<const std::string*>();
        if (name == nullptr || !usable_name(*name)) {
          reader.fail("models[" + std::to_string(i) + "]",
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

void read_config(const json& document, RouterConfig& config, std::optional<ConfigError>& error) {
  ObjectReader top(document, "", error);

  if (const json* strategy = top.lookup("strategy")) {
    const std::string* name = strategy->get_ptr<const std::string*>();
    if (name != nullptr && *name == "round-robin") {
      config.strategy = Strategy::RoundRobin;
    } else if (name != nullptr && *name == "least-inflight") {
      config.strategy = Strategy::LeastInflight;
    } else {
      top.fail("strategy", "must be \"round-robin\" or \"least-inflight\"");
    }
  }

  if (const json* value = section(top, "retry")) {
    ObjectReader r(*value, "retry", error);
    r.integer("maxAttempts", 1u, 10u, config.retry.max_attempts);
    r.number("backoffBaseMs", 0, kMaxDurationMs, config.retry.backoff_base_ms);
    r.number("backoffCapMs", 0, kMaxDurationMs, config.retry.backoff_cap_ms);
    r.number("retryAfterCapMs", 0, kMaxDurationMs, config.retry.retry_after_cap_ms);
    r.number("budgetPercent", 0, 100, config.retry.budget_percent);
    r.integer("budgetMinRetries", 0u, 1000u, config.retry.budget_min_retries);
    r.finish();
  }

  if (const json* value = section(top, "timeouts")) {
    ObjectReader r(*value, "timeouts", error);
    r.number("perTryMs", 1, kMaxDurationMs, config.timeouts.per_try_ms);
    r.number("firstByteMs", 1, kMaxDurationMs, config.timeouts.first_byte_ms);
    r.number("requestMs", 1, kMaxDurationMs, config.timeouts.request_ms);
    r.finish();
  }

  if (const json* value = section(top, "health")) {
    ObjectReader r(*value, "health", error);
    r.integer("consecutiveFailures", 1u, 1000u, config.health.consecutive_failures);
    r.number("baseEjectionMs", 0, kMaxDurationMs, config.health.base_ejection_ms);
    r.number("maxEjectionMs", 0, kMaxDurationMs, config.health.max_ejection_ms);
    r.number("maxEjectionPercent", 0, 100, config.health.max_ejection_percent);
    r.boolean("panicRouting", config.health.panic_routing);
    r.finish();
  }

  if (const json* value = section(top, "limits")) {
    ObjectReader r(*value, "limits", error);
    r.integer("maxBodyBytes", uint64_t{1}, kMaxBodyBytes, config.limits.max_body_bytes);
    r.integer("maxDepth", 1u, kMaxDepth, config.limits.max_depth);
    r.finish();
  }

  if (const json* value = section(top, "discovery")) {
    ObjectReader r(*value, "discovery", error);
    r.number("describeTtlMs", 0, kMaxDurationMs, config.discovery.describe_ttl_ms);
    r.finish();
  }

  if (const json* value = section(top, "backends")) {
    for (const auto& item : value->items()) {
      if (error) break;
      const std::string path = join_path("backends", item.key());
      if (!valid_binding_name(item.key())) {
        error = ConfigError{path, path + ": a backend binding name is BACKEND_ followed by letters, digits or _"};
      } else if (!item.value().is_object()) {
        error = ConfigError{path, path + " must be an object with \"weight\", \"models\" or \"enabled\""};
      } else {
        read_backend(item.value(), path, config.backends[item.key()], error);
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

// Remembers the first key repeated within one object: a DOM keeps only the last value, and a
// repeated setting is as likely a mistake as a misspelt one.
class DuplicateKeyFinder {
 public:
  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_.push_back(OpenObject{last_key_, {}});
        break;
      case json::parse_event_t::object_end:
        if (!open_.empty()) open_.pop_back();
        break;
      case json::parse_event_t::key:
        if (const std::string* key = parsed.get_ptr<const std::string*>(); key != nullptr && !open_.empty()) {
          auto& seen = open_.back().keys;
          bool repeated = false;
          for (const auto& name : seen) repeated = repeated || name == *key;
          if (repeated && !duplicate) duplicate = path_to(*key);
          seen.push_back(*key);
          last_key_ = *key;
        }
        break;
      default:
        break;
    }
    return true;
  }

  std::optional<std::string> duplicate;

 private:
  struct OpenObject {
    std::string key;  // the key this object is the value of ("" at the top)
    std::vector<std::string> keys;
  };

  std::string path_to(const std::string& key) const {
    std::string path;
    for (std::size_t i = 1; i < open_.size(); ++i) path = join_path(path, open_[i].key);
    return join_path(path, key);
  }

  std::vector<OpenObject> open_;
  std::string last_key_;
};

// Only used after a failed parse, to say where the text stops being JSON.
class SyntaxErrorLocator {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(json::string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t at, const std::string&, const json::exception& error) {
    position = at;
    number_overflow = error.id == 406;  // nlohmann's out_of_range id for a number beyond a double
    return false;
  }

  std::size_t position = 0;
  bool number_overflow = false;
};

bool is_blank(std::string_view text) {
  for (const char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

ConfigResult failed(std::string field, std::string message) {
  return ConfigResult{std::nullopt, ConfigError{std::move(field), std::move(message)}};
}

// Output pieces for router_config_to_json. Written as text rather than as a json tree: tree
// building code is large in Wasm and the shape is fixed.
std::string string_text(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string bool_text(bool value) { return value ? "true" : "false"; }

// Collects the "key":value members of one object; values are JSON text already.
class ObjectText {
 public:
  ObjectText& add(std::string_view key, const std::string& value) {
    text_ += text_.size() > 1 ? "," : "";
    text_ += string_text(key);
    text_ += ':';
    text_ += value;
    return *this;
  }
  std::string close() { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

}  // namespace

ConfigResult parse_router_config(std::string_view text) {
  if (is_blank(text)) return ConfigResult{RouterConfig{}, std::nullopt};

  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    // nlohmann would read a NUL outside a string as the end of the text.
    return failed("", "ROUTER_CONFIG is not valid JSON (NUL byte at offset " + std::to_string(nul) + ")");
  }

  DuplicateKeyFinder duplicates;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const json document = json::parse(begin, end, std::ref(duplicates), /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    SyntaxErrorLocator locator;
    json::sax_parse(begin, end, &locator);
    // nlohmann's position is 1-based and counts the end of input as one more character.
    const std::string where = locator.position > text.size()
                                  ? std::string(" (the text ends too early)")
                                  : " (error near byte " + std::to_string(locator.position) + ")";
    if (locator.number_overflow) return failed("", "ROUTER_CONFIG holds a number too large to represent" + where);
    return failed("", "ROUTER_CONFIG is not valid JSON" + where);
  }
  if (duplicates.duplicate) {
    return failed(*duplicates.duplicate, *duplicates.duplicate + " appears more than once in ROUTER_CONFIG");
  }
  if (!document.is_object()) return failed("", "ROUTER_CONFIG must be a JSON object");

  RouterConfig config;
  std::optional<ConfigError> error;
  read_config(document, config, error);
  if (error) return ConfigResult{std::nullopt, std::move(error)};
  return ConfigResult{std::move(config), std::nullopt};
}

std::string router_config_to_json(const RouterConfig& config) {
  ObjectText backends;
  for (const auto& [name, override_] : config.backends) {
    ObjectText entry;
    if (override_.weight) entry.add("weight", number_text(*override_.weight));
    if (override_.models) {
      std::string models = "[";
      for (const auto& model : *override_.models) models += (models.size() > 1 ? "," : "") + string_text(model);
      entry.add("models", models + "]");
    }
    if (override_.enabled) entry.add("enabled", bool_text(*override_.enabled));
    backends.add(name, entry.close());
  }
  const RetryConfig& retry = config.retry;
  const TimeoutConfig& timeouts = config.timeouts;
  const HealthConfig& health = config.health;
  return ObjectText()
      .add("strategy", string_text(config.strategy == Strategy::LeastInflight ? "least-inflight" : "round-robin"))
      .add("retry", ObjectText()
                        .add("maxAttempts", std::to_string(retry.max_attempts))
                        .add("backoffBaseMs", number_text(retry.backoff_base_ms))
                        .add("backoffCapMs", number_text(retry.backoff_cap_ms))
                        .add("retryAfterCapMs", number_text(retry.retry_after_cap_ms))
                        .add("budgetPercent", number_text(retry.budget_percent))
                        .add("budgetMinRetries", std::to_string(retry.budget_min_retries))
                        .close())
      .add("timeouts", ObjectText()
                           .add("perTryMs", number_text(timeouts.per_try_ms))
                           .add("firstByteMs", number_text(timeouts.first_byte_ms))
                           .add("requestMs", number_text(timeouts.request_ms))
                           .close())
      .add("health", ObjectText()
                         .add("consecutiveFailures", std::to_string(health.consecutive_failures))
                         .add("baseEjectionMs", number_text(health.base_ejection_ms))
                         .add("maxEjectionMs", number_text(health.max_ejection_ms))
                         .add("maxEjectionPercent", number_text(health.max_ejection_percent))
                         .add("panicRouting", bool_text(health.panic_routing))
                         .close())
      .add("limits", ObjectText()
                         .add("maxBodyBytes", std::to_string(config.limits.max_body_bytes))
                         .add("maxDepth", std::to_string(config.limits.max_depth))
                         .close())
      .add("discovery", ObjectText().add("describeTtlMs", number_text(config.discovery.describe_ttl_ms)).close())
      .add("backends", backends.close())
      .close();
}

}  // namespace router
