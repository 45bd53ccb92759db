// fuzz_control_plane: the control plane's two hostile inputs, through the real ABI. The input is
// split at NUL bytes into messages; each goes, in turn, to the control plane as an isolate's
// report (rt_control_sync), to an isolate as a snapshot (rt_router_sync_answer) and to a fresh
// control plane as stored state (rt_control_restore).
// Invariants: nothing crashes; every snapshot the control plane answers is one an isolate accepts
// (a malformed report is ignored, never echoed); the state persist() gives always restores; an
// isolate's own report is always a report the control plane reads (no bad-report log line).
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "abi/abi.h"
#include "invariant.hpp"

namespace {

constexpr double kNow = 1'700'000'000'000;
constexpr std::string_view kConfigure =
    R"({"routerConfig":null,"envNames":["BACKEND_A","BACKEND_B","BACKEND_C","CONTROL_PLANE"],"isolateId":"fuzz"})";

std::string out(uint32_t handle) { return std::string(rt_out_ptr(handle), static_cast<size_t>(rt_out_len(handle))); }

uint32_t new_control_plane() {
  const uint32_t cp = rt_router_new();
  FUZZ_CHECK(rt_control_configure(cp, kConfigure.data(), kConfigure.size(), kNow) == 0, out(cp));
  const std::string_view answers = R"({"BACKEND_A":{"name":"a","models":["m"]},"BACKEND_B":{"name":"b","models":["*"],"weight":2}})";
  rt_control_describe(cp, answers.data(), answers.size(), kNow);
  return cp;
}

// The isolate's own report goes through; the control plane's answer is taken.
void round_trip(uint32_t isolate, uint32_t cp, double now) {
  if (rt_router_sync_report(isolate, now) <= 0) return;
  const std::string text = out(isolate);
  const std::string report = text.substr(text.find('\n') + 1);
  rt_control_logs(cp);
  const int32_t len = rt_control_sync(cp, report.data(), report.size(), now);
  FUZZ_CHECK(len > 0, report);
  const std::string snapshot = out(cp);
  rt_control_logs(cp);
  FUZZ_CHECK(out(cp).find("control_plane_bad_report") == std::string::npos, report);
  FUZZ_CHECK(rt_router_sync_answer(isolate, snapshot.data(), snapshot.size(), now) == 0, snapshot);
}

// What persist() stores restores into another control plane (one reused for every input: the
// ABI has no way to free a handle, and the restored state replaces what matters).
void restores(uint32_t cp, uint32_t scratch, double now) {
  if (rt_control_persist(cp, now) <= 0) return;
  const std::string state = out(cp);
  FUZZ_CHECK(rt_control_restore(scratch, state.data(), state.size(), now) == 0, state);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint32_t cp = new_control_plane();
  static const uint32_t scratch = new_control_plane();
  static const uint32_t isolate = [] {
    const uint32_t r = rt_router_new();
    rt_router_configure(r, kConfigure.data(), kConfigure.size(), kNow);
    return r;
  }();
  static double now = kNow;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  for (int turn = 0; start <= input.size(); ++turn) {
    const size_t end = std::min(input.find('\0', start), input.size());
    const std::string_view message = input.substr(start, end - start);
    now += 700;
    if (turn % 3 == 0) {
      FUZZ_CHECK(rt_control_sync(cp, message.data(), message.size(), now) > 0, std::string(message));
    } else if (turn % 3 == 1) {
      rt_router_sync_report(isolate, now);
      rt_router_sync_answer(isolate, message.data(), message.size(), now);
    } else {
      rt_control_restore(scratch, message.data(), message.size(), now);
    }
    round_trip(isolate, cp, now + 1000);
    restores(cp, scratch, now + 2000);
    start = end + 1;
  }
  rt_router_logs(isolate);
  rt_control_logs(cp);
  return 0;
}
