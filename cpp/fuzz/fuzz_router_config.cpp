// fuzz_router_config: router::parse_router_config on arbitrary text.
// Invariants: exactly one of config / error; an error either names a field (its message starts with
// that field's path, and the text is a JSON object whose top-level keys include the path's first
// part, so a path never names a different place) or is about the top level (an empty field: the text is not JSON, holds a NUL byte, is not
// an object, or is nested deeper than any valid config); a parsed config is within the documented ranges, and
// parse(router_config_to_json(c)) succeeds, equals c and prints the same JSON again. The ranges are
// those of the schema table (config/config_fields.hpp), plus the rules between fields.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "invariant.hpp"
#include "json_depth.hpp"
#include "config/config_fields.hpp"
#include "config/router_config.hpp"

namespace {

using nlohmann::json;

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }
bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// The field path begins with one of the document's top-level keys: a plain name up to the first
// '.' or '[', or a key quoted as JSON in brackets (["a.b"], [""]), decoded here with nlohmann.
bool path_starts_at_top_level_key(const json& document, std::string_view field) {
  std::string key;
  std::size_t rest = 0;
  if (starts_with(field, "[\"")) {
    std::size_t end = 2;
    while (end < field.size() && field[end] != '"') end += field[end] == '\\' ? 2 : 1;
    if (end >= field.size() || end + 1 >= field.size() || field[end + 1] != ']') return false;
    const json quoted = json::parse(field.substr(1, end), nullptr, false);
    if (!quoted.is_string()) return false;
    key = quoted.get<std::string>();
    rest = end + 2;
  } else {
    rest = std::min(field.find_first_of(".["), field.size());
    key = std::string(field.substr(0, rest));
  }
  if (rest < field.size() && field[rest] != '.' && field[rest] != '[') return false;
  return document.contains(key);
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string error_text(const router::ConfigResult& result) {
  if (!result.error) return result.config ? "parsed" : "neither config nor error";
  return "field '" + result.error->field + "': " + result.error->message;
}

// A number member of a table row within the row's bounds.
void check_row(const router::ConfigField& field, void* owner, const std::string& printed) {
  const router::FieldRef ref = router::field_ref(field, owner);
  double value = 0;
  if (ref.type == router::FieldType::Uint32) {
    value = *static_cast<const uint32_t*>(ref.value);
  } else if (ref.type == router::FieldType::Uint64) {
    value = static_cast<double>(*static_cast<const uint64_t*>(ref.value));
  } else if (ref.type == router::FieldType::Number) {
    value = *static_cast<const double*>(ref.value);
  } else if (ref.type == router::FieldType::OptionalNumber && static_cast<const std::optional<double>*>(ref.value)->has_value()) {
    value = **static_cast<const std::optional<double>*>(ref.value);
  } else {
    return;
  }
  const bool above_min = field.min_exclusive ? value > field.min : value >= field.min;
  FUZZ_CHECK(above_min && value <= field.max, std::string(field.section) + "." + field.key + " out of range: " + printed);
}

// Every row's bounds (from the schema table), then the rules the table does not hold as bounds.
void check_ranges(router::RouterConfig c, const std::string& printed) {
  for (const router::ConfigField& field : router::config_fields()) {
    if (std::string_view(field.section) != router::kEachBackend) {
      check_row(field, &c, printed);
      continue;
    }
    for (auto& [binding, override_] : c.backends) check_row(field, &override_, printed);
  }
  FUZZ_CHECK(c.retry.backoff_base_ms >= 0 && c.retry.backoff_base_ms <= c.retry.backoff_cap_ms, printed);
  FUZZ_CHECK(c.health.base_ejection_ms >= 0 && c.health.base_ejection_ms <= c.health.max_ejection_ms, printed);
  for (const auto& [binding, override_] : c.backends) {
    FUZZ_CHECK(starts_with(binding, "BACKEND_") && binding.size() > 8, printed);
    FUZZ_CHECK(!override_.weight || *override_.weight > 0, printed);
    FUZZ_CHECK(!override_.models || !override_.models->empty(), printed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const router::ConfigResult result = router::parse_router_config(text);
  FUZZ_CHECK(result.config.has_value() != result.error.has_value(), error_text(result));

  const bool has_nul = text.find('\0') != std::string_view::npos;
  const json document = has_nul ? json(json::value_t::discarded) : json::parse(text.begin(), text.end(), nullptr, false);
  const bool object = !document.is_discarded() && document.is_object();

  if (result.error) {
    const router::ConfigError& error = *result.error;
    FUZZ_CHECK(!error.message.empty(), error_text(result));
    // An empty field is about the top level (the key "" is written [""]).
    if (error.field.empty()) {
      // A JSON object only gets a top-level error when it is nested deeper than any valid config
      // (four levels: {"backends":{"BACKEND_A":{"models":[...]}}}).
      FUZZ_CHECK(!object || (json_depth(document) > 4 && contains(error.message, "nested deeper")),
                 error_text(result) + " (a top-level error for a JSON object)");
      FUZZ_CHECK(starts_with(error.message, "ROUTER_CONFIG"), error_text(result));
    } else {
      FUZZ_CHECK(object, error_text(result) + " (names a field, but the text is not a JSON object)");
      FUZZ_CHECK(starts_with(error.message, error.field), error_text(result));
      FUZZ_CHECK(path_starts_at_top_level_key(document, error.field), error_text(result));
    }
    return 0;
  }

  FUZZ_CHECK(!has_nul && (blank(text) || object), "accepted text that is not a JSON object");
  const router::RouterConfig& config = *result.config;
  const std::string printed = router_config_to_json(config);
  check_ranges(config, printed);

  const router::ConfigResult again = router::parse_router_config(printed);
  FUZZ_CHECK(again.config.has_value(), "router_config_to_json output does not parse: " + error_text(again) + "\n" + printed);
  FUZZ_CHECK(*again.config == config, "round trip changed the config:\n" + printed + "\n" +
                                          router_config_to_json(*again.config));
  FUZZ_CHECK(router_config_to_json(*again.config) == printed, "round trip printed differently:\n" + printed);
  return 0;
}
