// fuzz_exchange_events: drives the real ABI (cpp/src/abi.cpp, called natively as the JS shim calls
// the Wasm exports) with an event sequence decoded from the input bytes:
//   1. configure: 1..8 BACKEND_ bindings (and maybe a RATE_LIMITER), a generated ROUTER_CONFIG
//      (random maxAttempts, timeouts, backoff, health, limits, overrides; now and then a deliberate
//      mistake), optional API key and admin key hashes; describe() answers (some failing) fed
//      whenever an exchange asks to DISCOVER;
//   2. events, interleaved over up to 12 concurrent exchanges: begin (fuzzed head and body), the
//      event each exchange's last action calls for (the rate limiter's answer, body, describe +
//      resume, an outcome with a random status / Retry-After / throw / timeout, resume after WAIT,
//      end with how 0/1/2),
//      out-of-order events and bad arguments, calls with bad handles, and time moving forward by
//      fuzzed amounts;
//   3. every exchange ended, then /status must show nothing left in flight.
// Invariants (FUZZ_CHECK traps): at most maxAttempts CALLs per exchange, attempt numbers 1, 2, ...;
// a CALL carries the exchange's deadline, starts before it and its timeout ends by it; no WAIT ends
// past the deadline; CALLs go only to backends serving the model; REPLY statuses are the contract's
// and REPLY bodies are OpenAI-shaped JSON; FORWARD passes the backend's status; RATE_LIMIT comes
// only with a RATE_LIMITER binding, with a key that is a hash prefix or an address; a live handle's
// proper event never answers kind 0 or a kind outside 1..7, while out-of-order events, bad
// arguments and bad handles always answer errors; logs are JSON lines without prompt text; nothing
// stays in flight. ASan / UBSan catch crashes, leaks and undefined behaviour.
// FUZZ_TRACE=1 in the environment prints every event (for reproducing a crash).
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "byte_reader.hpp"
#include "invariant.hpp"
#include "router_abi.hpp"
#include "router_config.hpp"

namespace {

using nlohmann::json;

constexpr double kStartTime = 1'700'000'000'000;  // epoch ms
constexpr size_t kMaxLive = 12;
constexpr int kMaxSteps = 400;
// Every generated prompt holds this text: it must never reach a log line or a REPLY.
constexpr std::string_view kCanary = "prompt-canary-5e1f";
const std::string kKeyHash(64, 'a');
const std::string kAdminHash(64, 'c');
const std::string kWrongHash(64, 'b');
const std::set<uint32_t> kContractStatuses = {200, 400, 401, 404, 405, 413, 415, 429, 500, 502, 503, 504};
const char* const kModels[] = {"m-a", "m-b", "m-c"};  // m-c: served only through "*"

uint32_t g_router = 0;
bool g_trace = false;

void trace(const char* format, ...) {
  if (!g_trace) return;
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string http_date(double epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[40];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return text;
}

// ---- the configuration the harness generated, and what it implies ----

struct BackendView {
  std::string binding;
  bool enabled = true;
  std::vector<std::string> models;  // after describe() and overrides
};

struct Setup {
  bool policy_valid = false;  // ROUTER_CONFIG parsed; otherwise every request answers 500
  router::RouterConfig policy;
  bool keys = false;
  bool admin = false;
  bool rate_limiting = false;  // a RATE_LIMITER binding: /v1 exchanges ask the limiter first
  json answers;                      // describe() answers, aligned with `backends`
  std::vector<BackendView> backends;  // in the core's order

  bool serves(uint32_t backend, std::string_view model) const {
    if (backend >= backends.size() || !backends[backend].enabled) return false;
    for (const auto& m : backends[backend].models)
      if (m == "*" || m == model) return true;
    return false;
  }
};

json generate_router_config(ByteReader& in, const std::vector<std::string>& bindings) {
  static constexpr double kBackoffs[] = {0, 1, 25, 250, 4000};
  static constexpr double kRetryAfterCaps[] = {0, 50, 1000, 10000, 86400000};
  static constexpr double kBudgetPercents[] = {0, 20, 50, 100};
  static constexpr double kTryTimeouts[] = {1, 20, 500, 60000};
  static constexpr double kRequestTimeouts[] = {1, 100, 2000, 120000, 86400000};
  static constexpr double kEjections[] = {0, 100, 30000, 300000};
  static constexpr double kEjectionPercents[] = {0, 34, 50, 100};
  static constexpr double kBodyLimits[] = {64, 160, 1048576};
  static constexpr double kDepths[] = {1, 2, 64};
  static constexpr double kTtls[] = {0, 1000, 60000};
  static constexpr double kWeights[] = {0.5, 1, 3, 1000000};
  static constexpr double kRetryAfterSeconds[] = {1, 60, 86400};

  json config = json::object();
  const uint8_t sections = in.u8();
  if (sections & 1) config["strategy"] = in.flag() ? "least-inflight" : "round-robin";
  if (sections & 2) {
    const double base = in.pick(kBackoffs), cap = in.pick(kBackoffs);
    config["retry"] = {{"maxAttempts", 1 + in.below(10)},
                       {"backoffBaseMs", std::min(base, cap)},
                       {"backoffCapMs", std::max(base, cap)},
                       {"retryAfterCapMs", in.pick(kRetryAfterCaps)},
                       {"budgetPercent", in.pick(kBudgetPercents)},
                       {"budgetMinRetries", in.below(5)}};
  }
  if (sections & 4) {
    config["timeouts"] = {{"perTryMs", in.pick(kTryTimeouts)},
                          {"firstByteMs", in.pick(kTryTimeouts)},
                          {"requestMs", in.pick(kRequestTimeouts)}};
  }
  if (sections & 8) {
    const double base = in.pick(kEjections), max = in.pick(kEjections);
    config["health"] = {{"consecutiveFailures", 1 + in.below(5)},
                        {"baseEjectionMs", std::min(base, max)},
                        {"maxEjectionMs", std::max(base, max)},
                        {"maxEjectionPercent", in.pick(kEjectionPercents)},
                        {"panicRouting", in.flag()}};
  }
  if (sections & 16) config["limits"] = {{"maxBodyBytes", in.pick(kBodyLimits)}, {"maxDepth", in.pick(kDepths)}};
  if (sections & 32) {
    config["discovery"] = {{"describeTtlMs", in.pick(kTtls)}};
    if (in.flag()) config["rateLimit"] = {{"retryAfterSeconds", in.pick(kRetryAfterSeconds)}};
  }
  if (sections & 64) {
    json overrides = json::object();
    for (const auto& binding : bindings) {
      if (binding.size() <= 8 || binding.rfind("BACKEND_", 0) != 0) continue;  // "AI" has no override
      const uint8_t fields = in.u8();
      if ((fields & 7) == 0 || overrides.contains(binding)) continue;
      json entry = json::object();
      if (fields & 1) entry["weight"] = in.pick(kWeights);
      if (fields & 2) entry["models"] = json::array({kModels[in.below(3)]});
      if (fields & 4) entry["enabled"] = in.one_in(4) ? false : true;
      overrides[binding] = entry;
    }
    config["backends"] = overrides;
  }
  if ((sections & 128) && in.one_in(4)) {
    // A mistake an operator could make: the core must refuse the whole config, loudly.
    switch (in.below(5)) {
      case 0: config["retry"]["maxAttempts"] = 0; break;
      case 1: config["strategy"] = "fastest"; break;
      case 2: config["retries"] = json::object(); break;
      case 3: config["timeouts"]["perTryMs"] = -1; break;
      default: config["limits"] = 5; break;
    }
  }
  return config;
}

// Configures the router from scratch (an empty binding list first resets health, balancer and the
// describe() cache, so each input starts from the same state) and returns what the harness knows.
Setup configure(ByteReader& in, double now) {
  static constexpr std::string_view kEmpty = R"({"routerConfig":null,"envNames":[]})";
  AbiBytes reset(kEmpty);
  FUZZ_CHECK(rt_router_configure(g_router, reset.ptr(), reset.size(), now) == 0, "reset configure failed");
  rt_router_logs(g_router);

  std::vector<std::string> names;
  const uint32_t count = 1 + in.below(8);
  for (uint32_t i = 0; i < count; ++i) names.push_back(std::string("BACKEND_") + "ABCDEFGH"[in.below(8)]);
  if (in.flag()) names.push_back("AI");
  if (in.flag()) names.push_back("BACKEND_");  // the prefix alone names no backend
  if (in.flag()) names.push_back("RATE_LIMITER");
  std::set<std::string> expected_bindings;
  for (const auto& n : names)
    if (n.size() > 8 && n.rfind("BACKEND_", 0) == 0) expected_bindings.insert(n);

  Setup setup;
  const json router_config = generate_router_config(in, names);
  const std::string config_text = router_config.dump();
  json input = {{"envNames", names}};
  input["routerConfig"] = router_config.empty() && in.flag() ? json(nullptr) : json(config_text);
  setup.rate_limiting = names.back() == "RATE_LIMITER";
  setup.keys = in.flag();
  setup.admin = in.flag();
  input["apiKeyHashes"] = setup.keys ? json::array({kKeyHash, std::string(64, '1')}) : json::array();
  input["adminKeyHash"] = setup.admin ? json(kAdminHash) : json(nullptr);
  router::ConfigResult parsed = router::parse_router_config(config_text);
  setup.policy_valid = parsed.config.has_value();
  if (parsed.config) setup.policy = *parsed.config;
  trace("configure %s (policy %s)", input.dump().c_str(), setup.policy_valid ? "valid" : "invalid");

  const std::string input_text = input.dump();
  AbiBytes bytes(input_text);
  FUZZ_CHECK(rt_router_configure(g_router, bytes.ptr(), bytes.size(), now) == 0, input_text);
  const std::string answer_text = router_output(g_router);
  const json answer = json::parse(answer_text, nullptr, false);
  FUZZ_CHECK(answer.is_object() && answer.contains("backends") && answer["backends"].is_array(), answer_text);
  FUZZ_CHECK(answer["backends"] == json(std::vector<std::string>(expected_bindings.begin(), expected_bindings.end())),
             "backend list differs from the sorted BACKEND_ names: " + answer_text);
  const bool auth_required = setup.keys || setup.admin;
  FUZZ_CHECK(answer.value("authRequired", !auth_required) == auth_required, answer_text);
  FUZZ_CHECK(answer.contains("error") == !setup.policy_valid, "configure answer vs policy validity: " + answer_text);

  // describe() answers, some failing in each way the core must survive.
  setup.answers = json::array();
  for (const auto& binding : answer["backends"]) {
    BackendView view;
    view.binding = binding.get<std::string>();
    switch (in.below(10)) {
      case 0: setup.answers.push_back({{"error", "describe() timed out"}}); break;
      case 1: setup.answers.push_back(7); break;
      case 2: setup.answers.push_back({{"name", "broken"}, {"models", {1}}}); break;
      case 3: setup.answers.push_back({{"name", "zero"}, {"models", {"m-a"}}, {"weight", 0}}); break;
      default: {
        const uint8_t served = in.u8();
        json models = json::array();
        for (int m = 0; m < 2; ++m)
          if (served & (1 << m)) models.push_back(kModels[m]);
        if (served & 4) models.push_back("*");
        view.models = models.get<std::vector<std::string>>();
        json description = {{"name", "n-" + view.binding}, {"models", models}, {"version", "1"}};
        static constexpr double kWeights[] = {0, 0.25, 1, 5};  // 0: no weight given
        if (double weight = in.pick(kWeights); weight > 0) description["weight"] = weight;
        setup.answers.push_back(description);
      }
    }
    if (setup.policy_valid) {
      auto override_ = setup.policy.backends.find(view.binding);
      if (override_ != setup.policy.backends.end()) {
        if (override_->second.models) view.models = *override_->second.models;
        if (override_->second.enabled) view.enabled = *override_->second.enabled;
      }
    }
    setup.backends.push_back(view);
  }
  return setup;
}

// ---- exchanges ----

struct Exchange {
  uint32_t handle = 0;
  uint32_t kind = kError;  // the last action (1..7)
  std::string path;
  bool inference = false;
  double deadline = 0;
  std::string body;        // sent at READ_BODY
  std::string model;       // expected in CALLs ("" when the body is raw bytes)
  int stream = -1;         // expected CALL stream flag, -1 when unknown
  bool call_stream = false;  // the last CALL's stream flag
  std::string request_id;  // the sane x-request-id sent, or ""
  std::string auth;        // the Authorization hash sent, or ""
  std::string client_ip;   // the cf-connecting-ip sent, or ""
  uint32_t calls = 0;
  uint32_t backend = 0;    // of the last CALL
  double call_at = 0;
  double call_timeout = 0;
  double wait_until = 0;
  uint32_t answered_status = 0;  // the status of the last non-retriable outcome
};

struct Harness {
  ByteReader& in;
  Setup setup;
  double now = kStartTime;
  std::vector<Exchange> live;
  uint32_t ended_handle = 0;  // a handle that was valid once

  std::string context(const Exchange& x) const {
    return "exchange " + std::to_string(x.handle) + " path " + x.path + " calls " + std::to_string(x.calls) +
           " deadline " + std::to_string(x.deadline) + " now " + std::to_string(now);
  }

  void advance() {
    static constexpr double kSteps[] = {0, 0.5, 1, 7, 25, 100, 250, 1000, 5000, 30000, 60000, 300000};
    now += in.pick(kSteps);
  }

  // Checks the action an exchange call answered and records it. `allowed` is a mask of kinds.
  void observe(Exchange& x, uint32_t returned, uint32_t allowed, const char* event) {
    const ActionRecord record = action_record(g_router);
    const std::string text = router_output(g_router);
    trace("  %s -> kind %u status %u backend %u attempt %u t1 %.1f t2 %.1f out %zu", event, returned,
          record.status_or_stream, record.backend, record.attempt, record.timeout_or_limit, record.time, text.size());
    if (returned == kReply) trace("    %s", text.substr(text.find("\n\n") + 2).c_str());
    FUZZ_CHECK(returned >= kReadBody && returned <= kRateLimit,
               std::string(event) + " answered kind " + std::to_string(returned) + " for a live handle; " + context(x));
    FUZZ_CHECK(record.kind == returned, context(x));
    FUZZ_CHECK(allowed & (1u << returned),
               std::string(event) + " answered unexpected kind " + std::to_string(returned) + "; " + context(x));
    FUZZ_CHECK(record.out_len == text.size() &&
                   record.out_ptr == static_cast<uint32_t>(reinterpret_cast<uintptr_t>(rt_out_ptr(g_router))),
               "action record does not describe the output buffer");
    FUZZ_CHECK(!contains(text, kCanary), "prompt text in an action's output: " + text);
    switch (returned) {
      case kReadBody:
        FUZZ_CHECK(x.inference && setup.policy_valid, context(x));
        FUZZ_CHECK(record.timeout_or_limit == static_cast<double>(setup.policy.limits.max_body_bytes), context(x));
        break;
      case kDiscover:
        FUZZ_CHECK(setup.policy_valid, context(x));
        check_wait_budget(x, record.timeout_or_limit, 5000, "DISCOVER");
        break;
      case kRateLimit: check_rate_limit(x, record, text); break;
      case kCall: check_call(x, record, text); break;
      case kWait:
        FUZZ_CHECK(x.calls >= 1, "WAIT before any attempt; " + context(x));
        FUZZ_CHECK(record.time > now, "WAIT until " + std::to_string(record.time) + " is not ahead; " + context(x));
        FUZZ_CHECK(record.time <= x.deadline,
                   "WAIT until " + std::to_string(record.time) + " is past the deadline; " + context(x));
        x.wait_until = record.time;
        break;
      case kReply: check_reply(x, record, text); break;
      case kForward:
        FUZZ_CHECK(record.status_or_stream == x.answered_status, "FORWARD changed the status; " + context(x));
        FUZZ_CHECK(record.backend == x.backend && record.attempt == x.calls, context(x));
        FUZZ_CHECK(contains(text, "x-router-backend: " + setup.backends[x.backend].binding), text);
        FUZZ_CHECK(contains(text, "x-router-attempts: " + std::to_string(x.calls)), text);
        // A success goes out in the shape asked for; errors are JSON.
        FUZZ_CHECK(contains(text, "content-type: text/event-stream") ==
                       (x.call_stream && x.answered_status >= 200 && x.answered_status < 300),
                   "FORWARD content type; " + text);
        break;
    }
    x.kind = returned;
  }

  // How long the shim may wait for describe() or the rate limiter: at most `cap`, never past the deadline.
  void check_wait_budget(const Exchange& x, double timeout, double cap, const char* what) {
    FUZZ_CHECK(timeout >= 0 && timeout <= cap && (timeout == 0 || now + timeout <= x.deadline),
               std::string(what) + " timeout " + std::to_string(timeout) + "; " + context(x));
  }

  void check_rate_limit(const Exchange& x, const ActionRecord& record, const std::string& key) {
    FUZZ_CHECK(setup.rate_limiting && setup.policy_valid, "RATE_LIMIT without a RATE_LIMITER binding; " + context(x));
    FUZZ_CHECK(x.path.rfind("/v1/", 0) == 0, "RATE_LIMIT for " + x.path);
    check_wait_budget(x, record.timeout_or_limit, 1000, "RATE_LIMIT");
    // One bucket per API key (a prefix of its hash, never the whole hash) or per client address.
    if (setup.keys) {
      FUZZ_CHECK(key == "key:" + x.auth.substr(0, 16), "rate limit key '" + key + "'; " + context(x));
    } else {
      const bool address = !x.client_ip.empty() &&
                           x.client_ip.find_first_not_of("0123456789abcdefABCDEF.:") == std::string::npos;
      FUZZ_CHECK(key == "ip:" + (address ? x.client_ip : std::string("unknown")), "rate limit key '" + key + "'");
    }
    FUZZ_CHECK(!contains(key, kKeyHash) && !contains(key, kAdminHash), "rate limit key holds a key hash: " + key);
  }

  void check_call(Exchange& x, const ActionRecord& record, const std::string& text) {
    const router::RouterConfig& policy = setup.policy;
    FUZZ_CHECK(x.inference && setup.policy_valid, context(x));
    x.calls++;
    FUZZ_CHECK(x.calls <= policy.retry.max_attempts,
               "more CALLs than maxAttempts " + std::to_string(policy.retry.max_attempts) + "; " + context(x));
    FUZZ_CHECK(record.attempt == x.calls, "attempt " + std::to_string(record.attempt) + " out of order; " + context(x));
    FUZZ_CHECK(record.time == x.deadline, "CALL deadline " + std::to_string(record.time) + "; " + context(x));
    FUZZ_CHECK(now < x.deadline, "CALL at or after the deadline; " + context(x));
    const double timeout = record.timeout_or_limit;
    FUZZ_CHECK(timeout > 0 && now + timeout <= x.deadline,
               "CALL timeout " + std::to_string(timeout) + " runs past the deadline; " + context(x));
    FUZZ_CHECK(record.status_or_stream <= 1, context(x));
    const bool stream = record.status_or_stream == 1;
    x.call_stream = stream;
    FUZZ_CHECK(timeout <= (stream ? policy.timeouts.first_byte_ms : policy.timeouts.per_try_ms), context(x));
    if (x.stream >= 0) FUZZ_CHECK(stream == (x.stream == 1), "CALL stream flag differs from the body; " + context(x));

    const std::vector<std::string> lines = split(text, '\n');
    FUZZ_CHECK(lines.size() == 3, "CALL text: " + text);
    if (!x.request_id.empty()) FUZZ_CHECK(lines[0] == x.request_id, "request id not kept: " + text);
    else FUZZ_CHECK(lines[0].size() == 32, "generated request id: " + text);
    if (!x.model.empty()) FUZZ_CHECK(lines[1] == x.model, "CALL model: " + text);
    FUZZ_CHECK(lines[2] == x.path, "CALL path: " + text);
    FUZZ_CHECK(setup.serves(record.backend, lines[1]),
               "CALL to backend " + std::to_string(record.backend) + " that does not serve '" + lines[1] + "'; " +
                   context(x));
    x.backend = record.backend;
    x.call_at = now;
    x.call_timeout = timeout;
  }

  void check_reply(Exchange& x, const ActionRecord& record, const std::string& text) {
    const uint32_t status = record.status_or_stream;
    FUZZ_CHECK(kContractStatuses.count(status) == 1, "REPLY status " + std::to_string(status) + "; " + context(x));
    FUZZ_CHECK(record.attempt == x.calls, "REPLY attempts " + std::to_string(record.attempt) + "; " + context(x));
    if (!setup.policy_valid) FUZZ_CHECK(status == 500, "an invalid ROUTER_CONFIG must answer 500: " + text);
    if (status == 502) FUZZ_CHECK(x.calls >= 1, "502 without an attempt: " + text);

    const size_t blank = text.find("\n\n");
    FUZZ_CHECK(blank != std::string::npos, "REPLY without a blank line: " + text);
    const std::string headers = "\n" + text.substr(0, blank) + "\n";
    FUZZ_CHECK(contains(headers, "\ncontent-type: application/json\n") && contains(headers, "\nx-request-id: "), text);
    if (!x.request_id.empty()) FUZZ_CHECK(contains(headers, "\nx-request-id: " + x.request_id + "\n"), text);
    if (x.inference && setup.policy_valid)
      FUZZ_CHECK(contains(headers, "\nx-router-attempts: " + std::to_string(x.calls) + "\n"), text);
    if (status == 503) FUZZ_CHECK(contains(headers, "\nretry-after: "), text);
    if (status == 401) FUZZ_CHECK(contains(headers, "\nwww-authenticate: Bearer\n"), text);
    if (status == 405) FUZZ_CHECK(contains(headers, "\nallow: "), text);

    const json body = json::parse(text.begin() + static_cast<std::ptrdiff_t>(blank + 2), text.end(), nullptr, false);
    FUZZ_CHECK(!body.is_discarded() && body.is_object(), "REPLY body is not a JSON object: " + text);
    if (status >= 400) {
      const auto error = body.find("error");
      FUZZ_CHECK(error != body.end() && error->is_object(), "error body shape: " + text);
      FUZZ_CHECK(error->contains("message") && (*error)["message"].is_string() && error->contains("type") &&
                     (*error)["type"].is_string() && error->contains("param") && error->contains("code"),
                 "error body shape: " + text);
    }
  }

  // ---- events ----

  void begin() {
    static constexpr const char* kInferencePaths[] = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings"};
    static constexpr const char* kContentTypes[] = {"application/json", "application/json", "application/json",
                                                    "application/json; charset=utf-8", "application/vnd.x+json",
                                                    "text/plain", ""};
    static constexpr const char* kRequestIds[] = {"", "", "req-42.a_b:c", "bad id!", ""};
    Exchange x;
    std::string method = "POST";
    const uint32_t route = in.below(16);
    if (route < 10) {
      x.path = kInferencePaths[in.below(3)];
      x.inference = true;
    } else if (route == 10) {
      x.path = "/v1/models", method = "GET";
    } else if (route == 11) {
      x.path = "/healthz", method = "GET";
    } else if (route == 12) {
      x.path = "/status", method = "GET";
    } else if (route == 13) {
      x.path = "/v2/unknown";
    } else {
      x.path = kInferencePaths[in.below(3)], method = route == 14 ? "GET" : "PUT";
    }
    const bool proper_inference = x.inference;

    // The body: mostly well-formed, with the canary as the prompt; sometimes raw bytes.
    if (in.one_in(8)) {
      x.body = in.bytes(48);
    } else {
      x.model = kModels[in.below(3)];
      const uint32_t stream = in.below(3);  // absent, false, true
      x.stream = stream == 2 ? 1 : 0;
      std::string prompt = "\"" + std::string(kCanary) + "\"";
      x.body = "{\"model\":\"" + x.model + "\"";
      if (x.path == "/v1/chat/completions") x.body += ",\"messages\":[{\"role\":\"user\",\"content\":" + prompt + "}]";
      else if (x.path == "/v1/completions") x.body += ",\"prompt\":" + prompt;
      else x.body += ",\"input\":[" + prompt + "]";
      if (stream > 0) x.body += std::string(",\"stream\":") + (stream == 2 ? "true" : "false");
      x.body += "}";
    }
    std::string content_length;
    switch (in.below(8)) {
      case 0: content_length = std::to_string(x.body.size()); break;
      case 1: content_length = "12x"; break;
      case 2: content_length = "99999999999"; break;
      default: break;
    }
    const std::string request_id = in.pick(kRequestIds);
    if (request_id == "req-42.a_b:c") x.request_id = request_id;
    switch (in.below(6)) {
      case 0: break;
      case 1: x.auth = kWrongHash; break;
      case 2: x.auth = kAdminHash; break;
      default: x.auth = setup.keys ? kKeyHash : ""; break;
    }
    static constexpr const char* kClientIps[] = {"", "203.0.113.7", "2001:db8::1", "10.0.0.1, 10.0.0.2"};
    x.client_ip = in.pick(kClientIps);
    std::string head = method + "\n" + x.path + "\n" + in.pick(kContentTypes) + "\n" + content_length + "\n" +
                       request_id + "\n" + x.auth;
    if (!x.client_ip.empty()) head += "\n" + x.client_ip;  // a 6-field head is valid too
    const double seed = in.u16();
    x.deadline = now + setup.policy.timeouts.request_ms;
    x.inference = proper_inference && setup.policy_valid;

    AbiBytes bytes(head);
    x.handle = rt_exchange_begin(g_router, bytes.ptr(), bytes.size(), now, seed);
    if (g_trace) {
      std::string shown = head;
      for (char& c : shown) c = c == '\n' ? '|' : c;
      trace("begin %u at %.1f: %s, body %zu bytes", x.handle, now, shown.c_str(), x.body.size());
    }
    FUZZ_CHECK(x.handle != 0, "begin failed: " + head);
    const uint32_t kind = action_record(g_router).kind;
    observe(x, kind, 1u << kReadBody | 1u << kDiscover | 1u << kReply | 1u << kRateLimit, "begin");
    const uint32_t status = action_record(g_router).status_or_stream;
    if (setup.policy_valid && kind == kReply) {
      if (x.path == "/v2/unknown") FUZZ_CHECK(status == 404, head);
      else if (x.path == "/healthz") FUZZ_CHECK(status == 200, head);
      else if (method == "PUT") FUZZ_CHECK(status == 405, head);
    }
    if (!proper_inference) FUZZ_CHECK(kind != kReadBody, "READ_BODY for " + head);
    // Rate limiting comes right after authentication, before the body and discovery.
    if (setup.rate_limiting) FUZZ_CHECK(kind != kReadBody && kind != kDiscover, "skipped the rate limiter: " + head);
    live.push_back(x);
  }

  std::string retry_after() {
    static constexpr const char* kSeconds[] = {"", "", "0", "1", "2.5", "30", "3600", " 7 ", "-1", "soon", "1e3"};
    static constexpr const char* kMillis[] = {"", "", "", "0", "150", "2500", "99999999", "x"};
    std::string value = in.one_in(5) ? http_date(now + 1000.0 * (static_cast<int>(in.u8()) - 64)) : in.pick(kSeconds);
    if (in.one_in(3)) return value;  // no retry-after-ms part at all
    return value + "\n" + in.pick(kMillis);
  }

  void feed_descriptions() {
    if (in.one_in(8)) {
      // Not aligned with the backends: refused, nothing changes.
      AbiBytes wrong("[]");
      FUZZ_CHECK(rt_router_describe(g_router, wrong.ptr(), wrong.size(), now) == -1, "misaligned describe accepted");
    }
    const std::string text = setup.answers.dump();
    AbiBytes bytes(text);
    FUZZ_CHECK(rt_router_describe(g_router, bytes.ptr(), bytes.size(), now) == 0, "describe refused: " + text);
  }

  void remove(size_t index) {
    ended_handle = live[index].handle;
    live.erase(live.begin() + static_cast<std::ptrdiff_t>(index));
    // The handle is gone: any call with it is an error.
    FUZZ_CHECK(rt_exchange_resume(ended_handle, now) == kError, "ended handle still answers");
  }

  void end(size_t index, uint32_t how) {
    Exchange& x = live[index];
    trace("end %u how %u at %.1f", x.handle, how, now);
    const int32_t length = rt_exchange_end(x.handle, how, now);
    const std::string text = router_output(g_router);
    FUZZ_CHECK(length >= 0, "end failed; " + context(x));
    if (how == 1) {
      FUZZ_CHECK(length > 0 && text.rfind("data: {\"error\":", 0) == 0 && text.size() >= 2 &&
                     text.compare(text.size() - 2, 2, "\n\n") == 0,
                 "SSE error event: " + text);
    } else {
      FUZZ_CHECK(length == 0, "end wrote bytes; " + context(x));
    }
    remove(index);
  }

  // The event the exchange's last action calls for.
  void proper_event(size_t index) {
    Exchange& x = live[index];
    const uint32_t after_failure = 1u << kCall | 1u << kWait | 1u << kReply;
    switch (x.kind) {
      case kRateLimit: {
        const uint32_t allowed = in.below(3);  // over the limit, allowed, the limiter failed
        trace("rate_limited %u: %u at %.1f", x.handle, allowed, now);
        const uint32_t kind = rt_exchange_rate_limited(x.handle, allowed, now);
        observe(x, kind, 1u << kReadBody | 1u << kDiscover | 1u << kReply, "rate_limited");
        if (allowed == 0) {
          const std::string retry_after = std::to_string(setup.policy.rate_limit.retry_after_seconds);
          FUZZ_CHECK(kind == kReply && action_record(g_router).status_or_stream == 429 &&
                         contains(router_output(g_router), "\nretry-after: " + retry_after + "\n"),
                     "over the limit must answer 429 with Retry-After; " + context(x));
        }
        break;
      }
      case kReadBody: {
        const uint64_t limit = setup.policy.limits.max_body_bytes;
        const bool over = x.body.size() > limit || in.one_in(16);
        const std::string sent = x.body.substr(0, static_cast<size_t>(std::min<uint64_t>(x.body.size(), limit)));
        AbiBytes bytes(sent);
        trace("body %u (%zu bytes, over %d) at %.1f", x.handle, sent.size(), over, now);
        const uint32_t kind = rt_exchange_body(x.handle, bytes.ptr(), bytes.size(), over ? 1 : 0, now);
        observe(x, kind, 1u << kDiscover | 1u << kCall | 1u << kReply, "body");
        if (over) FUZZ_CHECK(kind == kReply && action_record(g_router).status_or_stream == 413, context(x));
        break;
      }
      case kDiscover: {
        feed_descriptions();
        trace("resume %u after discovery at %.1f", x.handle, now);
        const uint32_t kind = rt_exchange_resume(x.handle, now);
        observe(x, kind, 1u << kCall | 1u << kReply, "resume");
        break;
      }
      case kCall: {
        static constexpr uint32_t kStatuses[] = {200, 200, 200, 201, 400, 401, 404, 413, 422,
                                                 429, 429, 500, 502, 503, 504};
        uint32_t outcome = 0, status = 0;
        const uint32_t choice = in.below(10);
        if (choice < 6) {
          status = in.pick(kStatuses);
          // Answered (0 a JSON body, 3 a stream), now and then in the shape not asked for.
          outcome = x.call_stream != in.one_in(8) ? 3 : 0;
        } else if (choice == 6) {
          status = in.u16() % 1000;  // out of 100..599 now and then: a broken answer, a failed attempt
        } else if (choice == 7) {
          outcome = 1;  // threw
        } else {
          outcome = 2;  // the per-try timer fired
          now = std::max(now, x.call_at + x.call_timeout);
        }
        const std::string ra = retry_after();
        AbiBytes bytes(ra);
        trace("outcome %u: %u status %u ra '%s' at %.1f", x.handle, outcome, status, ra.c_str(), now);
        const uint32_t kind = rt_exchange_outcome(x.handle, outcome, status, bytes.ptr(), bytes.size(), now);
        const bool answered = outcome == 0 || outcome == 3;
        const bool wrong_shape = answered && status >= 200 && status < 300 && (outcome == 3) != x.call_stream;
        const bool retriable = !answered || wrong_shape || status < 100 || status > 599 || status == 429 ||
                               status == 500 || status == 502 || status == 503 || status == 504;
        x.answered_status = status;
        observe(x, kind, retriable ? after_failure : 1u << kForward, "outcome");
        if (kind == kReply) {
          const uint32_t reply = action_record(g_router).status_or_stream;
          FUZZ_CHECK(reply == 502 || reply == 504, "after a failed attempt: " + std::to_string(reply));
        }
        break;
      }
      case kWait: {
        if (in.flag()) now = std::max(now, x.wait_until);  // as the shim's timer would
        trace("resume %u after WAIT until %.1f at %.1f", x.handle, x.wait_until, now);
        const double until = x.wait_until;
        const uint32_t kind = rt_exchange_resume(x.handle, now);
        observe(x, kind, after_failure, "resume");
        if (kind == kWait) FUZZ_CHECK(action_record(g_router).time == until, "a repeated WAIT moved; " + context(x));
        if (kind == kReply) FUZZ_CHECK(action_record(g_router).status_or_stream == 504, context(x));
        break;
      }
      case kReply: end(index, in.one_in(4) ? 2 : 0); break;
      case kForward: end(index, in.below(3)); break;
      default: FUZZ_CHECK(false, "harness lost track; " + context(x));
    }
  }

  // An event the exchange's state does not allow, or a bad argument: an error, and no change.
  void improper_event(size_t index) {
    Exchange& x = live[index];
    const double nan = std::numeric_limits<double>::quiet_NaN();
    uint32_t kind = kError;
    const uint32_t choice = in.below(9);
    trace("improper event %u on %u (last kind %u)", choice, x.handle, x.kind);
    switch (choice) {
      case 0:
        if (x.kind == kReadBody) return;
        kind = rt_exchange_body(x.handle, "{}", 2, 0, now);
        break;
      case 1:
        if (x.kind == kDiscover || x.kind == kWait) return;
        kind = rt_exchange_resume(x.handle, now);
        break;
      case 2:
        if (x.kind == kCall) return;
        kind = rt_exchange_outcome(x.handle, 0, 200, nullptr, 0, now);
        break;
      case 3:
        if (x.kind == kCall) return;
        kind = rt_exchange_outcome(x.handle, in.below(3), 503, nullptr, 0, now);
        break;
      case 4: kind = rt_exchange_outcome(x.handle, 4 + in.u8(), 200, nullptr, 0, now); break;
      case 5: kind = rt_exchange_body(x.handle, "{}", 2, 2 + in.u8(), now); break;
      case 6:
        kind = in.flag() ? rt_exchange_resume(x.handle, nan) : rt_exchange_body(x.handle, nullptr, 5, 0, now);
        break;
      case 7:
        if (x.kind == kRateLimit && in.flag()) return;
        // Outside RATE_LIMIT any answer is out of order; `allowed` > 2 is always a bad argument.
        kind = rt_exchange_rate_limited(x.handle, x.kind == kRateLimit ? 3 + in.u8() : in.below(3), now);
        break;
      default:
        FUZZ_CHECK(rt_exchange_end(x.handle, 3 + in.u8(), now) == -3, "end with a bad how; " + context(x));
        FUZZ_CHECK(rt_exchange_end(x.handle, 0, std::numeric_limits<double>::infinity()) == -3, context(x));
        return;  // still live: the next proper event must work
    }
    FUZZ_CHECK(kind == kError, "improper event " + std::to_string(choice) + " answered kind " + std::to_string(kind) +
                                   "; " + context(x));
    FUZZ_CHECK(action_record(g_router).kind == kError, context(x));
  }

  void bad_handles() {
    std::set<uint32_t> live_handles;
    for (const auto& x : live) live_handles.insert(x.handle);
    for (uint32_t handle : {0u, ended_handle, 0xFFFFFFFFu}) {
      if (live_handles.count(handle)) continue;
      FUZZ_CHECK(rt_exchange_body(handle, "{}", 2, 0, now) == kError, "body on a bad handle");
      FUZZ_CHECK(rt_exchange_resume(handle, now) == kError, "resume on a bad handle");
      FUZZ_CHECK(rt_exchange_outcome(handle, 0, 200, nullptr, 0, now) == kError, "outcome on a bad handle");
      FUZZ_CHECK(rt_exchange_rate_limited(handle, 1, now) == kError, "rate_limited on a bad handle");
      FUZZ_CHECK(rt_exchange_end(handle, 0, now) == -2, "end on a bad handle");
    }
    for (uint32_t router : {0u, g_router + 1}) {
      FUZZ_CHECK(rt_router_configure(router, "{}", 2, now) == -2, "configure on a bad router");
      FUZZ_CHECK(rt_router_describe(router, "[]", 2, now) == -2, "describe on a bad router");
      FUZZ_CHECK(rt_router_logs(router) == -2 && rt_out_len(router) == -2, "logs on a bad router");
      FUZZ_CHECK(rt_out_ptr(router) == nullptr && rt_action_ptr(router) == nullptr, "pointers of a bad router");
      FUZZ_CHECK(rt_exchange_begin(router, "GET\n/healthz", 12, now, 1) == 0, "begin on a bad router");
    }
    FUZZ_CHECK(rt_router_configure(g_router, "[1]", 3, now) == -1, "configure accepted a non-object");
  }

  void check_logs() {
    const int32_t length = rt_router_logs(g_router);
    FUZZ_CHECK(length >= 0, "logs failed");
    if (length == 0) return;
    const std::string text = router_output(g_router);
    FUZZ_CHECK(!contains(text, kCanary), "prompt text in the logs: " + text);
    for (const auto& line : split(text, '\n')) {
      const json entry = json::parse(line, nullptr, false);
      FUZZ_CHECK(entry.is_object() && entry.contains("level") && entry["level"].is_string() &&
                     entry.contains("event") && entry["event"].is_string(),
                 "log line: " + line);
    }
  }

  // After every exchange ended, /status must show nothing in flight.
  void check_nothing_in_flight() {
    const std::string auth = setup.admin ? kAdminHash : setup.keys ? kKeyHash : "";
    const std::string head = "GET\n/status\n\n\n\n" + auth;
    AbiBytes bytes(head);
    const uint32_t handle = rt_exchange_begin(g_router, bytes.ptr(), bytes.size(), now, 0);
    FUZZ_CHECK(handle != 0, "status begin");
    const ActionRecord record = action_record(g_router);
    const std::string text = router_output(g_router);
    if (setup.policy_valid) {
      FUZZ_CHECK(record.kind == kReply && record.status_or_stream == 200, "status: " + text);
      const json status = json::parse(text.substr(text.find("\n\n") + 2), nullptr, false);
      FUZZ_CHECK(status.is_object(), "status body: " + text);
      FUZZ_CHECK(status.value("requestsInFlight", -1) == 1, "requests left in flight: " + text);
      FUZZ_CHECK(status.value("retriesInFlight", -1) == 0, "retries left in flight: " + text);
      for (const auto& backend : status["backends"])
        FUZZ_CHECK(backend.value("inFlight", -1) == 0, "backend attempts left in flight: " + text);
    } else {
      FUZZ_CHECK(record.kind == kReply && record.status_or_stream == 500, "status with a bad config: " + text);
    }
    FUZZ_CHECK(rt_exchange_end(handle, 0, now) == 0, "status end");
  }

  void run() {
    setup = configure(in, now);
    now += in.u16();
    for (int step = 0; step < kMaxSteps && !in.empty(); ++step) {
      const uint32_t op = in.below(16);
      if (op < 3) {
        if (live.size() < kMaxLive) begin();
      } else if (op < 11) {
        if (!live.empty()) proper_event(in.below(static_cast<uint32_t>(live.size())));
      } else if (op == 11) {
        if (!live.empty()) improper_event(in.below(static_cast<uint32_t>(live.size())));
      } else if (op == 12) {
        bad_handles();
      } else if (op < 15) {
        advance();
      } else {
        check_logs();
      }
    }
    while (!live.empty()) end(live.size() - 1, live.back().kind == kForward ? in.below(3) : 2);
    check_nothing_in_flight();
    check_logs();
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_trace = std::getenv("FUZZ_TRACE") != nullptr;
  // One router for the whole process (the ABI has no way to free one); configure() resets it for
  // every input. Its balancer draws its start offset from the first seed it ever sees: draw it
  // here, from a fixed seed, so an input behaves the same alone as within a campaign.
  g_router = rt_router_new();
  const std::string head = "GET\n/healthz";
  const uint32_t handle = rt_exchange_begin(g_router, head.data(), head.size(), kStartTime, 0);
  rt_exchange_end(handle, 0, kStartTime);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  Harness harness{in};
  harness.run();
  return 0;
}
