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
int32_t rt_router_data_points(uint32_t router);
const char* rt_out_ptr(uint32_t router);
int32_t rt_out_len(uint32_t router);
const void* rt_action_ptr(uint32_t router);
int32_t rt_abi_layout(uint32_t router);

uint32_t rt_exchange_begin(uint32_t router, const char* head, size_t len, double now, uint32_t r0, uint32_t r1,
                           uint32_t r2, uint32_t r3);
uint32_t rt_exchange_body(uint32_t exchange, const char* ptr, size_t len, uint32_t how, double now);
uint32_t rt_exchange_resume(uint32_t exchange, double now);
uint32_t rt_exchange_rate_limited(uint32_t exchange, uint32_t allowed, double now);
uint32_t rt_exchange_outcome(uint32_t exchange, uint32_t outcome, uint32_t status, const char* ra_ptr, size_t ra_len,
                             double now);
int32_t rt_exchange_end(uint32_t exchange, uint32_t how, const char* tail_ptr, size_t tail_len, double now);
int32_t rt_exchange_usage_event(uint32_t exchange, const char* ptr, size_t len);

// The control plane (docs/control-plane.md). The isolate's side:
int32_t rt_router_sync_report(uint32_t router, double now);  // 0: none due; >0: out = "<wait ms> <timeout ms>\n<report>"
int32_t rt_router_sync_answer(uint32_t router, const char* ptr, size_t len, double now);
int32_t rt_router_sync_failed(uint32_t router, double now);
// The Durable Object's core, on a router handle of its own (outputs through rt_out_ptr/len):
int32_t rt_control_configure(uint32_t router, const char* ptr, size_t len, double now);
int32_t rt_control_sync(uint32_t router, const char* ptr, size_t len, double now);  // out: snapshot
int32_t rt_control_discovery(uint32_t router, double now);  // out: bindings, one per line
int32_t rt_control_describe(uint32_t router, const char* ptr, size_t len, double now);
int32_t rt_control_restore(uint32_t router, const char* ptr, size_t len, double now);
int32_t rt_control_persist(uint32_t router, double now);  // out: state; 0 when unchanged
double rt_control_next_alarm(uint32_t router, double now);
int32_t rt_control_logs(uint32_t router);
}

// The action record at rt_action_ptr(router) and the ABI's code tables are described once, in
// cpp/src/abi/abi_layout.def (field types, offsets, which kinds use which field, every code).
// In Wasm out_ptr is the output's address; natively a pointer does not fit in 32 bits, so native
// callers read the output through rt_out_ptr / rt_out_len instead.
namespace rt_abi {
using u32 = uint32_t;
using f64 = double;
}  // namespace rt_abi

struct ActionRecord {
#define RT_ABI_FIELD(type, name, offset, uses) rt_abi::type name;
#include "abi/abi_layout.def"
};
#define RT_ABI_RECORD(size) static_assert(sizeof(ActionRecord) == (size), "abi_layout.def: ActionRecord's size");
#define RT_ABI_FIELD(type, name, offset, uses) \
  static_assert(offsetof(ActionRecord, name) == (offset), "abi_layout.def: the offset of " #name);
#include "abi/abi_layout.def"

// Action kinds (the record's kind), rt_exchange_outcome's outcome, rt_exchange_end's how,
// rt_exchange_body's how and rt_exchange_rate_limited's allowed.
enum : uint32_t {
#define RT_ABI_ACTION(Name, js_name, code) kAction##Name = (code),
#include "abi/abi_layout.def"
};
enum : uint32_t {
#define RT_ABI_OUTCOME(Name, js_name, code) kOutcome##Name = (code),
#include "abi/abi_layout.def"
};
enum : uint32_t {
#define RT_ABI_END(Name, js_name, code) kEnd##Name = (code),
#include "abi/abi_layout.def"
};
enum : uint32_t {
#define RT_ABI_BODY(Name, js_name, code) kBody##Name = (code),
#include "abi/abi_layout.def"
};
enum : uint32_t {
#define RT_ABI_LIMIT(Name, js_name, code) kLimit##Name = (code),
#include "abi/abi_layout.def"
};
// What rt_exchange_body, _resume, _rate_limited and _outcome answer (-1 as JavaScript reads it)
// when no exchange has the handle: it ended, by the shim or by the core (Router::end_abandoned).
constexpr uint32_t kNoExchange = 0xFFFFFFFFu;
