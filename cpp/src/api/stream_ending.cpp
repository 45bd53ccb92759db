#include "api/stream_ending.hpp"

#include "api/openai_error.hpp"
#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {
namespace {

std::string_view trim_line_ends(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// The text after `field:` on a line that starts with it (one optional space), else nullopt.
std::optional<std::string_view> field_value(std::string_view line, std::string_view field) {
  if (line.substr(0, field.size()) != field || line.size() == field.size() || line[field.size()] != ':')
    return std::nullopt;
  line.remove_prefix(field.size() + 1);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

// Whether the stream's last line is `data: [DONE]`.
bool ends_with_done(std::string_view tail) {
  tail = trim_line_ends(tail);
  const size_t line_start = tail.find_last_of("\r\n");
  const std::string_view line = line_start == std::string_view::npos ? tail : tail.substr(line_start + 1);
  return field_value(line, "data") == std::string_view("[DONE]");
}

// The type of a Responses event: its `event:` line, else its data's "type" (nullopt when unknown).
std::optional<std::string> event_type(std::string_view event) {
  std::string data;
  while (!event.empty()) {
    const size_t end = event.find_first_of("\r\n");
    const std::string_view line = event.substr(0, end);
    event = end == std::string_view::npos ? std::string_view() : event.substr(end + 1);
    if (auto type = field_value(line, "event")) return std::string(*type);
    if (auto value = field_value(line, "data")) (data.empty() ? data : data += '\n') += *value;
  }
  const JsonParse parsed = parse_json(data, 64);
  const JsonValue* type = parsed.ok ? parsed.root.find("type") : nullptr;
  if (type == nullptr || !type->is_string()) return std::nullopt;
  return type->string();
}

bool responses_stream_completed(std::string_view tail) {
  const LastEvent last = last_event(tail);
  if (last.text.empty()) return false;
  const std::optional<std::string> type = event_type(last.text);
  if (!type) return !last.whole;  // the event began before the bytes kept: its type is unknown
  return *type == "response.completed" || *type == "response.failed" || *type == "response.incomplete";
}

}  // namespace

LastEvent last_event(std::string_view tail) {
  tail = trim_line_ends(tail);
  size_t cut = std::string_view::npos;
  for (std::string_view blank : {"\n\n", "\r\n\r\n", "\r\r"}) {
    const size_t at = tail.rfind(blank);
    if (at != std::string_view::npos && (cut == std::string_view::npos || at + blank.size() > cut))
      cut = at + blank.size();
  }
  if (cut != std::string_view::npos) return {tail.substr(cut), true};
  // No blank line: the tail is one event, whole when it starts with a field of one.
  const bool starts_event = tail.substr(0, 6) == "event:" || tail.substr(0, 5) == "data:" ||
                            tail.substr(0, 3) == "id:" || tail.substr(0, 1) == ":";
  return {tail, starts_event};
}

bool stream_completed(Endpoint endpoint, std::string_view tail) {
  return endpoint == Endpoint::Responses ? responses_stream_completed(tail) : ends_with_done(tail);
}

std::string stream_error_event(Endpoint endpoint, std::string_view message, std::string_view code) {
  if (endpoint != Endpoint::Responses) return "data: " + openai_error_body(message, "upstream_error", {}, code) + "\n\n";
  JsonWriter w;
  w.begin_object().key("type").value("error").key("code").value(code).key("message").value(message);
  w.key("param").null().end_object();
  return "event: error\ndata: " + w.take() + "\n\n";
}

}  // namespace router
