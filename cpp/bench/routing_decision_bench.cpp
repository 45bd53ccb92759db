// One routing decision as the shim drives it, through the C ABI (cpp/src/abi/abi.cpp): begin, body,
// the first CALL, outcome 200 with a JSON object body (FORWARD), end. Parameters: number of
// backends, body size.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "abi/abi.h"

namespace {

constexpr uint32_t kReadBody = kActionReadBody, kDiscover = kActionDiscover, kCall = kActionCall,
                   kForward = kActionForward;
constexpr double kT0 = 1'700'000'000'000;  // epoch ms

uint32_t action_kind(uint32_t router) {
  uint32_t kind;
  std::memcpy(&kind, rt_action_ptr(router), sizeof kind);
  return kind;
}

std::string backend_names(int n) {
  std::string names;
  for (int i = 0; i < n; ++i) names += (i ? ",\"BACKEND_" : "\"BACKEND_") + std::to_string(i) + "\"";
  return names;
}

std::string describe_answers(int n) {
  std::string json = "[";
  for (int i = 0; i < n; ++i) json += std::string(i ? "," : "") + R"({"name":"b)" + std::to_string(i) + R"(","models":["m"]})";
  return json + "]";
}

// A chat request of exactly `size` bytes: the user message is padded with prose-like ASCII.
std::string chat_body(size_t size) {
  std::string head = R"({"model":"m","stream":false,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":")";
  std::string tail = R"("}]})";
  std::string filler;
  static const char* words[] = {"route ", "the ", "request ", "to ", "a ", "healthy ", "backend ", "please "};
  for (size_t i = 0; head.size() + filler.size() + tail.size() < size; ++i) filler += words[i % 8];
  filler.resize(size - head.size() - tail.size());
  return head + filler + tail;
}

void feed_discovery(uint32_t router, const std::string& answers, double now) {
  if (rt_router_describe(router, answers.data(), answers.size(), now) != 0) std::abort();
}

void BM_RoutingDecision(benchmark::State& state) {
  const int backends = static_cast<int>(state.range(0));
  const std::string body = chat_body(static_cast<size_t>(state.range(1)));
  const std::string answers = describe_answers(backends);
  double now = kT0;

  uint32_t router = rt_router_new();
  std::string config = R"({"routerConfig":null,"apiKeyHashes":[],"adminKeyHash":null,"envNames":[)" +
                       backend_names(backends) + "]}";
  if (rt_router_configure(router, config.data(), config.size(), now) != 0) std::abort();
  feed_discovery(router, answers, now);
  const std::string head = "POST\n/v1/chat/completions\napplication/json\n" + std::to_string(body.size()) + "\n\n";
  uint32_t seed = 1;  // the shim passes 128 random bits (4 words); any value does here

  for (auto _ : state) {
    now += 0.01;
    ++seed;
    uint32_t e = rt_exchange_begin(router, head.data(), head.size(), now, seed, seed * 0x9E3779B1u, ~seed, seed << 7);
    if (action_kind(router) != kReadBody) std::abort();
    uint32_t kind = rt_exchange_body(e, body.data(), body.size(), 0, now);
    if (kind == kDiscover) {  // describe() due again (TTL passed; not within a normal run)
      feed_discovery(router, answers, now);
      kind = rt_exchange_resume(e, now);
    }
    if (kind != kCall) std::abort();
    benchmark::DoNotOptimize(rt_out_ptr(router));
    if (rt_exchange_outcome(e, kOutcomeJson, 200, nullptr, 0, now) != kForward) std::abort();
    benchmark::DoNotOptimize(rt_out_len(router));
    rt_exchange_end(e, 0, nullptr, 0, now);
    if (rt_router_logs(router) < 0) std::abort();  // the driver drains logs after every end
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

BENCHMARK(BM_RoutingDecision)
    ->ArgNames({"backends", "body"})
    ->ArgsProduct({{3, 16, 128}, {1024, 100 * 1024}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
