// The C ABI of the routing core, declared once: cpp/src/abi/abi.cpp defines it (and exports it to
// Wasm); the native tests, fuzzers and benchmarks call it through this header. Semantics, return
// codes and the action record are documented in docs/architecture.md ("The Wasm ABI").
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {
void* rt_alloc(size_t len);
void rt_free(void* ptr);

uint32_t rt_router_new();
int32_t rt_router_configure(uint32_t router, const char* ptr, size_t len, double now);
int32_t rt_router_describe(uint32_t router, const char* ptr, size_t len, double now);
int32_t rt_router_logs(uint32_t router);
const char* rt_out_ptr(uint32_t router);
int32_t rt_out_len(uint32_t router);
const void* rt_action_ptr(uint32_t router);

uint32_t rt_exchange_begin(uint32_t router, const char* head, size_t len, double now, uint32_t r0, uint32_t r1,
                           uint32_t r2, uint32_t r3);
uint32_t rt_exchange_body(uint32_t exchange, const char* ptr, size_t len, uint32_t how, double now);
uint32_t rt_exchange_resume(uint32_t exchange, double now);
uint32_t rt_exchange_rate_limited(uint32_t exchange, uint32_t allowed, double now);
uint32_t rt_exchange_outcome(uint32_t exchange, uint32_t outcome, uint32_t status, const char* ra_ptr, size_t ra_len,
                             double now);
int32_t rt_exchange_end(uint32_t exchange, uint32_t how, const char* tail_ptr, size_t tail_len, double now);
}

// The action record at rt_action_ptr(router), in the fixed layout the shim reads with a DataView.
// In Wasm out_ptr is the output's address; natively a pointer does not fit in 32 bits, so native
// callers read the output through rt_out_ptr / rt_out_len instead.
struct ActionRecord {
  uint32_t kind;              // action kind, see kAction* below
  uint32_t status_or_stream;  // REPLY/FORWARD: HTTP status; CALL: 1 when streaming
  uint32_t backend;           // CALL/FORWARD: backend index
  uint32_t attempt;           // CALL: attempt number; REPLY/FORWARD: attempts made
  double timeout_or_limit;    // CALL/DISCOVER/RATE_LIMIT: timeout ms; READ_BODY: byte limit
  double time;                // CALL: deadline; WAIT: wake-up time; READ_BODY: body due by; DISCOVER: wait until
  uint32_t out_ptr;
  uint32_t out_len;
  double attempt_deadline;    // CALL: when the attempt is abandoned (epoch ms)
};
static_assert(offsetof(ActionRecord, timeout_or_limit) == 16 && offsetof(ActionRecord, time) == 24 &&
              offsetof(ActionRecord, out_ptr) == 32 && offsetof(ActionRecord, out_len) == 36 &&
              offsetof(ActionRecord, attempt_deadline) == 40 && sizeof(ActionRecord) == 48);

// rt_exchange_outcome's outcome: what the attempt came to, as the shim saw it.
enum : uint32_t {
  kOutcomeJson = 0, kOutcomeThrew = 1, kOutcomeTimedOut = 2, kOutcomeStream = 3, kOutcomeNoBody = 4,
  kOutcomeBodyNotObject = 5, kOutcomeEmptyStream = 6, kOutcomeStreamNotBytes = 7,
};

enum : uint32_t {
  kActionError = 0, kActionReadBody = 1, kActionDiscover = 2, kActionCall = 3,
  kActionWait = 4, kActionReply = 5, kActionForward = 6, kActionRateLimit = 7,
};
