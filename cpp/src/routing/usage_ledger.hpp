// UsageLedger: the tokens backends reported in their answers' `usage`, added up per backend, per
// model and per API key (an id from the key's hash, never the key), for /status. Maps keyed by
// what clients choose (models, keys) are bounded: past kMaxEntries, new names count under "(other)".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/endpoint.hpp"

namespace router {

class JsonWriter;

struct TokenUsage {
  uint64_t prompt = 0;
  uint64_t completion = 0;
  uint64_t total = 0;
  uint64_t answers = 0;  // answers that reported usage

  void add(const TokenUsage& u);
  bool operator==(const TokenUsage&) const = default;
};

// `usage` as the shim passes it ("prompt completion total", whole numbers), checked: nullopt for
// anything else (a backend's answer is hostile until checked).
std::optional<TokenUsage> parse_usage_line(std::string_view line);
// The usage a stream reported in its last event before `data: [DONE]`, when that event is whole
// within `tail` (the stream's last bytes); nullopt otherwise.
std::optional<TokenUsage> usage_of_stream_tail(std::string_view tail);
// The same for `endpoint`'s streams. A Responses stream reports it in its last event
// (`response.completed`): `response.usage` {input_tokens, output_tokens, total_tokens}, read as
// the last `"usage":{...}` object of that event within `tail` (usage is near the end of a Response
// object, after its output, which may not fit in the tail).
std::optional<TokenUsage> usage_of_stream_tail(Endpoint endpoint, std::string_view tail);
// The usage of one SSE event (its bytes up to and with the blank line that ends it) when it is
// the usage-only event a stream asked for it ends with (OpenAI's `choices: []` and a `usage`
// object); nullopt for any other event.
std::optional<TokenUsage> usage_of_usage_event(std::string_view event);
// The id /status shows for a client key: "key-" + 12 hex digits of its SHA-256 ("none" without one).
std::string key_id(std::string_view auth_hash);

class UsageLedger {
 public:
  static constexpr size_t kMaxEntries = 200;

  void reset(size_t backends);
  void add(size_t backend, std::string_view model, std::string_view key, const TokenUsage& usage);
  // The parts one at a time (a cluster message's entries), bounded as add's.
  void add_backend(size_t backend, const TokenUsage& usage) {
    if (backend < backends_.size()) backends_[backend].add(usage);
  }
  void add_model(std::string_view model, const TokenUsage& usage);
  void add_key(std::string_view key, const TokenUsage& usage);
  // Adds another ledger of the same backend list.
  void merge(const UsageLedger& other);
  // Nothing counted (a report then has no usage to send).
  bool empty() const;

  // Backend i's tokens (none for an index past the list).
  const TokenUsage& backend(size_t i) const {
    static const TokenUsage kNone;
    return i < backends_.size() ? backends_[i] : kNone;
  }
  const std::map<std::string, TokenUsage>& models() const { return models_; }
  const std::map<std::string, TokenUsage>& keys() const { return keys_; }

  // {"prompt","completion","total","answers"}
  static void write(JsonWriter& w, const TokenUsage& u);
  // {"models": {...}, "keys": {...}}
  void write_status(JsonWriter& w) const;

 private:
  std::vector<TokenUsage> backends_;
  std::map<std::string, TokenUsage> models_;
  std::map<std::string, TokenUsage> keys_;
};

}  // namespace router
