#include "routing/access_summary.hpp"

#include "json/json_writer.hpp"

namespace router {

namespace {
// Analytics Engine keeps a blob of at most a few KB and all of a point's blobs in 16 KB: names
// from outside (models) are cut so a point is never refused for its size.
constexpr size_t kMaxBlobBytes = 256;

std::string_view cut(std::string_view text) { return text.substr(0, kMaxBlobBytes); }
}  // namespace

bool access_sampled(double sample_rate, SplitMix64& rng) {
  if (!(sample_rate > 0)) return false;
  return sample_rate >= 1 || rng.unit() < sample_rate;
}

std::string analytics_data_point(const AccessSummary& s) {
  JsonWriter w;
  w.begin_object().key("indexes").begin_array().value(s.key_id).end_array();
  w.key("blobs").begin_array();
  for (std::string_view blob : {s.backend, s.model_requested, s.model_served, s.error, s.key_id, s.path, s.request_id})
    w.value(cut(blob));
  w.end_array().key("doubles").begin_array();
  w.value(s.status).value(s.attempts).value(s.router_ms).value(s.backend_ms);
  w.value(s.prompt_tokens).value(s.completion_tokens).value(s.total_tokens).value(s.stream ? 1u : 0u);
  return w.end_array().end_object().take();
}

std::string access_log_line(const AccessSummary& s) {
  JsonWriter w;
  w.begin_object().key("level").value("info").key("event").value("access");
  w.key("requestId").value(s.request_id).key("path").value(cut(s.path)).key("backend").value(s.backend);
  w.key("model").value(cut(s.model_requested)).key("modelServed").value(cut(s.model_served));
  w.key("status").value(s.status).key("attempts").value(s.attempts);
  w.key("routerMs").value(s.router_ms).key("backendMs").value(s.backend_ms);
  w.key("promptTokens").value(s.prompt_tokens).key("completionTokens").value(s.completion_tokens);
  w.key("totalTokens").value(s.total_tokens).key("keyId").value(s.key_id).key("error").value(s.error);
  return w.key("stream").value(s.stream).end_object().take();
}

}  // namespace router
