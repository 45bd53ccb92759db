#include "support/log_buffer.hpp"

#include "json/json_writer.hpp"

namespace router {

namespace {
constexpr size_t kMaxPendingLines = 1000;  // a shim that never drains must not grow memory forever

JsonWriter& start_line(JsonWriter& w, std::string_view level, std::string_view event,
                       std::initializer_list<LogBuffer::Field> fields) {
  w.begin_object().key("level").value(level).key("event").value(event);
  for (const auto& [name, value] : fields) w.key(name).value(value);
  return w;
}
}  // namespace

void LogBuffer::add(std::string_view level, std::string_view event, std::initializer_list<Field> fields) {
  if (lines_.size() >= kMaxPendingLines) return;
  JsonWriter w;
  lines_.push_back(start_line(w, level, event, fields).end_object().take());
}

void LogBuffer::add_number(std::string_view level, std::string_view event, std::initializer_list<Field> fields,
                           std::string_view number_name, double number) {
  if (lines_.size() >= kMaxPendingLines) return;
  JsonWriter w;
  lines_.push_back(start_line(w, level, event, fields).key(number_name).value(number).end_object().take());
}

void LogBuffer::add_line(std::string line) {
  if (lines_.size() >= kMaxPendingLines) return;
  lines_.push_back(std::move(line));
}

std::string LogBuffer::drain() {
  std::string out;
  for (const auto& line : lines_) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  lines_.clear();
  return out;
}

}  // namespace router
