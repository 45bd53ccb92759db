// fuzz_exchange_events: drives the real ABI (cpp/src/abi/abi.cpp, called natively as the JS shim calls
// the Wasm exports) with an event sequence decoded from the input bytes:
//   1. configure: 1..8 BACKEND_ bindings (and maybe a RATE_LIMITER), a generated ROUTER_CONFIG
//      (random maxAttempts, timeouts, backoff, health, limits, discovery TTL and describe timeout,
//      overrides; now and then a deliberate mistake), optional API key and admin key hashes,
//      apiKeysSet (true without a key: fail closed; not a boolean: refused); one describe() answer
//      per backend (good, a weight out of range, or failing in each way the core must survive);
//   2. events, interleaved over up to 12 concurrent exchanges: begin (fuzzed head and body, 128
//      random bits), the event each exchange's last action calls for (the rate limiter's answer,
//      the body complete / over the limit / late, describe() of the batch handed out -- answers
//      failing, lost, for an unknown binding, in the old array form, or arriving after the resume --
//      then resume, an outcome with a random status, answer shape (JSON object, stream, no body, not
//      an object, empty stream, not bytes), Retry-After, throw or timeout, resume after WAIT, end
//      with how 0..3 and a stream tail with or without its [DONE] line), out-of-order events and
//      bad arguments, calls with bad handles, and time moving forward by fuzzed amounts;
//   3. every exchange ended, then /status must show nothing left in flight.
// Invariants (FUZZ_CHECK traps): at most maxAttempts CALLs per model of an exchange (fallback chains
// from ROUTER_CONFIG.fallbacks, some through a model no backend serves, and 400s carrying the
// context_length_exceeded code: a CALL's model and every answer's x-router-model is the exchange's or
// a later one of its chain, and the body a CALL carries after a fallback is the client's with only
// its model changed; raw body bytes that happen to be a request are followed by their CALLs' model,
// as the harness does not parse them), at most 32 CALLs plus describe() calls, attempt numbers 1, 2, ...;
// a CALL carries the exchange's deadline, starts before it, its timeout ends by it and its
// attempt_deadline is now + timeout; READ_BODY is due by the deadline and a late body answers 504;
// no WAIT ends past the deadline; CALLs go only to backends serving the model (their last good
// description or override); DISCOVER hands out exactly the backends due (per-backend TTL, 5 s after
// a failure, again after a lost answer's timeout + 1 s), within 32 - maxAttempts, with the
// configured describe() timeout, and waits (until min(deadline, now + timeout)) exactly when some
// backend never answered and none known serves the model; after it, 504 past the deadline, 503
// "still being discovered", 503 or 404 as the catalog says; describe() takes what it should and
// reports it; /v1/models lists the enabled backends' models; a generated request id is the 128
// bits as 32 hex digits and every answer carries the request id; REPLY statuses are the contract's
// (or, for an error answer without a JSON object body, the backend's own with code backend_error)
// and REPLY bodies are OpenAI-shaped JSON; answers outside the contract (status, 1xx/204/205/304,
// wrong shape, empty stream) and 401/403 are failed attempts, the broken ones logged; FORWARD
// passes the backend's status; a forwarded stream ending without [DONE] gets the SSE error event;
// end how 3 gives a 500 OpenAI error with the request id; RATE_LIMIT comes only with a
// RATE_LIMITER binding, with a key that is a hash prefix or an address; a live handle's proper
// event never answers kind 0 or a kind outside 1..7, while out-of-order events, bad arguments and
// bad handles always answer errors; logs are JSON lines without prompt text; nothing stays in
// flight and /status shows each backend's last good name, models and weight. ASan / UBSan catch
// crashes, leaks and undefined behaviour.
// FUZZ_TRACE=1 in the environment prints every event (for reproducing a crash).
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "byte_reader.hpp"
#include "invariant.hpp"
#include "routing/backend_set.hpp"
#include "routing/exchange.hpp"
#include "router_abi.hpp"
#include "config/router_config.hpp"

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
// Discovery timing (docs/architecture.md): a failed describe() is retried after at most 5 s; one
// handed out but never answered goes out again after its timeout plus a grace of 1 s.
constexpr double kFailedDescribeRetryMs = 5000;
constexpr double kLostDescribeGraceMs = 1000;
static_assert(router::BackendSet::kFailedDescribeRetryMs == kFailedDescribeRetryMs &&
              router::BackendSet::kLostDescribeGraceMs == kLostDescribeGraceMs);
// Cloudflare's limit on Workers one client request may invoke: its describe() batch and its attempts share it.
constexpr size_t kMaxWorkerInvocations = 32;
// A forwarded stream's last bytes as the shim hands them to rt_exchange_end, and whether they end
// with the `data: [DONE]` line (trailing line breaks allowed).
struct StreamTail {
  const char* text;
  bool done;
};
constexpr StreamTail kTails[] = {
    {"data: [DONE]\n\n", true},
    {"data: {\"choices\":[]}\n\ndata: [DONE]\n\n", true},
    {"data:[DONE]\r\n\r\n", true},
    {"data: [DONE]", true},
    {"", false},
    {"data: {\"choices\":[]}\n\n", false},
    {"data: [DONE]\n\ndata: {\"late\":1}\n\n", false},
    {"xdata: [DONE]\n\n", false},
    {"data: [DONE", false},
    {": keep-alive\n\n", false},
};
// rt_exchange_outcome's codes for an answer (kOutcome* of abi.h, all but threw and timed out).
constexpr uint32_t kAnswerShapes[] = {kOutcomeJson, kOutcomeStream, kOutcomeNoBody, kOutcomeBodyNotObject,
                                      kOutcomeEmptyStream, kOutcomeStreamNotBytes};

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

// Whether every header line (up to the blank line) is printable ASCII with a Server-Timing whose
// router time comes first: what a Headers object accepts, on every answer (contract section 3).
bool headers_sound(std::string_view text) {
  std::string_view head = text.substr(0, text.find("\n\n"));
  for (char c : head)
    if (c != '\n' && (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)) return false;
  return contains("\n" + std::string(head), "\nserver-timing: router;dur=");
}

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

// Where the n-th line of `text` ends (its '\n'), or text.size().
size_t nth_line_end(std::string_view text, int n) {
  size_t at = std::string_view::npos;
  for (int i = 0; i < n; ++i) {
    at = text.find('\n', at == std::string_view::npos ? 0 : at + 1);
    if (at == std::string_view::npos) return text.size();
  }
  return at;
}

// A header's value in header lines, or "" when absent.
std::string header_value(std::string_view text, std::string_view name) {
  const std::string key = "\n" + std::string(name) + ": ";
  const std::string head = "\n" + std::string(text.substr(0, text.find("\n\n"))) + "\n";
  const size_t at = head.find(key);
  if (at == std::string::npos) return {};
  const size_t from = at + key.size();
  return head.substr(from, head.find('\n', from) - from);
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

// What the core makes of one describe() answer: taken whole; with a weight that is not a finite
// number in (0, 1e6], refused when a good description exists (it stays) and else taken with
// weight 1; or refused (the last good description stays).
enum class AnswerKind { Good, WeightProblem, Bad };

struct BackendView {
  std::string binding;
  bool enabled = true;
  std::optional<std::vector<std::string>> override_models;
  std::optional<double> override_weight;
  // Its describe() answer (the same every time it answers properly).
  json answer;
  AnswerKind answer_kind = AnswerKind::Bad;
  std::string answer_name;
  std::vector<std::string> answer_models;
  double answer_weight = 1;
  // What the core holds: the last good description and the discovery schedule.
  bool answered = false;      // some describe() answer (good or bad) arrived
  bool good = false;          // a good description was taken once
  bool problem = false;       // the last answer had a problem (refused, or its weight)
  std::string name;
  std::vector<std::string> described_models;
  double weight = 1;
  double next_at = 0;         // due again then
  double pending_until = 0;   // a describe() is out until then

  std::vector<std::string> models() const { return override_models ? *override_models : described_models; }
  double effective_weight() const { return override_weight ? *override_weight : weight; }
  bool due(double now) const { return next_at <= now && pending_until <= now; }
};

struct Setup {
  bool policy_valid = false;  // ROUTER_CONFIG parsed
  bool keys_unusable = false; // apiKeysSet true without a key hash: a config error (fail closed)
  bool open = false;          // requests are served; otherwise every request answers 500
  router::RouterConfig policy;
  bool keys = false;
  bool admin = false;
  bool rate_limiting = false;  // a RATE_LIMITER binding: /v1 exchanges ask the limiter first
  std::vector<BackendView> backends;  // in the core's order

  bool serves(uint32_t backend, std::string_view model) const {
    if (backend >= backends.size() || !backends[backend].enabled) return false;
    for (const auto& m : backends[backend].models())
      if (m == "*" || m == model) return true;
    return false;
  }
  std::vector<uint32_t> eligible(std::string_view model) const {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < backends.size(); ++i)
      if (serves(i, model)) out.push_back(i);
    return out;
  }
  size_t undiscovered() const {
    size_t count = 0;
    for (const auto& b : backends) count += b.answered ? 0 : 1;
    return count;
  }
  // Applies one describe() answer as the core does (BackendSet::apply_one); true when it is taken.
  bool apply(uint32_t i, AnswerKind kind, double now) {
    BackendView& b = backends[i];
    // A bad weight: a backend with a good description keeps it whole; a new one takes the rest.
    const bool taken = kind == AnswerKind::Good || (kind == AnswerKind::WeightProblem && !b.good);
    if (taken) {
      b.name = b.answer_name;
      b.described_models = b.answer_models;
      b.weight = kind == AnswerKind::Good ? b.answer_weight : 1;
      b.good = true;
    }
    b.problem = kind != AnswerKind::Good;
    b.answered = true;
    b.pending_until = 0;
    const double ttl = policy.discovery.describe_ttl_ms;
    b.next_at = now + (b.problem ? std::min(ttl, kFailedDescribeRetryMs) : ttl);
    return taken;
  }
};

// One delivery of describe() answers: each backend's own answer, or a failure in its place.
struct DescribeFeed {
  std::vector<std::pair<uint32_t, bool>> answers;  // backend, failed
  bool array = false;            // the old form: an array aligned with every backend
  bool unknown_binding = false;  // also an answer for a binding that does not exist
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
  static constexpr double kDescribeTimeouts[] = {0, 1, 50, 5000, 60000};  // 0: not given (5000)
  static constexpr double kWeights[] = {0.5, 1, 3, 1000000};
  static constexpr double kRetryAfterSeconds[] = {1, 60, 86400};

  json config = json::object();
  const uint8_t sections = in.u8();
  static constexpr const char* kStrategies[] = {"round-robin", "least-inflight", "peak-ewma"};
  if (sections & 1) config["strategy"] = in.pick(kStrategies);
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
    if (const double timeout = in.pick(kDescribeTimeouts); timeout > 0) config["discovery"]["describeTimeoutMs"] = timeout;
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
  // Fallback chains over the models, one no backend serves ("m-x") included, no loops. The bytes
  // are flipped so that the zero bytes past an input's end still give chains.
  if (const uint8_t which = in.u8() ^ 0x5B; which & 1) {
    static constexpr const char* kChainModels[] = {"m-a", "m-b", "m-c", "m-x"};
    json chains = json::object();
    for (size_t m = 0; m < 4; ++m) {
      if (!((which >> (m + 1)) & 1)) continue;
      const uint8_t members = in.u8() ^ 0x6D;
      json chain = json::array();
      for (size_t i = 0; i < 4; ++i) {
        const size_t k = (members & 0x80) ? 3 - i : i;  // either order
        if (k != m && ((members >> k) & 1)) chain.push_back(kChainModels[k]);
      }
      if (!chain.empty()) chains[kChainModels[m]] = chain;
    }
    config["fallbacks"] = chains;
  }
  if ((sections & 128) && in.one_in(4)) {
    // A mistake an operator could make: the core must refuse the whole config, loudly.
    switch (in.below(6)) {
      case 0: config["retry"]["maxAttempts"] = 0; break;
      case 5: config["discovery"]["describeTimeoutMs"] = 0; break;
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
  // apiKeysSet: ROUTER_API_KEYS is set. Set without a usable key, the router must fail closed.
  switch (in.below(8)) {
    case 0: input["apiKeysSet"] = setup.keys; break;
    case 1: input["apiKeysSet"] = true; break;
    case 2: input["apiKeysSet"] = false; break;
    case 3: {
      json wrong = input;
      wrong["apiKeysSet"] = "yes";  // not a boolean: the whole input is refused, nothing changes
      const std::string wrong_text = wrong.dump();
      AbiBytes wrong_bytes(wrong_text);
      FUZZ_CHECK(rt_router_configure(g_router, wrong_bytes.ptr(), wrong_bytes.size(), now) == -1,
                 "configure accepted a non-boolean apiKeysSet: " + wrong_text);
      break;
    }
    default: break;
  }
  router::ConfigResult parsed = router::parse_router_config(config_text);
  setup.policy_valid = parsed.config.has_value();
  if (parsed.config) setup.policy = *parsed.config;
  setup.keys_unusable = input.contains("apiKeysSet") && input["apiKeysSet"] == true && !setup.keys;
  setup.open = setup.policy_valid && !setup.keys_unusable;
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
  FUZZ_CHECK(answer.contains("error") == !setup.open, "configure answer vs policy and key validity: " + answer_text);
  if (setup.policy_valid && setup.keys_unusable)
    FUZZ_CHECK(answer["error"].is_object() && answer["error"].value("code", "") == "invalid_api_keys",
               "keys set but none usable: " + answer_text);

  // describe() answers, some failing in each way the core must survive.
  for (const auto& binding : answer["backends"]) {
    BackendView view;
    view.binding = binding.get<std::string>();
    switch (in.below(10)) {
      case 0: view.answer = {{"error", "describe() timed out"}}; break;
      case 1: view.answer = 7; break;
      case 2: view.answer = {{"name", "broken"}, {"models", {1}}}; break;
      case 3:  // a weight out of range: taken with weight 1 until a good description exists
        view.answer = {{"name", "zero"}, {"models", {"m-a"}}, {"weight", 0}};
        view.answer_kind = AnswerKind::WeightProblem;
        view.answer_name = "zero";
        view.answer_models = {"m-a"};
        break;
      case 4: view.answer = {{"name", "empty"}, {"models", {"m-a", ""}}}; break;  // an empty model name
      default: {
        const uint8_t served = in.u8();
        json models = json::array();
        for (int m = 0; m < 2; ++m)
          if (served & (1 << m)) models.push_back(kModels[m]);
        if (served & 4) models.push_back("*");
        view.answer_name = "n-" + view.binding;
        view.answer_models = models.get<std::vector<std::string>>();
        view.answer_kind = AnswerKind::Good;
        view.answer = {{"name", view.answer_name}, {"models", models}, {"version", "1"}};
        // 0: no weight given; 1e6 the largest taken; 2e6 and -1 out of range (see AnswerKind).
        static constexpr double kWeights[] = {0, 0.25, 1, 5, 1e6, 2e6, -1};
        if (const double weight = in.pick(kWeights); weight != 0) {
          view.answer["weight"] = weight;
          if (weight > 0 && weight <= 1e6) view.answer_weight = weight;
          else view.answer_kind = AnswerKind::WeightProblem;
        }
      }
    }
    if (setup.policy_valid) {
      auto override_ = setup.policy.backends.find(view.binding);
      if (override_ != setup.policy.backends.end()) {
        view.override_models = override_->second.models;
        view.override_weight = override_->second.weight;
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
  std::string model;       // expected in CALLs ("" when the body is raw bytes); after a fallback the chain's
  std::string client_model;          // the body's model
  std::vector<std::string> chain;    // ROUTER_CONFIG.fallbacks of it
  size_t chain_next = 0;             // the chain's models before this one were left behind
  uint32_t calls_on_model = 0;
  std::string last_call_model;       // the model of the last CALL (how raw bytes are followed)
  size_t batch_total = 0;            // describe() calls this request was handed
  int stream = -1;         // expected CALL stream flag, -1 when unknown
  bool call_stream = false;  // the last CALL's stream flag
  bool broken = false;     // took an event out of order: every later event must be refused
  std::string request_id;  // the sane x-request-id sent, or ""
  std::string expected_id; // the x-request-id every answer must carry: the one sent, or the generated one
  std::string auth;        // the Authorization hash sent, or ""
  std::string client_ip;   // the cf-connecting-ip sent, or ""
  uint32_t calls = 0;
  uint32_t backend = 0;    // of the last CALL
  double call_at = 0;
  double call_timeout = 0;
  double wait_until = 0;
  double wake_by = 0;  // READ_BODY's: no attempt may end before it (the shim's one timer)
  double discover_until = 0;     // the last DISCOVER's wait-until (0: do not wait)
  std::vector<std::string> batch;  // the bindings the last DISCOVER handed out
  uint32_t answered_status = 0;  // the status of the last non-retriable outcome
  bool backend_reply = false;    // the core answers for the backend (an error without a JSON object body)
  bool forwarded_stream = false; // FORWARD of an event stream
};

struct Harness {
  ByteReader& in;
  Setup setup;
  double now = kStartTime;
  std::vector<Exchange> live;
  uint32_t ended_handle = 0;  // a handle that was valid once
  std::vector<DescribeFeed> pending_feeds;  // describe() answers still on their way (background discovery)

  std::string context(const Exchange& x) const {
    return "exchange " + std::to_string(x.handle) + " path " + x.path + " calls " + std::to_string(x.calls) +
           " deadline " + std::to_string(x.deadline) + " now " + std::to_string(now);
  }

  void advance() {
    static constexpr double kSteps[] = {0, 0.5, 1, 7, 25, 100, 250, 1000, 5000, 30000, 60000, 300000};
    now += in.pick(kSteps);
    // Background describe() answers arrive while time passes.
    std::vector<DescribeFeed> feeds;
    feeds.swap(pending_feeds);
    for (const auto& feed : feeds) deliver(feed);
  }

  // The backends due for describe() now, in the core's order.
  std::set<std::string> due_bindings() const {
    std::set<std::string> due;
    for (const auto& b : setup.backends)
      if (b.due(now)) due.insert(b.binding);
    return due;
  }

  // Whether a request for `x` must wait for discovery: some backend never answered describe() and
  // none known serves its model (/v1/models: any backend never answered). nullopt: the model is
  // not known to the harness (raw body bytes).
  std::optional<bool> must_wait(const Exchange& x) const {
    if (setup.undiscovered() == 0) return false;
    if (x.path == "/v1/models") return true;
    if (x.model.empty()) return std::nullopt;
    return setup.eligible(x.model).empty();
  }

  // Checks the action an exchange call answered and records it. `allowed` is a mask of kinds.
  void observe(Exchange& x, uint32_t returned, uint32_t allowed, const char* event) {
    const ActionRecord record = action_record(g_router);
    const std::string text = router_output(g_router);
    trace("  %s -> kind %u status %u backend %u attempt %u t1 %.1f t2 %.1f t3 %.1f out %zu", event, returned,
          record.status_or_stream, record.backend, record.attempt, record.timeout_or_limit, record.time,
          record.attempt_deadline, text.size());
    if (returned == kReply) trace("    %s", text.substr(text.find("\n\n") + 2).c_str());
    if (returned == kDiscover) trace("    describe: %s", text.c_str());
    FUZZ_CHECK(returned >= kReadBody && returned <= kRateLimit,
               std::string(event) + " answered kind " + std::to_string(returned) + " for a live handle; " + context(x));
    FUZZ_CHECK(record.kind == returned, context(x));
    FUZZ_CHECK(allowed & (1u << returned),
               std::string(event) + " answered unexpected kind " + std::to_string(returned) + "; " + context(x));
    FUZZ_CHECK(record.out_len == text.size() &&
                   record.out_ptr == static_cast<uint32_t>(reinterpret_cast<uintptr_t>(rt_out_ptr(g_router))),
               "action record does not describe the output buffer");
    // A CALL's edited body (after a fallback) is the client's, prompt included; nothing else holds it.
    FUZZ_CHECK(!contains(returned == kCall ? std::string_view(text).substr(0, nth_line_end(text, 3)) : text, kCanary),
               "prompt text in an action's output: " + text);
    // attempt_deadline (offset 40) belongs to CALL, and to READ_BODY as its wake-up time.
    if (returned != kCall && returned != kReadBody)
      FUZZ_CHECK(record.attempt_deadline == 0, "attempt_deadline outside CALL and READ_BODY; " + context(x));
    switch (returned) {
      case kReadBody:
        FUZZ_CHECK(x.inference && setup.open, context(x));
        FUZZ_CHECK(record.timeout_or_limit == static_cast<double>(setup.policy.limits.max_body_bytes), context(x));
        // The body is due by the request's deadline.
        FUZZ_CHECK(record.time == x.deadline, "READ_BODY due by " + std::to_string(record.time) + "; " + context(x));
        // Its wake-up time comes no later than the body's deadline (which may have passed while the
        // rate limiter answered), and no attempt ends before it (check_call).
        FUZZ_CHECK(record.attempt_deadline > 0 && record.attempt_deadline <= x.deadline,
                   "READ_BODY wake by " + std::to_string(record.attempt_deadline) + "; " + context(x));
        x.wake_by = record.attempt_deadline;
        break;
      case kDiscover: check_discover(x, record, text); break;
      case kRateLimit: check_rate_limit(x, record, text); break;
      case kCall: check_call(x, record, text); break;
      case kWait:
        FUZZ_CHECK(x.calls >= 1, "WAIT before any attempt; " + context(x));
        FUZZ_CHECK(record.time > now, "WAIT until " + std::to_string(record.time) + " is not ahead; " + context(x));
        FUZZ_CHECK(record.time <= x.deadline,
                   "WAIT until " + std::to_string(record.time) + " is past the deadline; " + context(x));
        x.wait_until = record.time;
        break;
      case kReply:
        check_answer_model(x, text);
        check_reply(x, record, text);
        break;
      case kForward:
        check_answer_model(x, text);
        FUZZ_CHECK(record.status_or_stream == x.answered_status, "FORWARD changed the status; " + context(x));
        FUZZ_CHECK(record.backend == x.backend && record.attempt == x.calls, context(x));
        FUZZ_CHECK(contains(text, "x-router-backend: " + setup.backends[x.backend].binding), text);
        FUZZ_CHECK(contains(text, "x-router-attempts: " + std::to_string(x.calls)), text);
        FUZZ_CHECK(contains("\n" + text + "\n", "\nx-request-id: " + x.expected_id + "\n"), text);
        FUZZ_CHECK(headers_sound(text), "FORWARD headers unsound or without Server-Timing: " + text);
        // A success goes out in the shape asked for; errors are JSON.
        x.forwarded_stream = contains(text, "content-type: text/event-stream");
        FUZZ_CHECK(x.forwarded_stream == (x.call_stream && x.answered_status >= 200 && x.answered_status < 300),
                   "FORWARD content type; " + text);
        FUZZ_CHECK(record.timeout_or_limit == (x.forwarded_stream ? setup.policy.timeouts.stream_idle_ms : 0.0),
                   "FORWARD stream idle timeout; " + context(x));
        FUZZ_CHECK(record.time == (x.forwarded_stream && x.stream == 1 && x.path != "/v1/embeddings" ? 1.0 : 0.0),
                   "FORWARD usage injected exactly for streams of chat and completions; " + context(x));
        break;
    }
    x.kind = returned;
  }

  // DISCOVER: the backends due for describe() (this request's share of the 32 invocations), each
  // call's timeout, and a wait that ends at the describe() timeout or the deadline, only when the
  // request cannot be answered without discovery.
  void check_discover(Exchange& x, const ActionRecord& record, const std::string& text) {
    FUZZ_CHECK(setup.open, context(x));
    FUZZ_CHECK(x.inference || x.path == "/v1/models", "DISCOVER for " + x.path);
    const double timeout = record.timeout_or_limit;
    FUZZ_CHECK(timeout == setup.policy.discovery.describe_timeout_ms,
               "DISCOVER describe() timeout " + std::to_string(timeout) + "; " + context(x));
    std::vector<std::string> batch = text.empty() ? std::vector<std::string>{} : split(text, '\n');
    const std::set<std::string> handed(batch.begin(), batch.end());
    FUZZ_CHECK(handed.size() == batch.size(), "a binding handed out twice: " + text);
    FUZZ_CHECK(batch.size() + setup.policy.retry.max_attempts <= kMaxWorkerInvocations,
               "describe() batch over the request's share of invocations: " + text);
    const std::set<std::string> due = due_bindings();
    std::string due_text;
    for (const auto& b : due) due_text += b + " ";
    FUZZ_CHECK(handed == due, "DISCOVER handed out '" + text + "', due: " + due_text + "; " + context(x));
    const double wait_until = std::max(now, std::min(x.deadline, now + timeout));
    const std::optional<bool> wait = must_wait(x);
    if (wait) {
      FUZZ_CHECK(record.time == (*wait ? wait_until : 0.0),
                 "DISCOVER wait until " + std::to_string(record.time) + " (wait " + std::to_string(*wait) + "); " +
                     context(x));
    } else {
      FUZZ_CHECK(record.time == 0 || record.time == wait_until,
                 "DISCOVER wait until " + std::to_string(record.time) + "; " + context(x));
    }
    FUZZ_CHECK(!batch.empty() || record.time != 0, "DISCOVER with nothing to describe nor wait for; " + context(x));
    // Handed out: not due again until answered, or until its timeout and the grace passed.
    for (auto& b : setup.backends)
      if (handed.count(b.binding)) b.pending_until = now + timeout + kLostDescribeGraceMs;
    x.discover_until = record.time;
    x.batch = batch;
    x.batch_total += batch.size();
  }

  // How long the shim may wait for the rate limiter: at most `cap`, never past the deadline.
  void check_wait_budget(const Exchange& x, double timeout, double cap, const char* what) {
    FUZZ_CHECK(timeout >= 0 && timeout <= cap && (timeout == 0 || now + timeout <= x.deadline),
               std::string(what) + " timeout " + std::to_string(timeout) + "; " + context(x));
  }

  void check_rate_limit(const Exchange& x, const ActionRecord& record, const std::string& key) {
    FUZZ_CHECK(setup.rate_limiting && setup.open, "RATE_LIMIT without a RATE_LIMITER binding; " + context(x));
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

  // Raw body bytes can happen to be a request naming a model with a fallback chain: the harness
  // does not parse them, so it cannot tell whether a fallback may come.
  bool unknown_chain(const Exchange& x) const { return x.client_model.empty() && !setup.policy.fallbacks.empty(); }

  // `model` is the exchange's model, or one later in its chain (which it then moves to).
  static bool advance_to(Exchange& x, const std::string& model) {
    if (model == x.model) return true;
    for (size_t i = x.chain_next; i < x.chain.size(); ++i) {
      if (x.chain[i] != model) continue;
      x.model = model;
      x.chain_next = i + 1;
      x.calls_on_model = 0;
      return true;
    }
    return false;
  }

  // The model an answer names (x-router-model) is the exchange's or a later one of its chain.
  void check_answer_model(Exchange& x, const std::string& text) {
    if (!x.inference || !setup.open || x.model.empty()) return;
    const std::string named = header_value(text, "x-router-model");
    if (!named.empty()) FUZZ_CHECK(advance_to(x, named), "x-router-model not in the chain: " + text);
  }

  void check_call(Exchange& x, const ActionRecord& record, const std::string& text) {
    const router::RouterConfig& policy = setup.policy;
    FUZZ_CHECK(x.inference && setup.open, context(x));
    x.calls++;
    FUZZ_CHECK(x.calls + x.batch_total <= kMaxWorkerInvocations, "more than 32 Workers; " + context(x));
    const std::vector<std::string> lines = split(text.substr(0, nth_line_end(text, 3)), '\n');
    FUZZ_CHECK(lines.size() == 3, "CALL text: " + text);
    if (!x.model.empty()) FUZZ_CHECK(advance_to(x, lines[1]), "CALL model not next in the chain: " + text);
    if (x.model.empty() && lines[1] != x.last_call_model) x.calls_on_model = 0;  // raw bytes moved on a chain
    x.last_call_model = lines[1];
    x.calls_on_model++;
    FUZZ_CHECK(x.calls_on_model <= policy.retry.max_attempts,
               "more CALLs than maxAttempts " + std::to_string(policy.retry.max_attempts) + "; " + context(x));
    // The backend gets the client's body, with the model rewritten after a fallback, and a stream
    // of chat or completions asked for its usage (these bodies have no stream_options).
    const size_t body_at = nth_line_end(text, 3);
    const bool asks_usage = x.stream == 1 && x.path != "/v1/embeddings";
    if (x.client_model.empty()) {
      // Raw bytes that happen to be a request: its stream and chain are the core's reading of them.
    } else if (x.model == x.client_model && !asks_usage) {
      FUZZ_CHECK(body_at == text.size(), "CALL with an edited body for the client's model: " + text);
    } else {
      std::string expected = x.body;
      if (asks_usage) expected.insert(1, "\"stream_options\":{\"include_usage\":true},");
      const std::string from = "\"model\":\"" + x.client_model + "\"";
      if (size_t at = expected.find(from); at != std::string::npos)
        expected.replace(at, from.size(), "\"model\":\"" + x.model + "\"");
      FUZZ_CHECK(body_at < text.size() && text.substr(body_at + 1) == expected, "CALL body after a fallback: " + text);
    }
    FUZZ_CHECK(record.attempt == x.calls, "attempt " + std::to_string(record.attempt) + " out of order; " + context(x));
    FUZZ_CHECK(record.time == x.deadline, "CALL deadline " + std::to_string(record.time) + "; " + context(x));
    FUZZ_CHECK(now < x.deadline, "CALL at or after the deadline; " + context(x));
    const double timeout = record.timeout_or_limit;
    FUZZ_CHECK(timeout > 0 && now + timeout <= x.deadline,
               "CALL timeout " + std::to_string(timeout) + " runs past the deadline; " + context(x));
    // The attempt is abandoned when its timeout ends.
    FUZZ_CHECK(record.attempt_deadline == now + timeout && record.attempt_deadline <= x.deadline,
               "CALL attempt_deadline " + std::to_string(record.attempt_deadline) + "; " + context(x));
    FUZZ_CHECK(record.attempt_deadline >= x.wake_by,
               "CALL attempt_deadline before READ_BODY's wake-up time " + std::to_string(x.wake_by) + "; " + context(x));
    FUZZ_CHECK(record.status_or_stream <= 1, context(x));
    const bool stream = record.status_or_stream == 1;
    x.call_stream = stream;
    FUZZ_CHECK(timeout <= (stream ? policy.timeouts.first_byte_ms : policy.timeouts.per_try_ms), context(x));
    if (x.stream >= 0) FUZZ_CHECK(stream == (x.stream == 1), "CALL stream flag differs from the body; " + context(x));

    FUZZ_CHECK(lines[0] == x.expected_id, "CALL request id '" + lines[0] + "', expected " + x.expected_id);
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
    // The core's own statuses, or (an error answer without a JSON object body) the backend's.
    if (x.backend_reply) {
      FUZZ_CHECK(status == x.answered_status && status >= 300 && status <= 599,
                 "REPLY for the backend changed its status " + std::to_string(x.answered_status) + " to " +
                     std::to_string(status) + "; " + context(x));
    } else {
      FUZZ_CHECK(kContractStatuses.count(status) == 1, "REPLY status " + std::to_string(status) + "; " + context(x));
    }
    FUZZ_CHECK(record.attempt == x.calls, "REPLY attempts " + std::to_string(record.attempt) + "; " + context(x));
    if (!setup.open) FUZZ_CHECK(status == 500, "an invalid ROUTER_CONFIG or API key set must answer 500: " + text);
    if (status == 502) FUZZ_CHECK(x.calls >= 1, "502 without an attempt: " + text);

    const size_t blank = text.find("\n\n");
    FUZZ_CHECK(blank != std::string::npos, "REPLY without a blank line: " + text);
    const std::string headers = "\n" + text.substr(0, blank) + "\n";
    FUZZ_CHECK(contains(headers, "\ncontent-type: application/json\n") && contains(headers, "\nx-request-id: "), text);
    FUZZ_CHECK(headers_sound(text), "REPLY headers unsound or without Server-Timing: " + text);
    FUZZ_CHECK(contains(headers, "\nx-request-id: " + x.expected_id + "\n"),
               "REPLY x-request-id, expected " + x.expected_id + ": " + text);
    if (x.inference && setup.open)
      FUZZ_CHECK(contains(headers, "\nx-router-attempts: " + std::to_string(x.calls) + "\n"), text);
    if (x.backend_reply) {
      FUZZ_CHECK(contains(headers, "\nx-router-backend: " + setup.backends[x.backend].binding + "\n"), text);
    } else {
      if (status == 503) FUZZ_CHECK(contains(headers, "\nretry-after: "), text);
      if (status == 401) FUZZ_CHECK(contains(headers, "\nwww-authenticate: Bearer\n"), text);
      if (status == 405) FUZZ_CHECK(contains(headers, "\nallow: "), text);
    }

    const json body = json::parse(text.begin() + static_cast<std::ptrdiff_t>(blank + 2), text.end(), nullptr, false);
    FUZZ_CHECK(!body.is_discarded() && body.is_object(), "REPLY body is not a JSON object: " + text);
    if (status >= 300) {
      const auto error = body.find("error");
      FUZZ_CHECK(error != body.end() && error->is_object(), "error body shape: " + text);
      FUZZ_CHECK(error->contains("message") && (*error)["message"].is_string() && error->contains("type") &&
                     (*error)["type"].is_string() && error->contains("param") && error->contains("code"),
                 "error body shape: " + text);
      const json code = (*error)["code"];
      if (x.backend_reply) FUZZ_CHECK(code == "backend_error", "REPLY for the backend: " + text);
      // The catalog rules: a model is unknown only once every backend answered describe().
      if (code == "model_not_found") {
        FUZZ_CHECK(status == 404 && setup.undiscovered() == 0, "model_not_found before discovery ended: " + text);
        if (!x.model.empty()) FUZZ_CHECK(setup.eligible(x.model).empty(), "model_not_found but served: " + text);
      }
      if (contains((*error)["message"].is_string() ? (*error)["message"].get<std::string>() : "",
                   "still being discovered"))
        FUZZ_CHECK(status == 503 && setup.undiscovered() > 0, "still being discovered: " + text);
    } else if (x.path == "/v1/models" && status == 200 && setup.open) {
      // Every model an enabled backend serves (its last good description, or its override).
      std::set<std::string> expected;
      for (const auto& b : setup.backends)
        if (b.enabled)
          for (const auto& m : b.models())
            if (m != "*") expected.insert(m);
      std::set<std::string> listed;
      if (body.contains("data") && body["data"].is_array())
        for (const auto& entry : body["data"])
          if (entry.is_object() && entry.contains("id") && entry["id"].is_string()) listed.insert(entry["id"]);
      FUZZ_CHECK(listed == expected && body["data"].size() == expected.size(), "/v1/models lists: " + text);
    }
  }

  // ---- logs ----

  // Drains the logs; every line must be a JSON object with level and event, free of prompt text.
  std::vector<json> drain_logs() {
    std::vector<json> entries;
    const int32_t length = rt_router_logs(g_router);
    FUZZ_CHECK(length >= 0, "logs failed");
    if (length == 0) return entries;
    const std::string text = router_output(g_router);
    FUZZ_CHECK(!contains(text, kCanary), "prompt text in the logs: " + text);
    for (const auto& line : split(text, '\n')) {
      json entry = json::parse(line, nullptr, false);
      FUZZ_CHECK(entry.is_object() && entry.contains("level") && entry["level"].is_string() &&
                     entry.contains("event") && entry["event"].is_string(),
                 "log line: " + line);
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  void check_logs() { drain_logs(); }

  // The logs hold `event` for this exchange's request.
  void expect_logged(const Exchange& x, const char* event) {
    for (const auto& entry : drain_logs())
      if (entry["event"] == event && entry.value("requestId", "") == x.expected_id) return;
    FUZZ_CHECK(false, std::string("no '") + event + "' log line; " + context(x));
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
      x.model = x.client_model = kModels[in.below(3)];
      if (auto it = setup.policy.fallbacks.find(x.model); it != setup.policy.fallbacks.end()) x.chain = it->second;
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
    // 128 random bits, as the shim draws them; spread from two input bytes so every word differs.
    const uint32_t seed = in.u16();
    const uint32_t r[4] = {seed * 0x9E3779B1u, seed ^ 0xA5A5A5A5u, ~seed * 0x85EBCA6Bu, (seed << 16) | 0x1234u};
    x.expected_id = x.request_id;
    if (x.expected_id.empty()) {
      // hex64(r0 << 32 | r1) + hex64(r2 << 32 | r3): 32 lower-case hex digits.
      char id[33];
      std::snprintf(id, sizeof id, "%08x%08x%08x%08x", r[0], r[1], r[2], r[3]);
      x.expected_id = id;
    }
    x.deadline = now + setup.policy.timeouts.request_ms;
    x.inference = proper_inference && setup.open;

    const std::vector<size_t> abandoned = abandoned_exchanges();
    AbiBytes bytes(head);
    x.handle = rt_exchange_begin(g_router, bytes.ptr(), bytes.size(), now, r[0], r[1], r[2], r[3]);
    ended_as_abandoned(abandoned);
    if (g_trace) {
      std::string shown = head;
      for (char& c : shown) c = c == '\n' ? '|' : c;
      trace("begin %u at %.1f: %s, body %zu bytes, id %s", x.handle, now, shown.c_str(), x.body.size(),
            x.expected_id.c_str());
    }
    FUZZ_CHECK(x.handle != 0, "begin failed: " + head);
    const uint32_t kind = action_record(g_router).kind;
    observe(x, kind, 1u << kReadBody | 1u << kDiscover | 1u << kReply | 1u << kRateLimit, "begin");
    const uint32_t status = action_record(g_router).status_or_stream;
    if (setup.open && kind == kReply) {
      if (x.path == "/v2/unknown") FUZZ_CHECK(status == 404, head);
      else if (x.path == "/healthz") FUZZ_CHECK(status == 200, head);
      else if (method == "PUT") FUZZ_CHECK(status == 405, head);
    }
    if (!proper_inference) FUZZ_CHECK(kind != kReadBody, "READ_BODY for " + head);
    // Rate limiting comes right after authentication, before the body and discovery.
    if (setup.rate_limiting) FUZZ_CHECK(kind != kReadBody && kind != kDiscover, "skipped the rate limiter: " + head);
    check_models_without_discovery(x, kind);
    live.push_back(x);
  }

  // /v1/models answered at once: nothing was due for describe() and no backend was left undescribed.
  void check_models_without_discovery(const Exchange& x, uint32_t kind) {
    if (x.path != "/v1/models" || kind != kReply || !setup.open || action_record(g_router).status_or_stream != 200)
      return;
    FUZZ_CHECK(due_bindings().empty() && setup.undiscovered() == 0,
               "/v1/models answered without the discovery it needed; " + context(x));
  }

  std::string retry_after() {
    static constexpr const char* kSeconds[] = {"", "", "0", "1", "2.5", "30", "3600", " 7 ", "-1", "soon", "1e3"};
    static constexpr const char* kMillis[] = {"", "", "", "0", "150", "2500", "99999999", "x"};
    std::string value = in.one_in(5) ? http_date(now + 1000.0 * (static_cast<int>(in.u8()) - 64)) : in.pick(kSeconds);
    if (in.one_in(3)) return value;  // no retry-after-ms part at all
    return value + "\n" + in.pick(kMillis);
  }

  // Hands describe() answers to the core and checks which it took.
  void deliver(const DescribeFeed& feed) {
    json answers = feed.array ? json::array() : json::object();
    std::set<std::string> taken;
    std::vector<std::pair<uint32_t, AnswerKind>> applied;
    const json failure = {{"error", "describe() timed out"}};
    if (feed.array) {
      for (uint32_t i = 0; i < setup.backends.size(); ++i) {
        answers.push_back(setup.backends[i].answer);
        applied.emplace_back(i, setup.backends[i].answer_kind);
      }
    } else {
      for (const auto& [i, failed] : feed.answers) {
        answers[setup.backends[i].binding] = failed ? failure : setup.backends[i].answer;
        applied.emplace_back(i, failed ? AnswerKind::Bad : setup.backends[i].answer_kind);
      }
      if (feed.unknown_binding) answers["BACKEND_Z"] = {{"name", "z"}, {"models", {"m-a"}}};
    }
    const std::string text = answers.dump();
    AbiBytes bytes(text);
    trace("describe at %.1f: %s", now, text.c_str());
    FUZZ_CHECK(rt_router_describe(g_router, bytes.ptr(), bytes.size(), now) == 0, "describe refused: " + text);
    const std::string accepted_text = router_output(g_router);
    for (const auto& [i, kind] : applied)
      if (setup.apply(i, kind, now)) taken.insert(setup.backends[i].binding);
    const std::vector<std::string> accepted =
        accepted_text.empty() ? std::vector<std::string>{} : split(accepted_text, '\n');
    FUZZ_CHECK(std::set<std::string>(accepted.begin(), accepted.end()) == taken && accepted.size() == taken.size(),
               "describe accepted '" + accepted_text + "' of " + text);
  }

  // What the shim does for DISCOVER: describe() on the bindings handed out (answers that fail, go
  // missing, or come after the request resumed), waiting for them only when told to, then resume.
  void discover_event(Exchange& x) {
    const uint8_t mode = in.u8();
    const uint8_t failed = in.u8();  // per position in the batch: a failed (or, with mode bit 7, lost) answer
    if (mode % 8 == 0) {
      // Neither an object nor an aligned array: refused, nothing changes.
      const char* wrong = (mode & 8) ? "[]" : "7";
      AbiBytes bytes(wrong);
      FUZZ_CHECK(rt_router_describe(g_router, bytes.ptr(), bytes.size(), now) == -1, std::string("describe took ") + wrong);
    }
    DescribeFeed feed;
    feed.array = (mode & 16) != 0;
    feed.unknown_binding = (mode & 2) != 0;
    size_t position = 0;
    for (const auto& binding : x.batch) {
      const bool bit = position < 8 && (failed >> position & 1);
      ++position;
      if (bit && (mode & 128)) continue;  // lost: never answered
      for (uint32_t i = 0; i < setup.backends.size(); ++i)
        if (setup.backends[i].binding == binding) feed.answers.emplace_back(i, bit);
    }
    const bool background = (mode & 32) != 0;
    if (x.discover_until != 0 && (mode & 64)) now = std::max(now, x.discover_until);  // waited it out
    if (!background && (feed.array || !feed.answers.empty() || feed.unknown_binding)) deliver(feed);
    trace("resume %u after discovery at %.1f", x.handle, now);
    const uint32_t kind = rt_exchange_resume(x.handle, now);
    observe(x, kind, 1u << kCall | 1u << kReply, "resume");
    if (background && (feed.array || !feed.answers.empty() || feed.unknown_binding)) pending_feeds.push_back(feed);
    const uint32_t status = action_record(g_router).status_or_stream;
    if (x.path == "/v1/models") {
      FUZZ_CHECK(kind == kReply && status == 200, "/v1/models after discovery; " + context(x));
      return;
    }
    if (now >= x.deadline) {
      FUZZ_CHECK(kind == kReply && status == 504, "resumed past the deadline; " + context(x));
      return;
    }
    // With a chain the request may go on with another model: the CALL and REPLY checks cover it.
    if (x.model.empty() || !x.chain.empty()) return;
    const std::string out = router_output(g_router);
    if (!setup.eligible(x.model).empty()) {
      FUZZ_CHECK(kind == kCall || (kind == kReply && status == 503), "a served model after discovery; " + context(x));
    } else if (setup.undiscovered() > 0) {
      FUZZ_CHECK(kind == kReply && status == 503 && contains(out, "still being discovered"),
                 "no backend known for the model while some never answered describe(): " + out);
    } else {
      bool undiscoverable = false;
      for (const auto& b : setup.backends) undiscoverable |= b.enabled && b.problem && b.models().empty();
      FUZZ_CHECK(kind == kReply && status == (undiscoverable ? 503u : 404u),
                 "no backend serves the model after discovery: " + out);
    }
  }

  // The live exchanges a request beginning now ends as abandoned (Exchange::abandoned_at): still
  // waiting 10 s past their deadline, unless forwarding a stream. Highest index first.
  std::vector<size_t> abandoned_exchanges() const {
    std::vector<size_t> due;
    for (size_t i = live.size(); i-- > 0;) {
      const Exchange& x = live[i];
      if (!(x.kind == kForward && x.forwarded_stream) && now >= x.deadline + router::Exchange::kAbandonedAfterMs)
        due.push_back(i);
    }
    return due;
  }

  // After the begin: exactly those are gone (remove() checks), every other one is still there.
  void ended_as_abandoned(const std::vector<size_t>& due) {
    for (size_t i : due) {
      trace("abandoned %u at %.1f (deadline %.1f)", live[i].handle, now, live[i].deadline);
      remove(i);
    }
    for (const Exchange& x : live)
      FUZZ_CHECK(rt_exchange_usage_event(x.handle, nullptr, 0) != -2, "ended before it was abandoned; " + context(x));
  }

  void remove(size_t index) {
    ended_handle = live[index].handle;
    live.erase(live.begin() + static_cast<std::ptrdiff_t>(index));
    // The handle is gone: any call with it is an error.
    FUZZ_CHECK(rt_exchange_resume(ended_handle, now) == kNoExchange, "ended handle still answers");
  }

  // how: 0 completed, 1 the stream failed, 2 the client went away, 3 the shim failed.
  void end(size_t index, uint32_t how, const StreamTail& tail) {
    Exchange& x = live[index];
    trace("end %u how %u tail '%s' at %.1f", x.handle, how, tail.text, now);
    const std::string tail_text = tail.text;
    AbiBytes tail_bytes(tail_text);
    const int32_t length = rt_exchange_end(x.handle, how, tail_bytes.ptr(), tail_bytes.size(), now);
    const std::string text = router_output(g_router);
    FUZZ_CHECK(length >= 0, "end failed; " + context(x));
    FUZZ_CHECK(static_cast<size_t>(length) == text.size(), "end length vs output; " + context(x));
    // A forwarded stream that completed without its [DONE] line failed like a broken one.
    const bool unterminated = how == 0 && x.kind == kForward && x.forwarded_stream && !tail.done;
    if (how == 1 || unterminated) {
      FUZZ_CHECK(length > 0 && text.rfind("data: {\"error\":", 0) == 0 && text.size() >= 2 &&
                     text.compare(text.size() - 2, 2, "\n\n") == 0,
                 "SSE error event: " + text + "; " + context(x));
      if (unterminated) expect_logged(x, "backend_stream_unterminated");
    } else if (how == 3) {
      // The 500 reply the shim sends for its own failure: headers, a blank line, an OpenAI error.
      const size_t blank = text.find("\n\n");
      FUZZ_CHECK(blank != std::string::npos, "internal error reply: " + text);
      const std::string headers = "\n" + text.substr(0, blank) + "\n";
      FUZZ_CHECK(contains(headers, "\ncontent-type: application/json\n") &&
                     contains(headers, "\nx-request-id: " + x.expected_id + "\n"),
                 "internal error reply headers: " + text);
      const json body = json::parse(text.substr(blank + 2), nullptr, false);
      FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].is_object() &&
                     body["error"].value("code", "") == "internal_error" && body["error"].contains("message"),
                 "internal error reply body: " + text);
      FUZZ_CHECK(!contains(text, kCanary), "prompt text in the internal error reply");
      expect_logged(x, "internal_error");
    } else {
      FUZZ_CHECK(length == 0, "end wrote bytes; " + context(x));
    }
    remove(index);
  }

  // The event the exchange's last action calls for.
  void proper_event(size_t index) {
    Exchange& x = live[index];
    if (x.broken) return check_still_broken(x);
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
        } else {
          check_models_without_discovery(x, kind);
        }
        break;
      }
      case kReadBody: {
        const uint64_t limit = setup.policy.limits.max_body_bytes;
        // how: 0 the whole body, 1 more than the limit arrived, 2 it did not arrive by the deadline.
        const uint8_t choice = in.u8() % 16;
        const uint32_t how = choice == 15 ? 2 : (x.body.size() > limit || choice == 0) ? 1 : 0;
        const std::string sent = x.body.substr(0, static_cast<size_t>(std::min<uint64_t>(x.body.size(), limit)));
        AbiBytes bytes(sent);
        trace("body %u (%zu bytes, how %u) at %.1f", x.handle, sent.size(), how, now);
        const uint32_t kind = rt_exchange_body(x.handle, bytes.ptr(), bytes.size(), how, now);
        const std::set<std::string> due = due_bindings();
        const std::optional<bool> wait = must_wait(x);
        observe(x, kind, 1u << kDiscover | 1u << kCall | 1u << kReply, "body");
        const uint32_t status = action_record(g_router).status_or_stream;
        if (how == 2 || now >= x.deadline) {
          FUZZ_CHECK(kind == kReply && status == 504 && contains(router_output(g_router), "deadline_exceeded"),
                     "a body late for the deadline must answer 504; " + context(x));
        } else if (how == 1) {
          FUZZ_CHECK(kind == kReply && status == 413, context(x));
        }
        // Straight to a CALL: nothing was due for describe() and the model had a known backend.
        if (kind == kCall)
          FUZZ_CHECK(due.empty() && !wait.value_or(false), "CALL without the discovery it needed; " + context(x));
        break;
      }
      case kDiscover: discover_event(x); break;
      case kCall: {
        static constexpr uint32_t kStatuses[] = {200, 200, 200, 201, 400, 401, 404, 413, 422, 429, 429,
                                                 500, 502, 503, 504, 403, 204, 205, 304, 302, 199};
        uint32_t outcome = 0, status = 0;
        const uint32_t choice = in.below(12);
        if (choice < 6) {
          status = in.pick(kStatuses);
          // Answered in the shape asked for (a JSON object body, or a stream), now and then the other.
          outcome = x.call_stream != in.one_in(8) ? kOutcomeStream : kOutcomeJson;
        } else if (choice == 6) {
          status = in.u16() % 1000;  // out of 200..599 now and then: a broken answer, a failed attempt
          outcome = in.pick(kAnswerShapes);
        } else if (choice == 7) {
          outcome = kOutcomeThrew;
        } else if (choice < 10) {
          outcome = kOutcomeTimedOut;  // the per-try timer fired
          now = std::max(now, x.call_at + x.call_timeout);
        } else {
          status = in.pick(kStatuses);
          outcome = in.pick(kAnswerShapes);  // no body, not an object, an empty stream, not bytes...
        }
        std::string ra = retry_after();
        // Now and then a 400's error code that moves a chain on.
        const bool context_code = status == 400 && in.one_in(2);
        if (context_code) ra += std::string(contains(ra, "\n") ? "" : "\n") + "\ncontext_length_exceeded";
        const bool may_fall_back = unknown_chain(x) || (!x.chain.empty() && x.chain_next < x.chain.size());
        AbiBytes bytes(ra);
        trace("outcome %u: %u status %u ra '%s' at %.1f", x.handle, outcome, status, ra.c_str(), now);
        const uint32_t kind = rt_exchange_outcome(x.handle, outcome, status, bytes.ptr(), bytes.size(), now);
        // The answer rules (backend contract): a final status with a body in the shape asked for.
        const bool answered = outcome != kOutcomeThrew && outcome != kOutcomeTimedOut;
        bool broken = false;
        if (answered) {
          if (status < 200 || status > 599 || status == 204 || status == 205 || status == 304) broken = true;
          else if (outcome == kOutcomeEmptyStream || outcome == kOutcomeStreamNotBytes) broken = true;
          else if (status < 300) broken = outcome != (x.call_stream ? kOutcomeStream : kOutcomeJson);
        }
        // 401 and 403 are the backend's own credentials failing: retried like 429, 500, 502-504.
        const bool retriable = !answered || broken || status == 401 || status == 403 || status == 429 ||
                               status == 500 || status == 502 || status == 503 || status == 504;
        x.answered_status = status;
        // An error answer without a JSON object body: the core answers it with its own error.
        x.backend_reply = !retriable && status >= 300 && outcome != kOutcomeJson;
        const bool context_fallback = context_code && may_fall_back && outcome == kOutcomeJson;
        uint32_t allowed = retriable ? after_failure : x.backend_reply ? 1u << kReply : 1u << kForward;
        if (context_fallback) allowed |= 1u << kCall | 1u << kReply;
        observe(x, kind, allowed, "outcome");
        if (retriable && kind == kReply) {
          const uint32_t reply = action_record(g_router).status_or_stream;
          // After a fallback the next models may have no backend left (404, 503).
          FUZZ_CHECK(reply == 502 || reply == 504 || (may_fall_back && (reply == 404 || reply == 503)),
                     "after a failed attempt: " + std::to_string(reply));
        }
        if (broken) expect_logged(x, "backend_answer_shape");
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
      case kReply: {
        const uint8_t choice = in.u8();
        end(index, choice % 4 == 0 ? 2 : choice % 16 == 3 ? 3 : 0, kTails[choice % std::size(kTails)]);
        break;
      }
      case kForward: {
        const uint32_t how = in.below(4);
        end(index, how, in.pick(kTails));
        break;
      }
      default: FUZZ_CHECK(false, "harness lost track; " + context(x));
    }
  }

  // After an event out of order the exchange refuses even the event its phase took (sticky, as
  // h11's ERROR state); only end() is left, and it must still release the attempt in flight.
  void check_still_broken(const Exchange& x) {
    uint32_t kind = kError;
    switch (x.kind) {
      case kRateLimit: kind = rt_exchange_rate_limited(x.handle, 1, now); break;
      case kReadBody: kind = rt_exchange_body(x.handle, "{}", 2, 0, now); break;
      case kDiscover:
      case kWait: kind = rt_exchange_resume(x.handle, now); break;
      case kCall: kind = rt_exchange_outcome(x.handle, kOutcomeJson, 200, nullptr, 0, now); break;
      default: return;  // REPLY, FORWARD: nothing but end() was ever taken
    }
    FUZZ_CHECK(kind == kError, "a broken exchange took an event (kind " + std::to_string(kind) + "); " + context(x));
  }

  // An event the exchange's state does not allow (it breaks the exchange for good), or a bad
  // argument (refused by the ABI: no change).
  void improper_event(size_t index) {
    Exchange& x = live[index];
    const double nan = std::numeric_limits<double>::quiet_NaN();
    uint32_t kind = kError;
    const uint32_t choice = in.below(9);
    trace("improper event %u on %u (last kind %u)", choice, x.handle, x.kind);
    switch (choice) {
      case 0:
        if (x.kind == kReadBody) return;
        kind = rt_exchange_body(x.handle, "{}", 2, in.below(3), now);
        x.broken = true;
        break;
      case 1:
        if (x.kind == kDiscover || x.kind == kWait) return;
        kind = rt_exchange_resume(x.handle, now);
        x.broken = true;
        break;
      case 2:
        if (x.kind == kCall) return;
        kind = rt_exchange_outcome(x.handle, kOutcomeJson, 200, nullptr, 0, now);
        x.broken = true;
        break;
      case 3:
        if (x.kind == kCall) return;
        kind = rt_exchange_outcome(x.handle, in.below(8), 503, nullptr, 0, now);
        x.broken = true;
        break;
      case 4: kind = rt_exchange_outcome(x.handle, kOutcomeStreamNotBytes + 1 + in.u8(), 200, nullptr, 0, now); break;
      case 5: kind = rt_exchange_body(x.handle, "{}", 2, 3 + in.u8(), now); break;
      case 6:
        kind = in.flag() ? rt_exchange_resume(x.handle, nan) : rt_exchange_body(x.handle, nullptr, 5, 0, now);
        break;
      case 7:
        if (x.kind == kRateLimit && in.flag()) return;
        // Outside RATE_LIMIT any answer is out of order; `allowed` > 2 is always a bad argument.
        kind = rt_exchange_rate_limited(x.handle, x.kind == kRateLimit ? 3 + in.u8() : in.below(3), now);
        x.broken = x.broken || x.kind != kRateLimit;
        break;
      default:
        FUZZ_CHECK(rt_exchange_end(x.handle, 4 + in.u8(), nullptr, 0, now) == -3, "end with a bad how; " + context(x));
        FUZZ_CHECK(rt_exchange_end(x.handle, 0, nullptr, 0, std::numeric_limits<double>::infinity()) == -3, context(x));
        FUZZ_CHECK(rt_exchange_end(x.handle, 0, nullptr, 3, now) == -3, "end with a null tail; " + context(x));
        return;  // still live: a bad argument to end() changes nothing
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
      FUZZ_CHECK(rt_exchange_body(handle, "{}", 2, 0, now) == kNoExchange, "body on a bad handle");
      FUZZ_CHECK(rt_exchange_resume(handle, now) == kNoExchange, "resume on a bad handle");
      FUZZ_CHECK(rt_exchange_outcome(handle, 0, 200, nullptr, 0, now) == kNoExchange, "outcome on a bad handle");
      FUZZ_CHECK(rt_exchange_rate_limited(handle, 1, now) == kNoExchange, "rate_limited on a bad handle");
      FUZZ_CHECK(rt_exchange_end(handle, 0, nullptr, 0, now) == -2, "end on a bad handle");
    }
    for (uint32_t router : {0u, g_router + 1}) {
      FUZZ_CHECK(rt_router_configure(router, "{}", 2, now) == -2, "configure on a bad router");
      FUZZ_CHECK(rt_router_describe(router, "[]", 2, now) == -2, "describe on a bad router");
      FUZZ_CHECK(rt_router_logs(router) == -2 && rt_out_len(router) == -2, "logs on a bad router");
      FUZZ_CHECK(rt_out_ptr(router) == nullptr && rt_action_ptr(router) == nullptr, "pointers of a bad router");
      FUZZ_CHECK(rt_exchange_begin(router, "GET\n/healthz", 12, now, 1, 2, 3, 4) == 0, "begin on a bad router");
    }
    FUZZ_CHECK(rt_router_configure(g_router, "[1]", 3, now) == -1, "configure accepted a non-object");
    FUZZ_CHECK(rt_router_describe(g_router, "{\"BACKEND_A\":", 13, now) == -1, "describe accepted broken JSON");
    FUZZ_CHECK(rt_router_describe(g_router, nullptr, 4, now) == -3, "describe accepted a null pointer");
  }

  // After every exchange ended, /status must show nothing in flight, and each backend's last good
  // description (or its override).
  void check_nothing_in_flight() {
    const std::string auth = setup.admin ? kAdminHash : setup.keys ? kKeyHash : "";
    const std::string head = "GET\n/status\n\n\n\n" + auth;
    AbiBytes bytes(head);
    const uint32_t handle = rt_exchange_begin(g_router, bytes.ptr(), bytes.size(), now, 0, 0, 0, 0);
    FUZZ_CHECK(handle != 0, "status begin");
    const ActionRecord record = action_record(g_router);
    const std::string text = router_output(g_router);
    FUZZ_CHECK(contains(text, "\nx-request-id: " + std::string(32, '0') + "\n"), "status request id: " + text);
    if (setup.open) {
      FUZZ_CHECK(record.kind == kReply && record.status_or_stream == 200, "status: " + text);
      const json status = json::parse(text.substr(text.find("\n\n") + 2), nullptr, false);
      FUZZ_CHECK(status.is_object(), "status body: " + text);
      FUZZ_CHECK(status.value("requestsInFlight", -1) == 1, "requests left in flight: " + text);
      FUZZ_CHECK(status.value("retriesInFlight", -1) == 0, "retries left in flight: " + text);
      FUZZ_CHECK(status["backends"].is_array() && status["backends"].size() == setup.backends.size(), text);
      for (size_t i = 0; i < setup.backends.size(); ++i) {
        const json& backend = status["backends"][i];
        const BackendView& view = setup.backends[i];
        FUZZ_CHECK(backend.value("inFlight", -1) == 0, "backend attempts left in flight: " + text);
        FUZZ_CHECK(backend.value("binding", "") == view.binding, text);
        // Before its first good describe() answer: "described": false, name null, and weight null
        // unless ROUTER_CONFIG sets it.
        const json name = view.good ? json(view.name) : json(nullptr);
        const json weight = view.good || view.override_weight ? json(view.effective_weight()) : json(nullptr);
        FUZZ_CHECK(backend["models"] == json(view.models()) && backend["described"] == json(view.good) &&
                       backend["name"] == name && backend["weight"] == weight,
                   view.binding + " is not its last good description (name '" + view.name + "', weight " +
                       std::to_string(view.effective_weight()) + "): " + backend.dump());
        FUZZ_CHECK(backend.contains("describeError") == view.problem, view.binding + " describeError: " + backend.dump());
      }
    } else {
      FUZZ_CHECK(record.kind == kReply && record.status_or_stream == 500, "status with a bad config: " + text);
    }
    FUZZ_CHECK(rt_exchange_end(handle, 0, nullptr, 0, now) == 0, "status end");
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
    while (!live.empty()) {
      const Exchange& x = live.back();
      const uint8_t choice = in.u8();
      end(live.size() - 1, x.kind == kForward ? choice % 4 : choice % 8 == 3 ? 3 : 2, kTails[choice % std::size(kTails)]);
    }
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
  const uint32_t handle = rt_exchange_begin(g_router, head.data(), head.size(), kStartTime, 0, 0, 0, 0);
  rt_exchange_end(handle, 0, nullptr, 0, kStartTime);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  Harness harness{in};
  harness.run();
  return 0;
}
