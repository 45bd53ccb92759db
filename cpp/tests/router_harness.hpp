// RouterHarness: drives a Router the way the shim does, with a fake clock (`now`, advanced by
// hand) and fixed seeds, so every test run is the same.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "routing/router.hpp"

namespace router::testing {

constexpr double kT0 = 1'700'000'000'000;  // epoch ms
constexpr const char* kChatPath = "/v1/chat/completions";

inline std::string chat_body(std::string_view model = "m", bool stream = false) {
  return std::string(R"({"model":")") + std::string(model) + R"(","stream":)" + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":"hi"}]})";
}

// "Bearer <key>" hashes are computed by the shim; tests only need distinct well-formed hex.
inline std::string fake_hash(char digit) { return std::string(64, digit); }

// Typed reads of an action for assertions. `as<T>`: the action when it is a T, else a T with
// default values (a read of the wrong kind sees 0 / "", and the assertion on it fails).
template <class T>
const T& as(const Action& a) {
  static const T kNone{};
  const T* p = std::get_if<T>(&a);
  return p ? *p : kNone;
}
// The HTTP status of a Reply or Forward (0 for other kinds).
inline uint32_t http_status(const Action& a) {
  if (auto* r = std::get_if<Reply>(&a)) return r->status;
  return as<Forward>(a).status;
}
// The backend of a Call or Forward (0 for other kinds).
inline uint32_t backend_of(const Action& a) {
  if (auto* c = std::get_if<Call>(&a)) return c->backend;
  return as<Forward>(a).backend;
}
// A Call's attempt number; the attempts made for a Reply or Forward.
inline uint32_t attempts_of(const Action& a) {
  if (auto* c = std::get_if<Call>(&a)) return c->attempt;
  if (auto* r = std::get_if<Reply>(&a)) return r->attempts;
  return as<Forward>(a).attempts;
}
// The action's text, as the ABI puts it in the output buffer: a Call's request line, a Reply's
// headers and body, a Forward's headers, a RateLimit's key, a Discover's bindings ("" otherwise).
inline const std::string& text_of(const Action& a) {
  static const std::string kEmpty;
  if (auto* c = std::get_if<Call>(&a)) return c->request;
  if (auto* r = std::get_if<Reply>(&a)) return r->text;
  if (auto* f = std::get_if<Forward>(&a)) return f->headers;
  if (auto* l = std::get_if<RateLimit>(&a)) return l->key;
  if (auto* d = std::get_if<Discover>(&a)) return d->bindings;
  return kEmpty;
}

// Header value from a Reply / Forward action, nullopt when absent.
inline std::optional<std::string> header(const Action& a, std::string_view name) {
  std::string_view text = text_of(a);
  size_t end = kind(a) == ActionKind::Reply ? text.find("\n\n") : std::string_view::npos;
  std::string_view head = text.substr(0, end);
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos && line.substr(0, colon) == name) return std::string(line.substr(colon + 2));
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

inline std::string reply_body(const Action& a) {
  const std::string& text = text_of(a);
  size_t split = text.find("\n\n");
  return split == std::string::npos ? std::string() : text.substr(split + 2);
}

struct Described {
  std::string name;
  std::vector<std::string> models;
  double weight = 1;
};

class RouterHarness {
 public:
  double now = kT0;
  Router router;

  // Configures the bindings and (unless `discover` is false) feeds their describe() answers.
  std::string configure(const std::vector<std::string>& env, std::string_view router_config = "",
                        const std::vector<std::string>& key_hashes = {},
                        std::optional<std::string> admin_hash = std::nullopt) {
    std::string input = "{\"routerConfig\":";
    input += router_config.empty() ? std::string("null") : quote(router_config);
    input += ",\"apiKeyHashes\":[";
    for (size_t i = 0; i < key_hashes.size(); ++i) input += (i ? "," : "") + quote(key_hashes[i]);
    input += "],\"adminKeyHash\":" + (admin_hash ? quote(*admin_hash) : std::string("null"));
    input += ",\"envNames\":[";
    for (size_t i = 0; i < env.size(); ++i) input += (i ? "," : "") + quote(env[i]);
    input += "]}";
    std::string output;
    EXPECT_EQ(router.configure(input, now, output), 0);
    return output;
  }

  void describe(const std::vector<Described>& answers) {
    std::string json = "[";
    for (size_t i = 0; i < answers.size(); ++i) {
      const Described& d = answers[i];
      json += (i ? "," : "") + std::string("{\"name\":") + quote(d.name) + ",\"models\":[";
      for (size_t m = 0; m < d.models.size(); ++m) json += (m ? "," : "") + quote(d.models[m]);
      json += "],\"weight\":" + std::to_string(d.weight) + "}";
    }
    json += "]";
    ASSERT_EQ(router.describe(json, now), 0);
  }

  // n backends BACKEND_0.. serving "m", already described.
  void backends(size_t n, std::string_view router_config = "", const std::vector<double>& weights = {}) {
    std::vector<std::string> env;
    std::vector<Described> answers;
    for (size_t i = 0; i < n; ++i) {
      env.push_back("BACKEND_" + std::to_string(i));
      answers.push_back({"b" + std::to_string(i), {"m"}, i < weights.size() ? weights[i] : 1});
    }
    configure(env, router_config);
    describe(answers);
  }

  std::pair<uint32_t, Action> begin(std::string method, std::string path, std::string content_type = "application/json",
                                    std::string content_length = "", std::string request_id = "",
                                    std::string auth_hash = "") {
    uint32_t handle = next_handle_++;
    RequestHead head{std::move(method), std::move(path), std::move(content_type), std::move(content_length),
                     std::move(request_id), std::move(auth_hash)};
    const uint64_t seed = seed_++;
    return {handle, router.begin(handle, head, now, seed, seed * 0x9E3779B97F4A7C15ULL)};
  }

  // POST with a body: the action after the body was read (CALL, REPLY, DISCOVER...).
  std::pair<uint32_t, Action> post(std::string_view body, std::string path = kChatPath, std::string auth_hash = "") {
    auto [handle, first] = begin("POST", std::move(path), "application/json", "", "", std::move(auth_hash));
    if (kind(first) != ActionKind::ReadBody) return {handle, first};
    return {handle, exchange(handle).body(body, BodyRead::Complete, now)};
  }

  Exchange& exchange(uint32_t handle) {
    Exchange* e = router.exchange(handle);
    EXPECT_NE(e, nullptr);
    return *e;
  }

  // An answer in the shape the client asked for (a stream for a streaming request).
  Action outcome(uint32_t handle, AttemptOutcome o, uint32_t status = 0, std::string_view retry_after = "",
                 std::string_view retry_after_ms = "") {
    Exchange& e = exchange(handle);
    return e.outcome(o, status, e.wants_stream() ? AnswerBody::Stream : AnswerBody::Json, retry_after, retry_after_ms,
                     now);
  }
  Action answered(uint32_t handle, uint32_t status, std::string_view retry_after = "") {
    return outcome(handle, AttemptOutcome::Answered, status, retry_after);
  }
  Action threw(uint32_t handle) { return outcome(handle, AttemptOutcome::Threw); }

  // A forwarded stream ends, by default, as a good one does: with its [DONE] line.
  std::string end(uint32_t handle, EndHow how = EndHow::Completed, std::string_view tail = "data: [DONE]\n\n") {
    bool found = false;
    std::string out = router.end(handle, how, tail, now, found);
    EXPECT_TRUE(found);
    return out;
  }

  // One whole successful request; returns the backend index that served it.
  uint32_t serve_one() {
    auto [h, a] = post(chat_body());
    EXPECT_EQ(kind(a), ActionKind::Call);
    uint32_t backend = backend_of(a);
    EXPECT_EQ(kind(answered(h, 200)), ActionKind::Forward);
    end(h);
    return backend;
  }

  // Ejects backend 0 (its attempts throw, the others answer 200) with five failures, within 20
  // requests: a balancer that never picks it fails the test instead of hanging the suite.
  // Needs one attempt per request (retry.maxAttempts 1).
  void eject_backend_0() {
    int failures = 0;
    for (int request = 0; failures < 5; ++request) {
      ASSERT_LT(request, 20) << "backend 0 was picked only " << failures << " times in 20 requests";
      auto [e, call] = post(chat_body());
      ASSERT_EQ(kind(call), ActionKind::Call);
      if (backend_of(call) == 0) {
        threw(e);
        ++failures;
      } else {
        answered(e, 200);
      }
      end(e);
    }
  }

  uint64_t seed_ = 1;

 private:
  static std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }
  uint32_t next_handle_ = 1;
};

}  // namespace router::testing
