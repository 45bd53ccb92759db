#include "api/body_edit.hpp"

#include "json/json_writer.hpp"

namespace router {

bool body_needs_edit(const ValidRequest& request, std::string_view client_model, std::string_view model) {
  return request.models_member.has_value() || model != client_model;
}

std::string body_for_model(std::string_view body, const ValidRequest& request, std::string_view model) {
  struct Edit {
    BodySpan span;
    std::string text;
  };
  Edit edits[2];
  int count = 0;
  const std::string quoted = json_quote(model);
  if (request.model_value) edits[count++] = {*request.model_value, quoted};
  if (request.models_member)
    edits[count++] = {*request.models_member, request.model_value ? std::string() : "\"model\":" + quoted};
  if (count == 2 && edits[1].span.at < edits[0].span.at) std::swap(edits[0], edits[1]);
  std::string out;
  out.reserve(body.size() + quoted.size());
  std::size_t from = 0;
  for (int i = 0; i < count; ++i) {
    const BodySpan& span = edits[i].span;
    if (span.at < from || span.at + span.len > body.size()) return std::string(body);  // cannot happen
    out.append(body.substr(from, span.at - from)).append(edits[i].text);
    from = span.at + span.len;
  }
  out.append(body.substr(from));
  return out;
}

}  // namespace router
