// The ROUTER_CONFIG schema as one table: a row per setting (config_fields()), which
// parse_router_config reads and validates with and router_config_to_json writes with. Adding a
// setting is one row in router_config.cpp plus its member in router_config.hpp; the tests walk the
// table, so a row the reader or the writer cannot handle fails them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/router_config.hpp"

namespace router {

// The C++ type of a setting's member. It decides how the value is read, checked, written and
// described in the error message ("must be an integer in [1, 10]").
enum class FieldType : uint8_t {
  Strategy,         // Strategy: one of its names, "round-robin" | "least-inflight" | "peak-ewma"
  Uint32,           // an integer in [min, max]
  Uint64,           // an integer in [min, max]
  Number,           // double: a finite number in [min, max], (min, max] with min_exclusive
  Boolean,          // bool
  OptionalNumber,   // std::optional<double>: as Number; written only when set
  OptionalBoolean,  // std::optional<bool>: as Boolean; written only when set
  OptionalModels,   // std::optional<std::vector<std::string>>: non-empty; names of 1 to max bytes
  Backends,         // std::map<std::string, BackendOverride>: per binding, the kEachBackend rows
  Fallbacks,        // std::map<std::string, std::vector<std::string>>: model -> 1 to kMaxChain other models
};


// The FieldType of a member's C++ type. No definition for other types: a row for a member of
// a type the reader and the writer do not handle does not compile.
template <class T>
struct FieldTypeOf;
template <> struct FieldTypeOf<Strategy> { static constexpr FieldType type = FieldType::Strategy; };
template <> struct FieldTypeOf<uint32_t> { static constexpr FieldType type = FieldType::Uint32; };
template <> struct FieldTypeOf<uint64_t> { static constexpr FieldType type = FieldType::Uint64; };
template <> struct FieldTypeOf<double> { static constexpr FieldType type = FieldType::Number; };
template <> struct FieldTypeOf<bool> { static constexpr FieldType type = FieldType::Boolean; };
template <> struct FieldTypeOf<std::optional<double>> { static constexpr FieldType type = FieldType::OptionalNumber; };
template <> struct FieldTypeOf<std::optional<bool>> { static constexpr FieldType type = FieldType::OptionalBoolean; };
template <> struct FieldTypeOf<std::optional<std::vector<std::string>>> {
  static constexpr FieldType type = FieldType::OptionalModels;
};
template <> struct FieldTypeOf<std::map<std::string, std::vector<std::string>>> {
  static constexpr FieldType type = FieldType::Fallbacks;
};
template <> struct FieldTypeOf<std::map<std::string, BackendOverride>> {
  static constexpr FieldType type = FieldType::Backends;
};

// The section of the rows read in each backends.<binding> object; their owner is that binding's
// BackendOverride, every other row's is the RouterConfig.
inline constexpr char kEachBackend[] = "backends.*";

// The constructor takes the columns in the table's order. The members are laid out without
// padding (24 bytes a row in Wasm) and so that the zero columns of a row (min, not_above, ...) are
// not adjacent: wasm-opt cuts the data segment at each longer run of zero bytes, which costs more
// than it saves here.
struct ConfigField {
  constexpr ConfigField(const char* section, const char* key, FieldType type, uint16_t offset, uint32_t min = 0,
                        uint32_t max = 0, const char* not_above = nullptr, bool min_exclusive = false)
      : section(section), min(min), key(key), not_above(not_above), offset(offset), type(type),
        min_exclusive(min_exclusive), max(max) {}

  const char* section;    // the object holding the key: "" (top level), "retry", ..., kEachBackend
  uint32_t min;           // bounds of a number (OptionalModels, Fallbacks: of each name's length in bytes);
  const char* key;        // its camelCase key; the JSON path is section.key
  const char* not_above;  // Number: the key of a setting in the same section it must not exceed
  uint16_t offset;        // the member's offset in a RouterConfig or (kEachBackend) a BackendOverride
  FieldType type;         // of the member, FieldTypeOf its C++ type
  bool min_exclusive;     // (min, max] rather than [min, max]
  uint32_t max;           // whole numbers (min and max), which keeps the table small in Wasm
};

// A member of the object being read or written: its type and its address.
struct FieldRef {
  FieldType type;
  void* value;
};

inline FieldRef field_ref(const ConfigField& field, void* owner) {
  return {field.type, static_cast<char*>(owner) + field.offset};
}

// The rows in document order: the order settings are read, listed in "accepts: ..." messages and
// written. A section's rows are contiguous; the kEachBackend rows follow the backends row.
// Defaults are the members' initializers (RouterConfig{}).
std::span<const ConfigField> config_fields();

}  // namespace router
