#include "routing/usage_ledger.hpp"

#include "api/api_keys.hpp"
#include "api/stream_ending.hpp"
#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {
namespace {

// Counts beyond this are not a token count (and would lose precision as doubles).
constexpr double kMaxCount = 9007199254740991.0;  // 2^53 - 1
constexpr std::string_view kOther = "(other)";

std::optional<uint64_t> count_text(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::optional<uint64_t> count_value(const JsonValue* v) {
  if (!v || !v->is_number()) return std::nullopt;
  const double n = v->number();
  if (!(n >= 0 && n <= kMaxCount) || n != static_cast<double>(static_cast<uint64_t>(n))) return std::nullopt;
  return static_cast<uint64_t>(n);
}

// prompt + completion when total is absent; nullopt when neither count is there.
std::optional<TokenUsage> usage_from(std::optional<uint64_t> p, std::optional<uint64_t> c, std::optional<uint64_t> t) {
  if (!p && !c && !t) return std::nullopt;
  TokenUsage u{.prompt = p.value_or(0), .completion = c.value_or(0), .total = 0, .answers = 1};
  u.total = t ? *t : u.prompt + u.completion;
  return u;
}

TokenUsage& bounded_entry(std::map<std::string, TokenUsage>& map, std::string_view name) {
  auto it = map.find(std::string(name));
  if (it != map.end()) return it->second;
  if (map.size() >= UsageLedger::kMaxEntries) return map[std::string(kOther)];
  return map[std::string(name)];
}

}  // namespace

void TokenUsage::add(const TokenUsage& u) {
  prompt += u.prompt;
  completion += u.completion;
  total += u.total;
  answers += u.answers;
}

std::optional<TokenUsage> parse_usage_line(std::string_view line) {
  // Three fields split by single spaces; an empty field is a count the answer did not give.
  std::optional<uint64_t> counts[3];
  for (size_t i = 0; i < 3; ++i) {
    const size_t space = line.find(' ');
    if (i < 2 && space == std::string_view::npos) return std::nullopt;
    const std::string_view field = i < 2 ? line.substr(0, space) : line;  // the last: the rest
    if (!field.empty() && !(counts[i] = count_text(field))) return std::nullopt;
    if (i < 2) line = line.substr(space + 1);
  }
  return usage_from(counts[0], counts[1], counts[2]);
}

std::optional<TokenUsage> usage_of_stream_tail(std::string_view tail) {
  // The event before the last: `data: {...}` then `data: [DONE]`.
  const size_t done = tail.rfind("data: [DONE]");
  if (done == std::string_view::npos) return std::nullopt;
  const size_t start = tail.rfind("data: {", done);
  if (start == std::string_view::npos) return std::nullopt;
  std::string_view event = tail.substr(start + 6, done - start - 6);
  while (!event.empty() && (event.back() == '\n' || event.back() == '\r' || event.back() == ' ')) event.remove_suffix(1);
  JsonParse parsed = parse_json(event, 8);
  if (!parsed.ok || !parsed.root.is_object()) return std::nullopt;
  const JsonValue* usage = parsed.root.find("usage");
  if (!usage || !usage->is_object()) return std::nullopt;
  return usage_from(count_value(usage->find("prompt_tokens")), count_value(usage->find("completion_tokens")),
                    count_value(usage->find("total_tokens")));
}

namespace {

// The end of the JSON object starting at `at` (a '{'), strings skipped; npos when it does not end.
size_t object_end(std::string_view text, size_t at) {
  uint32_t depth = 0;
  bool in_string = false;
  for (size_t i = at; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i; else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Where the value of the last `"usage":` member whose value is an object starts, else npos.
size_t last_usage_object(std::string_view event) {
  constexpr std::string_view kKey = "\"usage\":";
  for (size_t key = event.rfind(kKey); key != std::string_view::npos; key = event.rfind(kKey, key - 1)) {
    size_t at = key + kKey.size();
    while (at < event.size() && (event[at] == ' ' || event[at] == '\t')) ++at;
    if (at < event.size() && event[at] == '{') return at;
    if (key == 0) break;
  }
  return std::string_view::npos;
}

std::optional<TokenUsage> usage_of_responses_tail(std::string_view tail) {
  const std::string_view event = last_event(tail).text;
  const size_t start = last_usage_object(event);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t end = object_end(event, start);
  if (end == std::string_view::npos) return std::nullopt;
  const JsonParse parsed = parse_json(event.substr(start, end - start), 8);
  if (!parsed.ok || !parsed.root.is_object()) return std::nullopt;
  return usage_from(count_value(parsed.root.find("input_tokens")), count_value(parsed.root.find("output_tokens")),
                    count_value(parsed.root.find("total_tokens")));
}

}  // namespace

std::optional<TokenUsage> usage_of_stream_tail(Endpoint endpoint, std::string_view tail) {
  return endpoint == Endpoint::Responses ? usage_of_responses_tail(tail) : usage_of_stream_tail(tail);
}

std::optional<TokenUsage> usage_of_usage_event(std::string_view event) {
  // The event's data: its `data:` lines (one space after the colon dropped), joined by newlines.
  std::string data;
  bool any = false;
  while (!event.empty()) {
    size_t eol = event.find_first_of("\r\n");
    const std::string_view line = event.substr(0, eol);
    if (line.substr(0, 5) == "data:") {
      std::string_view value = line.substr(5);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (any) data += '\n';
      data.append(value);
      any = true;
    }
    if (eol == std::string_view::npos) break;
    if (event[eol] == '\r' && eol + 1 < event.size() && event[eol + 1] == '\n') ++eol;
    event.remove_prefix(eol + 1);
  }
  JsonParse parsed = parse_json(data, 8);
  if (!parsed.ok || !parsed.root.is_object()) return std::nullopt;
  const JsonValue* choices = parsed.root.find("choices");
  const JsonValue* usage = parsed.root.find("usage");
  if (!choices || !choices->is_array() || choices->size() != 0 || !usage || !usage->is_object()) return std::nullopt;
  return usage_from(count_value(usage->find("prompt_tokens")), count_value(usage->find("completion_tokens")),
                    count_value(usage->find("total_tokens")));
}

std::string key_id(std::string_view auth_hash) {
  const std::string hash = normalize_sha256_hex(auth_hash);
  return hash.empty() ? "none" : "key-" + hash.substr(0, 12);
}

void UsageLedger::reset(size_t backends) {
  backends_.assign(backends, TokenUsage{});
  models_.clear();
  keys_.clear();
}

void UsageLedger::add(size_t backend, std::string_view model, std::string_view key, const TokenUsage& usage) {
  if (backend < backends_.size()) backends_[backend].add(usage);
  bounded_entry(models_, model).add(usage);
  bounded_entry(keys_, key).add(usage);
}

void UsageLedger::add_model(std::string_view model, const TokenUsage& usage) { bounded_entry(models_, model).add(usage); }

void UsageLedger::add_key(std::string_view key, const TokenUsage& usage) { bounded_entry(keys_, key).add(usage); }

void UsageLedger::merge(const UsageLedger& other) {
  for (size_t i = 0; i < other.backends_.size(); ++i) add_backend(i, other.backends_[i]);
  for (const auto& [model, usage] : other.models_) add_model(model, usage);
  for (const auto& [key, usage] : other.keys_) add_key(key, usage);
}

bool UsageLedger::empty() const {
  for (const TokenUsage& u : backends_)
    if (u != TokenUsage{}) return false;
  return models_.empty() && keys_.empty();
}

void UsageLedger::write(JsonWriter& w, const TokenUsage& u) {
  w.begin_object().key("prompt").value(u.prompt).key("completion").value(u.completion);
  w.key("total").value(u.total).key("answers").value(u.answers).end_object();
}

void UsageLedger::write_status(JsonWriter& w) const {
  w.begin_object().key("models").begin_object();
  for (const auto& [model, usage] : models_) write(w.key(model), usage);
  w.end_object().key("keys").begin_object();
  for (const auto& [key, usage] : keys_) write(w.key(key), usage);
  w.end_object().end_object();
}

}  // namespace router
