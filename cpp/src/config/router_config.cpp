#include "config/router_config.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "config/config_fields.hpp"
#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {
namespace {

constexpr uint32_t kMaxDurationMs = 86400000;  // one day: longer is a typo, and keeps sums of times exact
constexpr uint32_t kMaxWeight = 1000000;
constexpr uint32_t kMaxBodyBytes = 33554432;  // 32 MiB: the body is copied into Wasm memory
constexpr uint32_t kMaxDepth = 256;
constexpr uint32_t kMaxModelBytes = 256;      // same limit as a request's `model`
constexpr uint32_t kMaxNesting = 64;          // the text itself; valid settings need 4 levels
constexpr uint32_t kMaxRetryAfterSeconds = 86400;
constexpr const char* kStrategyNames[] = {"round-robin", "least-inflight", "peak-ewma"};  // indexed by Strategy

// A row's type and offset columns: the member it fills in the RouterConfig (POLICY) or, for the
// kEachBackend rows, in one BackendOverride (BACKEND); its type follows from the member's. An
// offset rather than an accessor function per row keeps the table small in Wasm. Neither struct
// is standard-layout (std::map, std::optional members), where offsetof is conditionally
// supported: Clang and GCC support it for a class without virtual bases, as here.
#define ROUTER_FIELD(Owner, member)                           \
  FieldTypeOf<decltype(std::declval<Owner&>().member)>::type, \
      static_cast<uint16_t>(offsetof(Owner, member))
#define POLICY(member) ROUTER_FIELD(RouterConfig, member)
#define BACKEND(member) ROUTER_FIELD(BackendOverride, member)

// ROUTER_CONFIG: one row per setting, in document order (config_fields.hpp says what drives what;
// docs/configuration.md documents each one). Defaults are the members' initializers.
//  section, key, type and member, min, max[, not_above, min_exclusive]
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
constexpr ConfigField kFields[] = {
    {"", "strategy", POLICY(strategy)},
    {"retry", "maxAttempts", POLICY(retry.max_attempts), 1, 10},
    {"retry", "backoffBaseMs", POLICY(retry.backoff_base_ms), 0, kMaxDurationMs, "backoffCapMs"},
    {"retry", "backoffCapMs", POLICY(retry.backoff_cap_ms), 0, kMaxDurationMs},
    {"retry", "retryAfterCapMs", POLICY(retry.retry_after_cap_ms), 0, kMaxDurationMs},
    {"retry", "budgetPercent", POLICY(retry.budget_percent), 0, 100},
    {"retry", "budgetMinRetries", POLICY(retry.budget_min_retries), 0, 1000},
    {"timeouts", "perTryMs", POLICY(timeouts.per_try_ms), 1, kMaxDurationMs},
    {"timeouts", "firstByteMs", POLICY(timeouts.first_byte_ms), 1, kMaxDurationMs},
    {"timeouts", "requestMs", POLICY(timeouts.request_ms), 1, kMaxDurationMs},
    {"timeouts", "streamIdleMs", POLICY(timeouts.stream_idle_ms), 1, kMaxDurationMs},
    {"health", "consecutiveFailures", POLICY(health.consecutive_failures), 1, 1000},
    {"health", "baseEjectionMs", POLICY(health.base_ejection_ms), 0, kMaxDurationMs, "maxEjectionMs"},
    {"health", "maxEjectionMs", POLICY(health.max_ejection_ms), 0, kMaxDurationMs},
    {"health", "maxEjectionPercent", POLICY(health.max_ejection_percent), 0, 100},
    {"health", "panicRouting", POLICY(health.panic_routing)},
    {"limits", "maxBodyBytes", POLICY(limits.max_body_bytes), 1, kMaxBodyBytes},
    {"limits", "maxDepth", POLICY(limits.max_depth), 1, kMaxDepth},
    {"discovery", "describeTtlMs", POLICY(discovery.describe_ttl_ms), 0, kMaxDurationMs},
    {"discovery", "describeTimeoutMs", POLICY(discovery.describe_timeout_ms), 1, 60000},
    {"rateLimit", "retryAfterSeconds", POLICY(rate_limit.retry_after_seconds), 1, kMaxRetryAfterSeconds},
    {"controlPlane", "syncIntervalMs", POLICY(control_plane.sync_interval_ms), 100, 60000},
    {"controlPlane", "firstSyncWaitMs", POLICY(control_plane.first_sync_wait_ms), 0, 1000},
    {"controlPlane", "timeoutMs", POLICY(control_plane.timeout_ms), 50, 10000},
    {"usage", "streamUsage", POLICY(usage.stream_usage)},
    {"accessLog", "sampleRate", POLICY(access_log.sample_rate), 0, 1},
    {"", "fallbacks", POLICY(fallbacks), 1, kMaxModelBytes},
    {"", "backends", POLICY(backends)},
    {kEachBackend, "weight", BACKEND(weight), 0, kMaxWeight, nullptr, /*min_exclusive=*/true},
    {kEachBackend, "models", BACKEND(models), 1, kMaxModelBytes},
    {kEachBackend, "enabled", BACKEND(enabled)},
};
#pragma GCC diagnostic pop
static_assert(sizeof(RouterConfig) <= UINT16_MAX && sizeof(BackendOverride) <= UINT16_MAX, "offsets fit the column");

#undef POLICY
#undef BACKEND
#undef ROUTER_FIELD

bool same(const char* a, const char* b) { return std::strcmp(a, b) == 0; }

// Row i opens a section of the top level: its first row, neither top-level nor per binding.
bool starts_section(std::size_t i) {
  const char* section = kFields[i].section;
  return section[0] != '\0' && !same(section, kEachBackend) && (i == 0 || !same(kFields[i - 1].section, section));
}

const ConfigField* find_field(const char* section, const char* key) {
  for (const ConfigField& field : kFields) {
    if (same(field.section, section) && same(field.key, key)) return &field;
  }
  return nullptr;
}

std::string join_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  append_path_key(path, key);
  return path;
}

// Whole numbers without a fraction ("25", not "25.0"); others as the shortest text that reads
// back as the same double, so the policy round-trips exactly (JsonWriter's number format).
std::string number_text(double value) { return JsonWriter().value(value).take(); }

// `"a", "b" or "c"`.
std::string alternatives(const char* const* names, std::size_t count) {
  std::string text;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) text += i + 1 == count ? " or " : ", ";
    text += '"';
    text += names[i];
    text += '"';
  }
  return text;
}

// What a valid value of `field` is, as the end of its error message.
std::string expectation(const ConfigField& field, FieldType type) {
  const std::string bounds = number_text(field.min) + ", " + number_text(field.max) + "]";
  switch (type) {
    case FieldType::Strategy:
      return "must be " + alternatives(kStrategyNames, std::size(kStrategyNames));
    case FieldType::Uint32:
    case FieldType::Uint64:
      return "must be an integer in [" + bounds;
    case FieldType::Number:
    case FieldType::OptionalNumber:
      return std::string("must be a finite number in ") + (field.min_exclusive ? "(" : "[") + bounds;
    case FieldType::Boolean:
    case FieldType::OptionalBoolean:
      return "must be true or false";
    case FieldType::OptionalModels:
      return "must be a non-empty array of model names (use \"enabled\": false to disable a backend)";
    case FieldType::Fallbacks:
      return "must be an object mapping a model to an array of up to " + number_text(kMaxChain) + " other models";
    case FieldType::Backends:
      break;
  }
  return "must be an object";
}

// Reads the settings of one JSON object. Keeps the first error; a lookup after an error finds
// nothing. finish() then reports keys no lookup asked for, so typos are not ignored.
class ObjectReader {
 public:
  ObjectReader(const JsonValue& object, std::string path, std::optional<ConfigError>& error)
      : object_(object), path_(std::move(path)), error_(error) {}

  const std::string& path() const { return path_; }
  std::optional<ConfigError>& error() { return error_; }

  // Claims `key` and returns its value when present and no error happened yet.
  const JsonValue* lookup(const char* key) {
    known_.emplace_back(key);
    if (error_) return nullptr;
    return object_.find(key);
  }

  // Records "<path>.<key> <what>" unless an error is recorded already.
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

bool usable_name(std::string_view name, std::size_t min_bytes, std::size_t max_bytes) {
  if (name.size() < min_bytes || name.size() > max_bytes) return false;
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

// A whole number (3, 3.0, 1e6) in [field.min, field.max].
bool read_integer(const JsonValue& value, const ConfigField& field, uint64_t& out) {
  const double number = value.is_number() ? value.number() : NAN;
  if (!std::isfinite(number) || number != std::floor(number) || number < field.min || number > field.max) return false;
  out = static_cast<uint64_t>(number);
  return true;
}

// A finite number in [field.min, field.max], or in (field.min, field.max] when min_exclusive.
bool read_number(const JsonValue& value, const ConfigField& field, double& out) {
  const double number = value.is_number() ? value.number() : NAN;
  const bool above_min = field.min_exclusive ? number > field.min : number >= field.min;
  if (!std::isfinite(number) || !above_min || number > field.max) return false;
  out = number;
  return true;
}

bool read_strategy(const JsonValue& value, Strategy& out) {
  for (std::size_t i = 0; i < std::size(kStrategyNames) && value.is_string(); ++i) {
    if (value.string() != kStrategyNames[i]) continue;
    out = static_cast<Strategy>(i);
    return true;
  }
  return false;
}

// A bad name is reported at its index (the array's own message then loses: the first error stays).
bool read_models(ObjectReader& reader, const ConfigField& field, const JsonValue& value,
                 std::optional<std::vector<std::string>>& out) {
  if (!value.is_array() || value.size() == 0) return false;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const JsonValue& model = value.item(i);
    if (!model.is_string() || !usable_name(model.string(), field.min, field.max)) {
      reader.fail_item(field.key, i, "must be a non-empty string of at most " + number_text(field.max) +
                                         " bytes without control characters");
      return false;
    }
    names.push_back(model.string());
  }
  out = std::move(names);
  return true;
}

void read_object(const JsonValue& object, std::string path, const char* section, void* owner,
                 std::optional<ConfigError>& error);

// One chain, fallbacks.<model>: 1 to kMaxChain names, none of them the model itself or repeated
// (either would loop). Chains are not followed transitively, so no other loop can form.
void read_chain(ObjectReader& reader, const ConfigField& field, const std::string& model, const JsonValue& value,
                std::vector<std::string>& out) {
  const std::string path = join_path(join_path(reader.path(), field.key), model);
  std::optional<ConfigError>& error = reader.error();
  if (!usable_name(model, field.min, field.max)) {
    error = ConfigError{path, path + ": a model name is 1 to " + number_text(field.max) +
                                  " bytes without control characters"};
    return;
  }
  if (!value.is_array() || value.size() == 0 || value.size() > kMaxChain) {
    error = ConfigError{path, path + " must be a non-empty array of at most " + number_text(kMaxChain) + " models"};
    return;
  }
  for (std::size_t i = 0; i < value.size() && !error; ++i) {
    const JsonValue& item = value.item(i);
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!item.is_string() || !usable_name(item.string(), field.min, field.max)) {
      error = ConfigError{at, at + " must be a non-empty string of at most " + number_text(field.max) +
                                  " bytes without control characters"};
    } else if (item.string() == model || std::find(out.begin(), out.end(), item.string()) != out.end()) {
      error = ConfigError{at, at + " (\"" + item.string() + "\") makes the chain loop: " +
                                  (item.string() == model ? "it is the model itself" : "it is listed twice")};
    } else {
      out.push_back(item.string());
    }
  }
}

void read_fallbacks(ObjectReader& reader, const ConfigField& field, const JsonValue& value,
                    std::map<std::string, std::vector<std::string>>& out) {
  for (std::size_t i = 0; i < value.size() && !reader.error(); ++i)
    read_chain(reader, field, value.key(i), value.item(i), out[value.key(i)]);
}

// Each member of the backends object configures one binding, with the kEachBackend rows.
void read_backends(ObjectReader& reader, const char* key, const JsonValue& value,
                   std::map<std::string, BackendOverride>& out) {
  std::optional<ConfigError>& error = reader.error();
  const char* keys[std::size(kFields)];
  std::size_t count = 0;
  for (const ConfigField& field : kFields) {
    if (same(field.section, kEachBackend)) keys[count++] = field.key;
  }
  for (std::size_t i = 0; i < value.size() && !error; ++i) {
    const std::string& name = value.key(i);
    const std::string path = join_path(join_path(reader.path(), key), name);
    if (!valid_binding_name(name)) {
      error = ConfigError{path, path + ": a backend binding name is BACKEND_ followed by letters, digits or _"};
    } else if (!value.item(i).is_object()) {
      error = ConfigError{path, path + " must be an object with " + alternatives(keys, count)};
    } else {
      read_object(value.item(i), path, kEachBackend, &out[name], error);
    }
  }
}

// Stores `value` in `ref`, the member of `field`; false when the value is not valid for it.
bool store(ObjectReader& reader, const ConfigField& field, const JsonValue& value, FieldRef ref) {
  uint64_t integer = 0;
  double number = 0;
  switch (ref.type) {
    case FieldType::Strategy:
      return read_strategy(value, *static_cast<Strategy*>(ref.value));
    case FieldType::Uint32:
      if (!read_integer(value, field, integer)) return false;
      *static_cast<uint32_t*>(ref.value) = static_cast<uint32_t>(integer);
      return true;
    case FieldType::Uint64:
      return read_integer(value, field, *static_cast<uint64_t*>(ref.value));
    case FieldType::Number:
      return read_number(value, field, *static_cast<double*>(ref.value));
    case FieldType::OptionalNumber:
      if (!read_number(value, field, number)) return false;
      *static_cast<std::optional<double>*>(ref.value) = number;
      return true;
    case FieldType::Boolean:
      if (value.is_boolean()) *static_cast<bool*>(ref.value) = value.boolean();
      return value.is_boolean();
    case FieldType::OptionalBoolean:
      if (value.is_boolean()) *static_cast<std::optional<bool>*>(ref.value) = value.boolean();
      return value.is_boolean();
    case FieldType::OptionalModels:
      return read_models(reader, field, value, *static_cast<std::optional<std::vector<std::string>>*>(ref.value));
    case FieldType::Fallbacks:
      if (!value.is_object()) return false;
      read_fallbacks(reader, field, value, *static_cast<std::map<std::string, std::vector<std::string>>*>(ref.value));
      return true;
    case FieldType::Backends:
      if (!value.is_object()) return false;
      read_backends(reader, field.key, value, *static_cast<std::map<std::string, BackendOverride>*>(ref.value));
      return true;
  }
  return false;
}

void read_field(ObjectReader& reader, const ConfigField& field, void* owner) {
  const JsonValue* value = reader.lookup(field.key);
  if (value == nullptr) return;
  const FieldRef ref = field_ref(field, owner);
  if (!store(reader, field, *value, ref)) reader.fail(field.key, expectation(field, ref.type));
}

// The section `key` of the top level, when present: an object holding the rows of that section.
void read_section(ObjectReader& top, const char* key, void* owner) {
  const JsonValue* value = top.lookup(key);
  if (value == nullptr) return;
  if (!value->is_object()) return top.fail(key, "must be an object");
  read_object(*value, join_path(top.path(), key), key, owner, top.error());
}

// The rows of `section` from `object` into `owner`; for the top level ("") its sections too.
void read_object(const JsonValue& object, std::string path, const char* section, void* owner,
                 std::optional<ConfigError>& error) {
  ObjectReader reader(object, std::move(path), error);
  for (std::size_t i = 0; i < std::size(kFields); ++i) {
    if (same(kFields[i].section, section)) {
      read_field(reader, kFields[i], owner);
    } else if (section[0] == '\0' && starts_section(i)) {
      read_section(reader, kFields[i].section, owner);
    }
  }
  reader.finish();
}

// Rules between fields (not_above), checked once each field is valid on its own.
void check_not_above(RouterConfig& config, std::optional<ConfigError>& error) {
  for (const ConfigField& field : kFields) {
    const ConfigField* cap = field.not_above != nullptr ? find_field(field.section, field.not_above) : nullptr;
    if (cap == nullptr || error) continue;
    const double value = *static_cast<const double*>(field_ref(field, &config).value);
    const double limit = *static_cast<const double*>(field_ref(*cap, &config).value);
    if (value <= limit) continue;
    const std::string path = join_path(field.section, field.key);
    error = ConfigError{path, path + " (" + number_text(value) + ") must not exceed " +
                                  join_path(cap->section, cap->key) + " (" + number_text(limit) + ")"};
  }
}

void read_config(const JsonValue& document, RouterConfig& config, std::optional<ConfigError>& error) {
  read_object(document, "", "", &config, error);
  if (!error) check_not_above(config, error);
}

void write_object(JsonWriter& w, const char* section, void* owner);

// `owner` is only read: the member accessors take a mutable object, for the reader's sake.
void write_field(JsonWriter& w, const ConfigField& field, void* owner) {
  const FieldRef ref = field_ref(field, owner);
  const void* value = ref.value;
  switch (ref.type) {
    case FieldType::Strategy:
      w.key(field.key).value(kStrategyNames[static_cast<std::size_t>(*static_cast<const Strategy*>(value))]);
      break;
    case FieldType::Uint32:
      w.key(field.key).value(*static_cast<const uint32_t*>(value));
      break;
    case FieldType::Uint64:
      w.key(field.key).value(*static_cast<const uint64_t*>(value));
      break;
    case FieldType::Number:
      w.key(field.key).value(*static_cast<const double*>(value));
      break;
    case FieldType::Boolean:
      w.key(field.key).value(*static_cast<const bool*>(value));
      break;
    case FieldType::OptionalNumber:
      if (const auto& number = *static_cast<const std::optional<double>*>(value)) w.key(field.key).value(*number);
      break;
    case FieldType::OptionalBoolean:
      if (const auto& flag = *static_cast<const std::optional<bool>*>(value)) w.key(field.key).value(*flag);
      break;
    case FieldType::OptionalModels:
      if (const auto& models = *static_cast<const std::optional<std::vector<std::string>>*>(value)) {
        w.key(field.key).strings(*models);
      }
      break;
    case FieldType::Fallbacks:
      w.key(field.key).begin_object();
      for (const auto& [model, chain] : *static_cast<const std::map<std::string, std::vector<std::string>>*>(value))
        w.key(model).strings(chain);
      w.end_object();
      break;
    case FieldType::Backends:
      w.key(field.key).begin_object();
      for (const auto& [name, override_] : *static_cast<const std::map<std::string, BackendOverride>*>(value)) {
        w.key(name);
        write_object(w, kEachBackend, const_cast<BackendOverride*>(&override_));
      }
      w.end_object();
      break;
  }
}

// The rows of `section` as one object; for the top level (""), each section as an object in it.
void write_object(JsonWriter& w, const char* section, void* owner) {
  w.begin_object();
  const char* open = section;  // the section whose rows are being written
  for (const ConfigField& field : kFields) {
    if (section[0] != '\0' ? !same(field.section, section) : same(field.section, kEachBackend)) continue;
    if (!same(field.section, open)) {
      if (!same(open, section)) w.end_object();
      open = field.section;
      if (!same(open, section)) w.key(open).begin_object();
    }
    write_field(w, field, owner);
  }
  if (!same(open, section)) w.end_object();
  w.end_object();
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

std::span<const ConfigField> config_fields() { return kFields; }

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
  write_object(w, "", const_cast<RouterConfig*>(&config));
  return w.take();
}

}  // namespace router
