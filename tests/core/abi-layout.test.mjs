// The action record and the ABI's code tables are described once, in cpp/src/abi/abi_layout.def.
// These tests hold everything else to it: router.wasm's rt_abi_layout (what shims/wasm-core.js
// builds its offsets and kind names from), the shim's code tables, the shim's decoding of each
// field for each kind (the .def's `uses`), and the table in docs/architecture.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BODY, END, LIMIT, OUTCOME, RouterCore, readAbiLayout } from "../../shims/wasm-core.js";

const file = (/** @type {string} */ path) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), "utf8");
const module = new WebAssembly.Module(readFileSync(fileURLToPath(new URL("../../build/wasm/router.wasm", import.meta.url))));
const T0 = 1_700_000_000_000;
const encoder = new TextEncoder();

/** The .def's entries, comments removed. */
function readDef() {
  const text = file("cpp/src/abi/abi_layout.def").replace(/\/\/[^\n]*/g, "");
  const size = Number(/RT_ABI_RECORD\((\d+)\)/.exec(text)?.[1]);
  const fields = [...text.matchAll(/RT_ABI_FIELD\((\w+),\s*(\w+),\s*(\d+),\s*((?:"[^"]*"\s*)+)\)/g)].map((m) => ({
    type: m[1], name: m[2], offset: Number(m[3]),
    uses: [...m[4].matchAll(/"([^"]*)"/g)].map((s) => s[1]).join("").split(" ").filter(Boolean),
  }));
  /** @type {Record<string, Record<string, number>>} */
  const tables = {};
  for (const m of text.matchAll(/RT_ABI_(ACTION|OUTCOME|END|BODY|LIMIT)\((\w+),\s*(\w+),\s*(\d+)\)/g)) {
    (tables[m[1].toLowerCase()] ??= {})[m[3]] = Number(m[4]);
  }
  return { size, fields, tables };
}
const def = readDef();

/** The layout text router.wasm answers. @param {RouterCore} core */
function liveLayout(core) {
  const len = core.exports.rt_abi_layout(core.router);
  const ptr = core.exports.rt_out_ptr(core.router);
  return new TextDecoder().decode(new Uint8Array(core.memory.buffer, ptr, len));
}

test("abi_layout.def describes a whole record: 9 fields in order, no gaps or overlaps, every kind and code", () => {
  assert.equal(def.size, 48);
  assert.deepEqual(def.fields.map((f) => f.name),
    ["kind", "status_or_stream", "backend", "attempt", "timeout_or_limit", "time", "out_ptr", "out_len", "attempt_deadline"]);
  let end = 0;
  for (const { type, offset } of def.fields) {
    assert.equal(offset, end);
    end = offset + (type === "f64" ? 8 : 4);
  }
  assert.equal(end, def.size);
  assert.deepEqual(Object.keys(def.tables), ["action", "outcome", "end", "body", "limit"]);
  for (const codes of Object.values(def.tables)) assert.deepEqual(Object.values(codes), [...Object.keys(codes).keys()]);
});

test("router.wasm's rt_abi_layout is abi_layout.def, and the shim's offsets and kind names are the module's", () => {
  const core = RouterCore.fromModule(module);
  const expected = [
    `record ${def.size}`,
    ...def.fields.map((f) => `field ${f.name} ${f.offset} ${f.type}`),
    // A code table's names in code order (the first test checks the .def's codes are 0, 1, 2, ...).
    ...Object.entries(def.tables).map(([table, codes]) => [table, ...Object.keys(codes)].join(" ")),
    "",
  ].join("\n");
  assert.equal(liveLayout(core), expected);
  assert.deepEqual(core.offsets, Object.fromEntries(def.fields.map((f) => [f.name, f.offset])));
  assert.deepEqual(core.kinds, Object.keys(def.tables.action));
});

test("the shim's code tables are abi_layout.def's", () => {
  assert.deepEqual({ outcome: OUTCOME, end: END, body: BODY, limit: LIMIT },
    { outcome: def.tables.outcome, end: def.tables.end, body: def.tables.body, limit: def.tables.limit });
});

// Each kind's record holds distinct values in every field, and output text in the shape the kind's
// uses read (any other kind gets text that would show if it were decoded).
const OUT = { call: "rid-1\nm-1\n/v1/embeddings", reply: "x-a: 1\n\nBODY", forward: "x-a: 1", rate_limit: "key:abc", discover: "BACKEND_A\nBACKEND_B" };
const OTHER_OUT = "x-junk: 1\nmore\n\nbody";
/** What each property is decoded to from that record. */
const EXPECTED = {
  status: 404, stream: true, backend: 2, binding: "BACKEND_C", attempt: 3, timeoutMs: 1616.5, limit: 1616.5, deadline: 2424.5,
  until: 2424.5, attemptDeadline: 4040.5, wakeBy: 4040.5, requestId: "rid-1", model: "m-1", path: "/v1/embeddings", headers: { "x-a": "1" },
  body: encoder.encode("BODY"), key: "key:abc", bindings: ["BACKEND_A", "BACKEND_B"], usageInjected: true,
};
/** Decoded whatever the kind (the core writes 0 where a kind does not use them). */
const UNGATED = new Set(["status", "backend", "attempt"]);
const EMPTY = {
  stream: false, binding: "", timeoutMs: 0, limit: 0, deadline: 0, until: 0, attemptDeadline: 0, wakeBy: 0, requestId: "", model: "",
  path: "", headers: {}, body: new Uint8Array(0), key: "", bindings: [], usageInjected: false,
};

test("the shim decodes each field for exactly the kinds abi_layout.def says use it", () => {
  const core = RouterCore.fromModule(module);
  core.configure({ envNames: ["BACKEND_A", "BACKEND_B", "BACKEND_C"] }, T0);
  const x = core.exports;
  const recordPtr = x.rt_alloc(def.size);
  const outPtr = x.rt_alloc(256);
  core.exports = { ...x, rt_action_ptr: () => recordPtr, rt_exchange_resume: () => 0 };
  const exchange = core.generation * 2 ** 32 + 1;
  for (const [kind, code] of Object.entries(def.tables.action)) {
    const out = encoder.encode(OUT[/** @type {keyof typeof OUT} */ (kind)] ?? OTHER_OUT);
    const values = { kind: code, status_or_stream: kind === "call" ? 1 : 404, backend: 2, attempt: 3, timeout_or_limit: 1616.5,
      time: 2424.5, out_ptr: outPtr, out_len: out.length, attempt_deadline: 4040.5 };
    const view = new DataView(x.memory.buffer);
    new Uint8Array(x.memory.buffer).set(out, outPtr);
    for (const f of def.fields) {
      const value = values[/** @type {keyof typeof values} */ (f.name)];
      if (f.type === "f64") view.setFloat64(recordPtr + f.offset, value, true);
      else view.setUint32(recordPtr + f.offset, value, true);
    }
    const action = /** @type {Record<string, unknown>} */ (core.resume(exchange, T0));
    const used = new Set();
    for (const use of def.fields.flatMap((f) => f.uses)) {
      const [kinds, props] = use.split(":");
      if (kinds === "*" || kinds === kind) for (const prop of props.split(",")) used.add(prop);
    }
    assert.equal(action.kind, kind);
    for (const prop of used) if (prop !== "kind") assert.deepEqual(action[prop], EXPECTED[/** @type {keyof typeof EXPECTED} */ (prop)], `${kind}.${prop}`);
    for (const [prop, empty] of Object.entries(EMPTY)) if (!used.has(prop) && !UNGATED.has(prop)) assert.deepEqual(action[prop], empty, `${kind}.${prop}`);
  }
});

test("a module without a field, kind or code the shim reads is refused at startup, naming it", () => {
  const live = liveLayout(RouterCore.fromModule(module));
  assert.doesNotThrow(() => readAbiLayout(live));
  assert.throws(() => readAbiLayout(live.replace(/^field time .*\n/m, "")), /lacks what shims\/wasm-core.js reads: field time \(f64\)/);
  assert.throws(() => readAbiLayout(live.replace("field backend 8 u32", "field backend 8 f64")), /field backend \(u32\)/);
  assert.throws(() => readAbiLayout(live.replace("field attempt_deadline 40", "field attempt_deadline 44")), /field attempt_deadline/);
  assert.throws(() => readAbiLayout(live.replace(/^(action .*) wait/m, "$1")), /: action wait$|: action wait;/);
  assert.throws(() => readAbiLayout(live.replace("outcome json threw", "outcome threw json")), /outcome json = 0, outcome threw = 1/);
  assert.throws(() => readAbiLayout(live.replace(/^limit .*\n/m, "")), /limit overLimit = 0/);
  // A kind the shim does not perform reads as "error" (the driver then answers 500).
  assert.equal(readAbiLayout(live.replace(/^action .*/m, "$& teleport")).kinds[8], undefined);

  const RealInstance = WebAssembly.Instance;
  // @ts-ignore: a module built before rt_abi_layout
  WebAssembly.Instance = function () { return { exports: { memory: new WebAssembly.Memory({ initial: 1 }), rt_router_new: () => 1 } }; };
  try {
    assert.throws(() => RouterCore.fromModule(module), /router.wasm does not export rt_abi_layout/);
  } finally {
    WebAssembly.Instance = RealInstance;
  }
});

test("docs/architecture.md's action record table is abi_layout.def's fields", () => {
  const rows = [...file("docs/architecture.md").matchAll(/^\| (\d+) \| (u32|f64) \| `(\w+)` \|/gm)];
  assert.deepEqual(rows.map((r) => ({ offset: Number(r[1]), type: r[2], name: r[3] })),
    def.fields.map(({ offset, type, name }) => ({ offset, type, name })));
});
