// fuzz_request_validator: router::validate_request on every endpoint with the default limits.
// Invariants: exactly one of request / error; error statuses are 400 or 413; an accepted body has a
// non-empty model. The validator reads the body with its own one-pass scanner (json_scanner.hpp);
// its verdict is also compared with a plain nlohmann DOM parse of the same bytes checked against
// the documented rules (request_validator.hpp), so a scanner that accepts what it should refuse
// (or the reverse) is found.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "invariant.hpp"
#include "json_depth.hpp"
#include "api/request_validator.hpp"

namespace {

using nlohmann::json;
using router::Endpoint;

constexpr Endpoint kEndpoints[] = {Endpoint::ChatCompletions, Endpoint::Completions, Endpoint::Embeddings};
constexpr std::size_t kMaxModelBytes = 256;

const char* endpoint_name(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::ChatCompletions: return "chat";
    case Endpoint::Completions: return "completions";
    case Endpoint::Embeddings: return "embeddings";
  }
  return "?";
}

bool usable_model(const json& body) {
  auto model = body.find("model");
  if (model == body.end() || !model->is_string()) return false;
  const auto& text = model->get_ref<const std::string&>();
  if (text.empty() || text.size() > kMaxModelBytes) return false;
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

bool usable_stream(const json& body) {
  auto stream = body.find("stream");
  return stream == body.end() || stream->is_null() || stream->is_boolean();
}

bool usable_payload(Endpoint endpoint, const json& body) {
  switch (endpoint) {
    case Endpoint::ChatCompletions: {
      auto messages = body.find("messages");
      if (messages == body.end() || !messages->is_array() || messages->empty()) return false;
      for (const auto& message : *messages) {
        if (!message.is_object()) return false;
        auto role = message.find("role");
        if (role == message.end() || !role->is_string()) return false;
      }
      return true;
    }
    case Endpoint::Completions: {
      auto prompt = body.find("prompt");
      return prompt != body.end() && (prompt->is_string() || prompt->is_array());
    }
    case Endpoint::Embeddings: {
      auto input = body.find("input");
      if (input == body.end()) return false;
      // (nlohmann's empty() is false for every string, so strings are checked on their text.)
      if (input->is_string()) return !input->get_ref<const std::string&>().empty();
      return input->is_array() && !input->empty();
    }
  }
  return false;
}

std::string describe(Endpoint endpoint, const router::ValidationResult& result) {
  std::string text = std::string("endpoint ") + endpoint_name(endpoint) + ": ";
  if (result.request) text += "accepted, model '" + result.request->model + "'";
  if (result.error)
    text += "error " + std::to_string(result.error->status) + " '" + result.error->message + "' param '" +
            result.error->param + "'";
  if (!result.request && !result.error) text += "neither request nor error";
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const router::LimitConfig limits;  // the defaults: 1 MiB, depth 64

  // The oracle: a DOM parse (nlohmann reads a raw NUL as the end of input, so such bodies are
  // only required to be refused).
  const bool has_nul = body.find('\0') != std::string_view::npos;
  const json dom = has_nul ? json(json::value_t::discarded) : json::parse(body.begin(), body.end(), nullptr, false);
  const bool object = !dom.is_discarded() && dom.is_object();
  const bool shallow = object && json_depth(dom) <= limits.max_depth;

  for (Endpoint endpoint : kEndpoints) {
    const router::ValidationResult result = router::validate_request(endpoint, body, limits);
    FUZZ_CHECK(result.request.has_value() != result.error.has_value(), describe(endpoint, result));
    if (result.error) {
      FUZZ_CHECK(result.error->status == 400 || result.error->status == 413, describe(endpoint, result));
      FUZZ_CHECK(result.error->status != 413 || size > limits.max_body_bytes, describe(endpoint, result));
      FUZZ_CHECK(!result.error->message.empty(), describe(endpoint, result));
    }
    if (result.request) FUZZ_CHECK(!result.request->model.empty(), describe(endpoint, result));
    if (has_nul) {
      FUZZ_CHECK(result.error.has_value(), describe(endpoint, result) + " (the body holds a raw NUL byte)");
      continue;
    }

    const bool expected = shallow && usable_model(dom) && usable_stream(dom) && usable_payload(endpoint, dom);
    FUZZ_CHECK(result.request.has_value() == expected,
               describe(endpoint, result) + "; a DOM parse with the documented rules says " +
                   (expected ? "valid" : "invalid"));
    if (result.request) {
      FUZZ_CHECK(result.request->model == dom["model"].get_ref<const std::string&>(), describe(endpoint, result));
      const bool stream = dom.contains("stream") && dom["stream"].is_boolean() && dom["stream"].get<bool>();
      FUZZ_CHECK(result.request->stream == stream, describe(endpoint, result) + ": stream flag differs from the body");
    } else if (shallow) {
      // The checks run in a fixed order; the error names the first field that fails.
      const char* first_bad = !usable_model(dom) ? "model" : !usable_stream(dom) ? "stream" : nullptr;
      if (first_bad) FUZZ_CHECK(result.error->param == first_bad, describe(endpoint, result));
    }
  }
  return 0;
}
