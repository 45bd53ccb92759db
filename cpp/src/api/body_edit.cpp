#include "api/body_edit.hpp"

#include <algorithm>

#include "json/json_writer.hpp"

namespace router {

bool asks_stream_usage(const ValidRequest& request) { return request.usage_edit.has_value(); }

bool body_needs_edit(const ValidRequest& request, std::string_view client_model, std::string_view model) {
  return request.models_member.has_value() || model != client_model || asks_stream_usage(request);
}

std::string body_for_model(std::string_view body, const ValidRequest& request, std::string_view model) {
  struct Edit {
    BodySpan span;
    std::string text;
  };
  Edit edits[3];
  int count = 0;
  const std::string quoted = json_quote(model);
  if (request.model_value) edits[count++] = {*request.model_value, quoted};
  if (request.models_member)
    edits[count++] = {*request.models_member, request.model_value ? std::string() : "\"model\":" + quoted};
  if (request.usage_edit) edits[count++] = {*request.usage_edit, request.usage_edit_text};
  // In body order; an insertion before a removal that starts where it goes.
  std::sort(edits, edits + count, [](const Edit& a, const Edit& b) {
    return a.span.at < b.span.at || (a.span.at == b.span.at && a.span.len < b.span.len);
  });
  std::string out;
  out.reserve(body.size() + quoted.size() + 48);
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
