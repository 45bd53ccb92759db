// LogBuffer: pending structured log lines (one JSON object per line) until the shim drains them.
// Callers must never pass keys, Authorization values or prompt text.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace router {

class LogBuffer {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  // Appends {"level":..,"event":..,<fields as strings>}.
  void add(std::string_view level, std::string_view event, std::initializer_list<Field> fields = {});
  // Same, with one numeric field (e.g. an ejection duration) emitted as a JSON number.
  void add_number(std::string_view level, std::string_view event, std::initializer_list<Field> fields,
                  std::string_view number_name, double number);

  // Appends a line made elsewhere (one JSON object, no line break).
  void add_line(std::string line);

  // All pending lines joined by '\n'; clears them.
  std::string drain();
  size_t size() const { return lines_.size(); }

 private:
  std::vector<std::string> lines_;
};

}  // namespace router
