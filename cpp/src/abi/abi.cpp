// The whole extern "C" surface exported to Wasm (docs/architecture.md, "The Wasm ABI").
// Handles index registries; there is no global "current request". Every export checks its
// handles and arguments and answers an error code (< 0, 0 handle, or action kind 0) instead of
// trapping. Nothing here throws: the core is built with -fno-exceptions.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "abi/abi.h"
#include "routing/action.hpp"
#include "api/request_head.hpp"
#include "routing/router.hpp"
#include "cluster/control_plane.hpp"

#if defined(__wasm__)
#define RT_EXPORT(name) extern "C" __attribute__((export_name(#name)))
#else
#define RT_EXPORT(name) extern "C"
#endif

namespace {

using router::Action;

struct RouterSlot {
  router::Router router;
  ActionRecord record{};
  std::string out;  // the output buffer: the last action's text, logs, configure answers
  // The control-plane Durable Object's core, made on the first rt_control_* call of this handle.
  std::unique_ptr<router::ControlPlane> control;
};

std::vector<std::unique_ptr<RouterSlot>>& routers() {
  static std::vector<std::unique_ptr<RouterSlot>> registry;
  return registry;
}

uint32_t next_exchange_handle() {
  static uint32_t next = 0;
  bool taken;
  do {
    next++;
    taken = next == 0;
    for (auto& slot : routers()) taken = taken || slot->router.exchange(next) != nullptr;
  } while (taken);
  return next;
}

RouterSlot* router_at(uint32_t handle) {
  auto& r = routers();
  return handle == 0 || handle > r.size() ? nullptr : r[handle - 1].get();
}

// The router owning `exchange` and the exchange itself, or nulls. (An isolate has one router.)
RouterSlot* owner_of(uint32_t exchange, router::Exchange** out) {
  for (auto& slot : routers()) {
    if ((*out = slot->router.exchange(exchange)) != nullptr) return slot.get();
  }
  return nullptr;
}

bool valid_bytes(const void* ptr, size_t len) { return len == 0 || ptr != nullptr; }

std::string_view view(const void* ptr, size_t len) {
  return len == 0 ? std::string_view() : std::string_view(static_cast<const char*>(ptr), len);
}

// Flattens an action into the action record (the fields each kind uses, zero elsewhere) and its
// text into the output buffer. The one place where an Action meets the ABI's layout.
uint32_t publish(RouterSlot& slot, Action&& action) {
  using namespace router;
  ActionRecord& r = slot.record;
  r = ActionRecord{};
  r.kind = static_cast<uint32_t>(action.index());
  std::string* text = nullptr;
  if (auto* a = std::get_if<ReadBody>(&action)) {
    r.timeout_or_limit = a->byte_limit;
    r.time = a->due_by;
    r.attempt_deadline = a->wake_by;
  } else if (auto* a = std::get_if<Discover>(&action)) {
    r.timeout_or_limit = a->describe_timeout_ms;
    r.time = a->wait_until;
    text = &a->bindings;
  } else if (auto* a = std::get_if<Call>(&action)) {
    r.status_or_stream = a->stream ? 1u : 0u;
    r.backend = a->backend;
    r.attempt = a->attempt;
    r.timeout_or_limit = a->timeout_ms;
    r.time = a->deadline;
    r.attempt_deadline = a->attempt_deadline;
    text = &a->request;
  } else if (auto* a = std::get_if<Wait>(&action)) {
    r.time = a->until;
  } else if (auto* a = std::get_if<Reply>(&action)) {
    r.status_or_stream = a->status;
    r.attempt = a->attempts;
    text = &a->text;
  } else if (auto* a = std::get_if<Forward>(&action)) {
    r.status_or_stream = a->status;
    r.backend = a->backend;
    r.attempt = a->attempts;
    r.timeout_or_limit = a->stream_idle_ms;
    r.time = a->usage_injected ? 1 : 0;
    text = &a->headers;
  } else if (auto* a = std::get_if<RateLimit>(&action)) {
    r.timeout_or_limit = a->timeout_ms;
    text = &a->key;
  }
  if (text) slot.out = std::move(*text); else slot.out.clear();
  r.out_ptr = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(slot.out.data()));
  r.out_len = static_cast<uint32_t>(slot.out.size());
  return r.kind;
}

uint32_t publish_error(RouterSlot& slot) { return publish(slot, router::NoAction{}); }

bool finite_time(double t) { return t == t && t > -1e300 && t < 1e300; }

// The slot's control plane, made on first use; null for a bad handle or time.
router::ControlPlane* control_at(uint32_t handle, double now) {
  RouterSlot* slot = router_at(handle);
  if (!slot || !finite_time(now)) return nullptr;
  if (!slot->control) slot->control = std::make_unique<router::ControlPlane>();
  return slot->control.get();
}

int32_t put_out(uint32_t handle, std::string&& text) {
  RouterSlot* slot = router_at(handle);
  slot->out = std::move(text);
  return static_cast<int32_t>(slot->out.size());
}

}  // namespace

RT_EXPORT(rt_alloc) void* rt_alloc(size_t len) { return std::malloc(len == 0 ? 1 : len); }

RT_EXPORT(rt_free) void rt_free(void* ptr) { std::free(ptr); }

RT_EXPORT(rt_router_new) uint32_t rt_router_new() {
  routers().push_back(std::make_unique<RouterSlot>());
  return static_cast<uint32_t>(routers().size());
}

RT_EXPORT(rt_router_configure) int32_t rt_router_configure(uint32_t router, const char* ptr, size_t len, double now) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  if (!valid_bytes(ptr, len) || !finite_time(now)) return -3;
  std::string output;
  int rc = slot->router.configure(view(ptr, len), now, output);
  slot->out = std::move(output);
  return rc;
}

RT_EXPORT(rt_router_describe) int32_t rt_router_describe(uint32_t router, const char* ptr, size_t len, double now) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  if (!valid_bytes(ptr, len) || !finite_time(now)) return -3;
  return slot->router.describe(view(ptr, len), now, &slot->out);
}

RT_EXPORT(rt_router_logs) int32_t rt_router_logs(uint32_t router) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  slot->out = slot->router.drain_logs();
  return static_cast<int32_t>(slot->out.size());
}

// The Analytics Engine data points of the requests ended since the last call, one JSON object a
// line (none unless the Worker has an ANALYTICS binding).
RT_EXPORT(rt_router_data_points) int32_t rt_router_data_points(uint32_t router) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  slot->out = slot->router.drain_data_points();
  return static_cast<int32_t>(slot->out.size());
}

RT_EXPORT(rt_out_ptr) const char* rt_out_ptr(uint32_t router) {
  RouterSlot* slot = router_at(router);
  return slot ? slot->out.data() : nullptr;
}

RT_EXPORT(rt_out_len) int32_t rt_out_len(uint32_t router) {
  RouterSlot* slot = router_at(router);
  return slot ? static_cast<int32_t>(slot->out.size()) : -2;
}

RT_EXPORT(rt_action_ptr) const void* rt_action_ptr(uint32_t router) {
  RouterSlot* slot = router_at(router);
  return slot ? &slot->record : nullptr;
}

// r0..r3: 128 random bits from the shim (the exchange's seed and, for a generated request id, its bits).
RT_EXPORT(rt_exchange_begin) uint32_t rt_exchange_begin(uint32_t router, const char* head, size_t len, double now,
                                                        uint32_t r0, uint32_t r1, uint32_t r2, uint32_t r3) {
  RouterSlot* slot = router_at(router);
  if (!slot) return 0;
  if (!valid_bytes(head, len) || !finite_time(now)) {
    publish_error(*slot);
    return 0;
  }
  uint32_t handle = next_exchange_handle();
  const uint64_t seed = (uint64_t{r0} << 32) | r1;
  const uint64_t id_bits = (uint64_t{r2} << 32) | r3;
  publish(*slot, slot->router.begin(handle, router::parse_request_head(view(head, len)), now, seed, id_bits));
  return handle;
}

// how: 0 the whole body, 1 more than the limit arrived, 2 the body did not arrive by the deadline.
RT_EXPORT(rt_exchange_body) uint32_t rt_exchange_body(uint32_t exchange, const char* ptr, size_t len, uint32_t how,
                                                      double now) {
  router::Exchange* e = nullptr;
  RouterSlot* slot = owner_of(exchange, &e);
  if (!slot) return kNoExchange;
  if (!valid_bytes(ptr, len) || !finite_time(now) || how > 2) return publish_error(*slot);
  return publish(*slot, e->body(view(ptr, len), static_cast<router::BodyRead>(how), now));
}

RT_EXPORT(rt_exchange_resume) uint32_t rt_exchange_resume(uint32_t exchange, double now) {
  router::Exchange* e = nullptr;
  RouterSlot* slot = owner_of(exchange, &e);
  if (!slot) return kNoExchange;
  if (!finite_time(now)) return publish_error(*slot);
  return publish(*slot, e->resume(now));
}

// allowed: 0 over the limit, 1 allowed, 2 the limiter failed (threw or timed out).
RT_EXPORT(rt_exchange_rate_limited) uint32_t rt_exchange_rate_limited(uint32_t exchange, uint32_t allowed, double now) {
  router::Exchange* e = nullptr;
  RouterSlot* slot = owner_of(exchange, &e);
  if (!slot) return kNoExchange;
  if (allowed > 2 || !finite_time(now)) return publish_error(*slot);
  return publish(*slot, e->rate_limited(static_cast<router::RateLimitAnswer>(allowed), now));
}

RT_EXPORT(rt_exchange_outcome) uint32_t rt_exchange_outcome(uint32_t exchange, uint32_t outcome, uint32_t status,
                                                            const char* ra_ptr, size_t ra_len, double now) {
  router::Exchange* e = nullptr;
  RouterSlot* slot = owner_of(exchange, &e);
  if (!slot) return kNoExchange;
  if (!valid_bytes(ra_ptr, ra_len) || !finite_time(now) || outcome > kOutcomeStreamNotBytes)
    return publish_error(*slot);
  // `retry-after \n retry-after-ms \n error code \n usage` (a 400's `error.code`; a JSON answer's
  // usage as "prompt completion total"); missing lines are empty.
  std::string_view fields[4];
  std::string_view ra = view(ra_ptr, ra_len);
  for (std::string_view& field : fields) {
    size_t nl = ra.find('\n');
    field = ra.substr(0, nl);
    ra = nl == std::string_view::npos ? std::string_view() : ra.substr(nl + 1);
  }
  const std::string_view retry_after = fields[0], retry_after_ms = fields[1];
  using router::AnswerBody;
  using router::AttemptOutcome;
  if (outcome == kOutcomeThrew || outcome == kOutcomeTimedOut)
    return publish(*slot, e->outcome(static_cast<AttemptOutcome>(outcome), status, AnswerBody::Missing, retry_after,
                                     retry_after_ms, now));
  static constexpr AnswerBody kBody[] = {AnswerBody::Json, AnswerBody::Missing, AnswerBody::Missing,
                                         AnswerBody::Stream, AnswerBody::Missing, AnswerBody::NotObject,
                                         AnswerBody::EmptyStream, AnswerBody::StreamNotBytes};
  return publish(*slot, e->outcome(AttemptOutcome::Answered, status, kBody[outcome], retry_after, retry_after_ms, now,
                                   fields[2], fields[3]));
}

// how: 0 completed, 1 the stream failed, 2 the client went away, 3 the shim failed. tail: the last
// bytes of a forwarded stream (checked for its `data: [DONE]` line).
RT_EXPORT(rt_exchange_end) int32_t rt_exchange_end(uint32_t exchange, uint32_t how, const char* tail_ptr,
                                                   size_t tail_len, double now) {
  router::Exchange* e = nullptr;
  RouterSlot* slot = owner_of(exchange, &e);
  if (!slot) return -2;
  if (how > 3 || !valid_bytes(tail_ptr, tail_len) || !finite_time(now)) return -3;
  bool found = false;
  slot->out = slot->router.end(exchange, static_cast<router::EndHow>(how), view(tail_ptr, tail_len), now, found);
  return static_cast<int32_t>(slot->out.size());
}

// An event of a forwarded stream with a "usage" object: 1 when it is the usage-only event of a
// stream whose usage the router asked for (the shim drops it; its tokens count at the end), 0
// when it goes to the client, -2 for a bad handle, -3 for bad bytes.
RT_EXPORT(rt_exchange_usage_event) int32_t rt_exchange_usage_event(uint32_t exchange, const char* ptr, size_t len) {
  router::Exchange* e = nullptr;
  if (!owner_of(exchange, &e)) return -2;
  if (!valid_bytes(ptr, len)) return -3;
  return e->take_usage_event(view(ptr, len)) ? 1 : 0;
}

// The routing core's enums travel through the ABI as their numbers: they must be the codes of
// cpp/src/abi/abi_layout.def.
#define RT_ABI_ACTION(Name, js_name, code) \
  static_assert(static_cast<uint32_t>(router::ActionKind::Name) == (code), "abi_layout.def: action " #Name);
#define RT_ABI_END(Name, js_name, code) \
  static_assert(static_cast<uint32_t>(router::EndHow::Name) == (code), "abi_layout.def: end " #Name);
#define RT_ABI_BODY(Name, js_name, code) \
  static_assert(static_cast<uint32_t>(router::BodyRead::Name) == (code), "abi_layout.def: body " #Name);
#define RT_ABI_LIMIT(Name, js_name, code) \
  static_assert(static_cast<uint32_t>(router::RateLimitAnswer::Name) == (code), "abi_layout.def: limit " #Name);
#include "abi/abi_layout.def"

// rt_abi_layout gives each code table's names in code order, without the codes: so a table's
// codes must be 0, 1, 2, ... in abi_layout.def.
constexpr bool counts_up(std::initializer_list<uint32_t> codes) {
  uint32_t expected = 0;
  for (uint32_t code : codes) {
    if (code != expected++) return false;
  }
  return true;
}
#define RT_ABI_ACTION(Name, js_name, code) code,
static_assert(counts_up({
#include "abi/abi_layout.def"
}), "abi_layout.def: action codes must be 0, 1, 2, ... in order");
#define RT_ABI_OUTCOME(Name, js_name, code) code,
static_assert(counts_up({
#include "abi/abi_layout.def"
}), "abi_layout.def: outcome codes must be 0, 1, 2, ... in order");
#define RT_ABI_END(Name, js_name, code) code,
static_assert(counts_up({
#include "abi/abi_layout.def"
}), "abi_layout.def: end codes must be 0, 1, 2, ... in order");
#define RT_ABI_BODY(Name, js_name, code) code,
static_assert(counts_up({
#include "abi/abi_layout.def"
}), "abi_layout.def: body codes must be 0, 1, 2, ... in order");
#define RT_ABI_LIMIT(Name, js_name, code) code,
static_assert(counts_up({
#include "abi/abi_layout.def"
}), "abi_layout.def: limit codes must be 0, 1, 2, ... in order");

// The layout text shims/wasm-core.js builds its record offsets and kind names from, one entry a
// line: `record <size>`, `field <name> <offset> <u32|f64>`, then one line per code table,
// `<table> <js name> <js name> ...` with the names in code order (0 first) for the tables action,
// outcome, end, body and limit. Made at compile time from abi_layout.def.
RT_EXPORT(rt_abi_layout) int32_t rt_abi_layout(uint32_t router) {
  static constexpr char kLayout[] =
#define RT_ABI_RECORD(size) "record " #size "\n"
#define RT_ABI_FIELD(type, name, offset, uses) "field " #name " " #offset " " #type "\n"
#include "abi/abi_layout.def"
      "action"
#define RT_ABI_ACTION(Name, js_name, code) " " #js_name
#include "abi/abi_layout.def"
      "\noutcome"
#define RT_ABI_OUTCOME(Name, js_name, code) " " #js_name
#include "abi/abi_layout.def"
      "\nend"
#define RT_ABI_END(Name, js_name, code) " " #js_name
#include "abi/abi_layout.def"
      "\nbody"
#define RT_ABI_BODY(Name, js_name, code) " " #js_name
#include "abi/abi_layout.def"
      "\nlimit"
#define RT_ABI_LIMIT(Name, js_name, code) " " #js_name
#include "abi/abi_layout.def"
      "\n";
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  slot->out.assign(kLayout, sizeof kLayout - 1);
  return static_cast<int32_t>(slot->out.size());
}

// --- the control plane: the isolate's side (docs/control-plane.md) ---

RT_EXPORT(rt_router_sync_report) int32_t rt_router_sync_report(uint32_t router, double now) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  if (!finite_time(now)) return -3;
  auto request = slot->router.sync_report(now);
  if (!request) return 0;
  char wait[48];
  std::snprintf(wait, sizeof wait, "%d %d\n", static_cast<int>(request->wait_ms), static_cast<int>(request->timeout_ms));
  return put_out(router, std::string(wait) + request->report);
}

RT_EXPORT(rt_router_sync_answer) int32_t rt_router_sync_answer(uint32_t router, const char* ptr, size_t len, double now) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  if (!valid_bytes(ptr, len) || !finite_time(now)) return -3;
  return slot->router.sync_answer(view(ptr, len), now) ? 0 : -1;
}

RT_EXPORT(rt_router_sync_failed) int32_t rt_router_sync_failed(uint32_t router, double now) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  if (!finite_time(now)) return -3;
  slot->router.sync_failed(now);
  return 0;
}

// --- the control plane: the Durable Object's core, on a router handle of its own ---

RT_EXPORT(rt_control_configure) int32_t rt_control_configure(uint32_t router, const char* ptr, size_t len, double now) {
  router::ControlPlane* cp = control_at(router, now);
  if (!cp) return -2;
  if (!valid_bytes(ptr, len)) return -3;
  std::string output;
  const int rc = cp->configure(view(ptr, len), now, output);
  put_out(router, std::move(output));
  return rc;
}

RT_EXPORT(rt_control_sync) int32_t rt_control_sync(uint32_t router, const char* ptr, size_t len, double now) {
  router::ControlPlane* cp = control_at(router, now);
  if (!cp) return -2;
  if (!valid_bytes(ptr, len)) return -3;
  return put_out(router, cp->sync(view(ptr, len), now));
}

RT_EXPORT(rt_control_discovery) int32_t rt_control_discovery(uint32_t router, double now) {
  router::ControlPlane* cp = control_at(router, now);
  if (!cp) return -2;
  std::string lines;
  for (const std::string& b : cp->discovery(now)) lines += (lines.empty() ? "" : "\n") + b;
  return put_out(router, std::move(lines));
}

RT_EXPORT(rt_control_describe) int32_t rt_control_describe(uint32_t router, const char* ptr, size_t len, double now) {
  router::ControlPlane* cp = control_at(router, now);
  if (!cp) return -2;
  if (!valid_bytes(ptr, len)) return -3;
  return cp->describe(view(ptr, len), now);
}

RT_EXPORT(rt_control_restore) int32_t rt_control_restore(uint32_t router, const char* ptr, size_t len, double now) {
  router::ControlPlane* cp = control_at(router, now);
  if (!cp) return -2;
  if (!valid_bytes(ptr, len)) return -3;
  return cp->restore(view(ptr, len), now) ? 0 : -1;
}

RT_EXPORT(rt_control_persist) int32_t rt_control_persist(uint32_t router, double now) {
  router::ControlPlane* cp = control_at(router, now);
  if (!cp) return -2;
  auto state = cp->persist(now);
  return state ? put_out(router, std::move(*state)) : 0;
}

RT_EXPORT(rt_control_next_alarm) double rt_control_next_alarm(uint32_t router, double now) {
  router::ControlPlane* cp = control_at(router, now);
  return cp ? cp->next_alarm(now) : -1;
}

RT_EXPORT(rt_control_logs) int32_t rt_control_logs(uint32_t router) {
  RouterSlot* slot = router_at(router);
  if (!slot) return -2;
  std::string lines = slot->router.drain_logs();
  if (slot->control) {
    std::string more = slot->control->drain_logs();
    lines += (lines.empty() || more.empty() ? "" : "\n") + more;
  }
  return put_out(router, std::move(lines));
}
