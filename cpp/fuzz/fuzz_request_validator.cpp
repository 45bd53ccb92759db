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

constexpr Endpoint kEndpoints[] = {Endpoint::ChatCompletions, Endpoint::Completions, Endpoint::Embeddings,
                                   Endpoint::Responses};
constexpr std::size_t kMaxModelBytes = 256;

bool usable_name(const json& value) {
  if (!value.is_string()) return false;
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty() || text.size() > kMaxModelBytes) return false;
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

bool usable_model(const json& body) {
  auto model = body.find("model");
  return model != body.end() && usable_name(*model);
}

// `models`: absent or null, else 1 to 8 distinct usable names, given once (`models_keys`).
bool usable_models(const json& body, size_t models_keys) {
  if (models_keys > 1) return false;
  auto models = body.find("models");
  if (models == body.end() || models->is_null()) return true;
  if (!models->is_array() || models->empty() || models->size() > router::kMaxChain) return false;
  for (size_t i = 0; i < models->size(); ++i) {
    if (!usable_name((*models)[i])) return false;
    for (size_t j = 0; j < i; ++j)
      if ((*models)[j] == (*models)[i]) return false;
  }
  return true;
}

// The model routed to: `model`, else (absent or null) the first of a usable `models`; "" when none.
std::string routed_model(const json& body, size_t models_keys) {
  if (usable_model(body)) return body["model"].get<std::string>();
  auto model = body.find("model");
  auto models = body.find("models");
  const bool absent = model == body.end() || model->is_null();
  if (!absent || !usable_models(body, models_keys) || models == body.end() || !models->is_array()) return {};
  return (*models)[0].get<std::string>();
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
    case Endpoint::Responses: {
      auto input = body.find("input");
      return input != body.end() && (input->is_string() || input->is_array());
    }
  }
  return false;
}

std::string describe(Endpoint endpoint, const router::ValidationResult& result) {
  std::string text = std::string("endpoint ") + std::string(router::endpoint_name(endpoint)) + ": ";
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
  // Top-level `models` keys counted (a DOM keeps only the last; the validator refuses a repeat).
  size_t models_keys = 0;
  const json::parser_callback_t count_models = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed == "models") models_keys++;
    return true;
  };
  const json dom =
      has_nul ? json(json::value_t::discarded) : json::parse(body.begin(), body.end(), count_models, false);
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

    const bool expected = shallow && usable_models(dom, models_keys) && !routed_model(dom, models_keys).empty() &&
                          usable_stream(dom) && usable_payload(endpoint, dom);
    FUZZ_CHECK(result.request.has_value() == expected,
               describe(endpoint, result) + "; a DOM parse with the documented rules says " +
                   (expected ? "valid" : "invalid"));
    if (result.request) {
      FUZZ_CHECK(result.request->model == routed_model(dom, models_keys), describe(endpoint, result));
      const bool stream = dom.contains("stream") && dom["stream"].is_boolean() && dom["stream"].get<bool>();
      FUZZ_CHECK(result.request->stream == stream, describe(endpoint, result) + ": stream flag differs from the body");
    } else if (shallow) {
      // The checks run in a fixed order; the error names the first field that fails.
      const char* first_bad = !usable_models(dom, models_keys)            ? "models"
                              : routed_model(dom, models_keys).empty() ? "model"
                              : !usable_stream(dom)                    ? "stream"
                                                                       : nullptr;
      // `models` errors name the list or one of its items (models[i]).
      if (first_bad) FUZZ_CHECK(result.error->param.rfind(first_bad, 0) == 0, describe(endpoint, result));
    }
  }
  return 0;
}
