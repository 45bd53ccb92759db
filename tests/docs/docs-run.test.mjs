// The documentation runs as written: every code snippet of README.md and docs/*.md is checked
// against the real thing, so a doc that drifts from the code fails this test.
//
// What is checked, by language and shape:
// - ```json blocks (and inline `{...}` code that parses as JSON) are parsed. A backends.json manifest
//   (or one backend entry, or the {"count", "pattern"} form) must pass scripts/lib/backends-manifest.mjs;
//   a ROUTER_CONFIG object (and a manifest's orchestrator.routerConfig) must configure the real
//   Wasm core (build/wasm/router.wasm through shims/wasm-core.js) without a config error.
// - ```toml blocks are parsed (smol-toml); a ROUTER_CONFIG var in them must configure the core.
// - ```sh blocks and inline code: `npm run X` names a script of package.json; `node <path>`,
//   `bash <path>`, `scripts/...` and any other path into the repository's source folders exist
//   (placeholders with <...>, globs and $VARS are not paths); an --option given to one of the
//   repository's scripts appears in its source; `--var ROUTER_CONFIG:'...'` configures
//   the core; curl examples against 127.0.0.1:8787 name a path the router serves, send JSON with a
//   JSON content-type, and ask for a model the local stack (backends.json) serves.
// - ```js blocks pass `node --check`; ```ts blocks type-check with the repository's tsconfig.
// - Every relative link [text](path#anchor) points to an existing file, and to an existing heading
//   of a Markdown file when it names an anchor.
// - configuration.md's ROUTER_CONFIG tables: each default is the one GET /status shows, each range's
//   bounds are accepted by the core and the values just past them refused, naming the field; a
//   default quoted in prose ("`retry.maxAttempts` (**3**)") is the core's; each row of its request
//   validation table is what the router answers (status, message, param) to a request breaking it,
//   and its table of what each key opens is what the router lets through;
//   deployment.md's manifest table lists exactly the fields the manifest check knows, with its defaults;
//   README's Documentation list links every page of docs/.
//
// A snippet that is deliberately wrong (e.g. showing a mistake) is exempted by an HTML comment on
// the line(s) right before its fence, blank lines allowed in between:
//     <!-- docs-test: skip (why this snippet is not meant to run) -->
// The reason is required. Use it sparingly: every marker is listed by the test's diagnostics.
//
// Opt-in: DOCS_TEST_STACK=1 also starts the local stack the way the e2e tests do (the deployed
// bundles of the orchestrator and the backends of backends.json in Miniflare, tests/support/stack.mjs)
// and replays every curl example against it with fetch, expecting 200, and runs the README's
// `openai` client example against it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import ts from "typescript";
import { normalizeManifest } from "../../scripts/lib/backends-manifest.mjs";
import { RouterCore } from "../../shims/wasm-core.js";

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const LOCAL_ORIGIN = "127.0.0.1:8787";
// What the router serves (shims/driver.js and the core's exchange): anything else is a 404.
const SERVED_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/models", "/healthz", "/status", "/dashboard"];
const ROUTER_CONFIG_KEYS = ["strategy", "retry", "timeouts", "health", "limits", "discovery", "rateLimit", "controlPlane", "usage", "accessLog", "fallbacks", "backends"];
// Repository folders whose paths a doc may name; build/ and node_modules/ hold outputs, not sources.
const SOURCE_DIRS = readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && ![".git", "build", "node_modules"].includes(e.name))
  .map((e) => e.name);
// A marker is a line of its own (one quoted in inline code is prose).
const SKIP_MARKER = /^\s*<!--\s*docs-test:\s*skip\b\s*(?:\(([^)]*)\))?\s*-->\s*$/;
const ANY_MARKER = /^\s*<!--\s*docs-test\b/;

/** README.md and docs/*.md, relative to ROOT. */
export function docFiles() {
  const docs = readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

/**
 * @typedef {{file: string, line: number, lang: string, text: string, skip: string | null}} Block
 * @typedef {{file: string, line: number, text: string}} Span
 */

/** Splits a Markdown text into fenced blocks, inline code spans and relative links. */
export function parseMarkdown(file, source) {
  const lines = source.split("\n");
  /** @type {Block[]} */
  const blocks = [];
  const prose = [...lines];
  const markers = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let j = i + 1;
    while (j < lines.length && !(lines[j].trim().startsWith(fence) && lines[j].trim().replace(/[`~]/g, "") === "")) j++;
    const body = lines.slice(i + 1, j).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    const marker = k >= 0 ? SKIP_MARKER.exec(lines[k]) : null;
    if (marker) markers.push(k);
    blocks.push({ file, line: i + 1, lang: lang.toLowerCase(), text: body.join("\n"), skip: marker ? (marker[1] ?? "").trim() : null });
    for (let m = i; m <= j && m < lines.length; m++) prose[m] = "";
    i = j;
  }
  const proseText = prose.join("\n");
  const lineAt = (index) => proseText.slice(0, index).split("\n").length;
  /** @type {Span[]} */
  const spans = [];
  const spanPattern = /(`+)(?!`)([\s\S]*?[^`])\1(?!`)/g;
  for (const m of proseText.matchAll(spanPattern)) {
    let text = m[2].replace(/\n/g, " ");
    if (text.startsWith(" ") && text.endsWith(" ") && text.trim() !== "") text = text.slice(1, -1);
    spans.push({ file, line: lineAt(m.index), text });
  }
  const withoutSpans = proseText.replace(spanPattern, (s) => s.replace(/[^\n]/g, " "));
  /** @type {Span[]} */
  const links = [];
  for (const m of withoutSpans.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    links.push({ file, line: lineAt(m.index), text: m[1] });
  }
  // A marker must stand right before a fence; one anywhere else exempts nothing and is a mistake.
  const strayMarkers = lines.flatMap((l, n) => (ANY_MARKER.test(l) && !markers.includes(n) ? [{ file, line: n + 1, text: l.trim() }] : []));
  return { blocks, spans, links, strayMarkers, headings: headingSlugs(lines) };
}

/** GitHub's anchors for the headings of a Markdown file (outside fences). */
function headingSlugs(lines) {
  const slugs = new Set();
  const seen = new Map();
  let inFence = false;
  for (const line of lines) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    const h = !inFence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = h[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

/** Shell words of one logical command line: quotes removed, operators (; && || | &) as their own words. */
export function shellWords(line) {
  const words = [];
  let word = null;
  let i = 0;
  const push = () => { if (word !== null) words.push(word); word = null; };
  while (i < line.length) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      const stop = end < 0 ? line.length : end;
      word = (word ?? "") + line.slice(i + 1, stop);
      i = stop + 1;
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[i + 1];
      i += 2;
    } else if (/\s/.test(c)) {
      push();
      i++;
    } else if (c === "#" && word === null) {
      break; // a comment
    } else if (";|&".includes(c)) {
      push();
      const op = /^(&&|\|\||;|\||&)/.exec(line.slice(i))[0];
      words.push({ op });
      i += op.length;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  push();
  return words;
}

/**
 * The commands of a shell snippet: continuation lines joined, split at operators. Each is a list of
 * words with `line`, the snippet line (from 0) it starts on.
 */
export function shellCommands(text) {
  const commands = [];
  const lines = text.split("\n");
  for (let first = 0; first < lines.length; first++) {
    let logical = lines[first];
    const start = first;
    while (logical.endsWith("\\") && first + 1 < lines.length) logical = `${logical.slice(0, -1)} ${lines[++first]}`;
    let current = [];
    const push = () => {
      if (current.length) commands.push(Object.assign(current, { line: start }));
      current = [];
    };
    for (const w of shellWords(logical)) {
      if (typeof w === "string") current.push(w);
      else push();
    }
    push();
  }
  return commands;
}

const isPlainObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

/** What a JSON value is, as far as the docs are concerned. */
export function jsonShape(value) {
  if (!isPlainObject(value)) return "other";
  const keys = Object.keys(value);
  if ("orchestrator" in value || Array.isArray(value.backends) || (isPlainObject(value.backends) && "count" in value.backends)) return "manifest";
  if ("count" in value && "pattern" in value) return "count-backends";
  if (typeof value.name === "string" && ("provider" in value || "models" in value || "weight" in value) && !("object" in value)) return "backend-entry";
  if (keys.length > 0 && keys.every((k) => ROUTER_CONFIG_KEYS.includes(k))) return "router-config";
  return "other";
}

let core;
/** The config error the real core reports for a ROUTER_CONFIG text, or null. */
function routerConfigError(text) {
  core ??= RouterCore.fromModule(new WebAssembly.Module(readFileSync(path.join(ROOT, "build/wasm/router.wasm"))));
  const result = core.configure({ routerConfig: text, envNames: ["BACKEND_ECHO_A"] }, Date.now());
  return result.error ? `${result.error.param}: ${result.error.message}` : null;
}

/** Problems of one JSON value of the docs (empty when it is fine). */
function jsonProblems(value) {
  const shape = jsonShape(value);
  const check = (manifest) => {
    try {
      const normalized = normalizeManifest(manifest, "snippet");
      const config = normalized.orchestrator.routerConfig;
      const error = config === null ? null : routerConfigError(config);
      return error ? [`orchestrator.routerConfig is refused by the core: ${error}`] : [];
    } catch (e) {
      return [e.message];
    }
  };
  if (shape === "manifest") return check(value);
  if (shape === "count-backends") return check({ backends: value });
  if (shape === "backend-entry") return check({ backends: [value] });
  if (shape === "router-config") {
    const error = routerConfigError(JSON.stringify(value));
    return error ? [`ROUTER_CONFIG refused by the core: ${error}`] : [];
  }
  return [];
}

/** A path named by a doc exists (a folder, a file, or files `path.*` as in "cpp/src/x (.cpp, .hpp)"). */
function pathExists(p) {
  const clean = p.replace(/[.,:;)]+$/, "").replace(/\/$/, "");
  const expanded = expandBraces(clean);
  return expanded.every((one) => {
    const full = path.join(ROOT, one);
    if (existsSync(full)) return true;
    const dir = path.dirname(full);
    return existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).some((f) => f.startsWith(`${path.basename(full)}.`));
  });
}

function expandBraces(p) {
  const m = /\{([^{}]*,[^{}]*)\}/.exec(p);
  if (!m) return [p];
  return m[1].split(",").flatMap((alt) => expandBraces(p.slice(0, m.index) + alt + p.slice(m.index + m[0].length)));
}

/** A word that names a path into the repository's sources (not a placeholder, glob or variable). */
function repoPath(word) {
  if (/[<>*$…]|\.\.\.|:\/\//.test(word)) return null;
  const first = word.split("/")[0];
  if (!word.includes("/") || !SOURCE_DIRS.includes(first)) return null;
  return word;
}

const packageScripts = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;

/** Problems of one shell command (words). Curl commands also come back parsed in `curls`. */
function commandProblems(words, curls, where) {
  const problems = [];
  const [cmd, ...args] = words;
  if (cmd === "npm" && args[0] === "run") {
    if (!args[1]) problems.push("`npm run` without a script name");
    else if (!Object.hasOwn(packageScripts, args[1])) problems.push(`npm run ${args[1]}: package.json has no script "${args[1]}"`);
  }
  let script = null; // the repository script the command runs, and the words after it
  if ((cmd === "node" || cmd === "bash" || cmd === "sh") && !args.includes("-e")) {
    const at = args.findIndex((a) => !a.startsWith("-"));
    const target = args[at];
    if (target && !target.startsWith("$") && !pathExists(target)) {
      problems.push(`${cmd} ${target}: no such file`);
      return problems;
    } else if (target && repoPath(target)) script = { file: target, rest: args.slice(at + 1) };
  } else if (repoPath(cmd) && /\.(sh|mjs|js)$/.test(cmd) && pathExists(cmd)) {
    script = { file: cmd, rest: args };
  }
  // Every --option given to one of the repository's scripts is one the script knows.
  if (script && existsSync(path.join(ROOT, script.file)) && statSync(path.join(ROOT, script.file)).isFile()) {
    const source = readFileSync(path.join(ROOT, script.file), "utf8");
    for (const option of script.rest.filter((w) => /^--[a-z]/.test(w)).map((w) => w.split("=")[0])) {
      if (!source.includes(option)) problems.push(`${script.file} does not know the option ${option}`);
    }
  }
  for (const w of words) {
    const p = repoPath(w);
    if (p && !pathExists(p)) problems.push(`${p}: no such file or folder`);
  }
  const varIndex = words.indexOf("--var");
  if (varIndex >= 0 && words[varIndex + 1]?.startsWith("ROUTER_CONFIG:")) {
    const error = routerConfigError(words[varIndex + 1].slice("ROUTER_CONFIG:".length));
    if (error) problems.push(`--var ROUTER_CONFIG refused by the core: ${error}`);
  }
  if (cmd === "curl") {
    const curl = parseCurl(args);
    if (curl.url && curl.url.includes(LOCAL_ORIGIN)) {
      problems.push(...curlProblems(curl));
      curls.push({ ...curl, where });
    }
  }
  return problems;
}

/** The request a curl command line makes. */
export function parseCurl(args) {
  const headers = {};
  let url = null;
  let method = null;
  let body = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-H" || a === "--header") {
      const [name, ...rest] = args[++i].split(":");
      headers[name.trim().toLowerCase()] = rest.join(":").trim();
    } else if (["-d", "--data", "--data-raw", "--data-binary"].includes(a)) {
      body = args[++i];
    } else if (a === "-X" || a === "--request") {
      method = args[++i];
    } else if (["-o", "--output", "-u", "--user", "-m", "--max-time", "-w", "--write-out"].includes(a)) {
      i++;
    } else if (!a.startsWith("-")) {
      url = a;
    }
  }
  const full = url && !/^https?:\/\//.test(url) ? `http://${url}` : url;
  return { url: full, method: method ?? (body === null ? "GET" : "POST"), headers, body };
}

/** The models the local stack serves (backends.json), or null for any. */
function localModels() {
  const manifest = normalizeManifest(JSON.parse(readFileSync(path.join(ROOT, "backends.json"), "utf8")), "backends.json");
  const models = manifest.backends.flatMap((b) => b.models);
  return models.includes("*") ? null : new Set(models);
}

function curlProblems(curl) {
  const problems = [];
  const { pathname } = new URL(curl.url);
  if (!SERVED_PATHS.includes(pathname)) problems.push(`curl ${curl.url}: the router serves ${SERVED_PATHS.join(", ")}, not ${pathname}`);
  if (curl.body === null) {
    if (curl.method !== "GET") problems.push(`curl ${curl.method} ${pathname} without a body`);
    return problems;
  }
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(curl.headers["content-type"] ?? "")) {
    problems.push(`curl ${pathname} sends a body without -H 'content-type: application/json' (curl -d defaults to a form type: the router answers 415)`);
  }
  let body;
  try {
    body = JSON.parse(curl.body);
  } catch (e) {
    return [...problems, `curl ${pathname}: the body is not JSON (${e.message})`];
  }
  const models = localModels();
  if (typeof body.model !== "string" || body.model === "") problems.push(`curl ${pathname}: the body has no "model"`);
  else if (models && !models.has(body.model)) problems.push(`curl ${pathname}: model "${body.model}" is not served by the local stack (backends.json serves ${[...models].join(", ")})`);
  const needs = { "/v1/chat/completions": "messages", "/v1/completions": "prompt", "/v1/embeddings": "input", "/v1/responses": "input" }[pathname];
  if (needs && (body[needs] === undefined || (Array.isArray(body[needs]) && body[needs].length === 0))) problems.push(`curl ${pathname}: the body has no "${needs}"`);
  return problems;
}

function jsSyntaxProblem(text, where) {
  const dir = path.join(ROOT, "build/docs-test");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${where.replace(/[^\w]+/g, "_")}.mjs`);
  writeFileSync(file, text);
  try {
    execFileSync(process.execPath, ["--check", file], { stdio: "pipe" });
    return null;
  } catch (e) {
    return String(e.stderr).split("\n").find((l) => /Error/.test(l)) ?? "syntax error";
  }
}

/**
 * TypeScript snippets are type-checked with the repository's tsconfig (Workers types), as files two
 * folders below the root, where a template source file sits: `../../shims/interfaces` resolves.
 */
function tsProblems(snippets) {
  if (snippets.length === 0) return [];
  const dir = path.join(ROOT, "build/docs-test");
  mkdirSync(dir, { recursive: true });
  const files = snippets.map((s) => {
    const file = path.join(dir, `${s.where.replace(/[^\w]+/g, "_")}.ts`);
    writeFileSync(file, s.text);
    return file;
  });
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram(files, { ...config?.options, noEmit: true });
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file && files.includes(path.resolve(d.file.fileName))).map((d) => {
    const snippet = snippets[files.indexOf(path.resolve(d.file.fileName))];
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    return `${snippet.where.replace(/:\d+$/, "")}:${Number(snippet.where.split(":").pop()) + 1 + line}: TypeScript: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

/** Every problem of the docs, with where it is; the curl examples; what was checked. */
export function checkDocs(files = docFiles(), read = (f) => readFileSync(path.join(ROOT, f), "utf8")) {
  const problems = [];
  const curls = [];
  const skipped = [];
  const tsSnippets = [];
  const counts = { blocks: 0, json: 0, manifests: 0, routerConfigs: 0, toml: 0, commands: 0, curls: 0, links: 0, js: 0, ts: 0 };
  const parsed = new Map(files.map((f) => [f, parseMarkdown(f, read(f))]));
  const report = (where, list) => { for (const p of list) problems.push(`${where}: ${p}`); };
  const countShape = (value) => {
    const shape = jsonShape(value);
    if (["manifest", "count-backends", "backend-entry"].includes(shape)) counts.manifests++;
    if (shape === "router-config") counts.routerConfigs++;
  };

  for (const [file, doc] of parsed) {
    for (const m of doc.strayMarkers) problems.push(`${file}:${m.line}: a docs-test marker that exempts nothing (write <!-- docs-test: skip (reason) --> on the line before a fence): ${m.text}`);
    for (const block of doc.blocks) {
      const where = `${file}:${block.line}`;
      counts.blocks++;
      if (block.skip !== null) {
        if (!block.skip) problems.push(`${where}: a docs-test skip marker needs a reason: <!-- docs-test: skip (why) -->`);
        skipped.push(`${where} (${block.skip})`);
        continue;
      }
      if (block.lang === "json") {
        counts.json++;
        let value;
        try {
          value = JSON.parse(block.text);
        } catch (e) {
          report(where, [`JSON does not parse: ${e.message}`]);
          continue;
        }
        countShape(value);
        report(where, jsonProblems(value));
      } else if (block.lang === "toml") {
        counts.toml++;
        try {
          const toml = parseToml(block.text);
          const config = toml.vars?.ROUTER_CONFIG;
          if (typeof config === "string") {
            counts.routerConfigs++;
            const error = routerConfigError(config);
            if (error) report(where, [`ROUTER_CONFIG refused by the core: ${error}`]);
          }
        } catch (e) {
          report(where, [`TOML does not parse: ${e.message.split("\n")[0]}`]);
        }
      } else if (["sh", "bash", "shell", "console"].includes(block.lang)) {
        for (const words of shellCommands(block.text)) {
          counts.commands++;
          const at = `${file}:${block.line + 1 + words.line}`;
          report(at, commandProblems(words, curls, at));
        }
      } else if (["js", "javascript", "mjs"].includes(block.lang)) {
        counts.js++;
        const problem = jsSyntaxProblem(block.text, where);
        if (problem) report(where, [`JavaScript does not parse: ${problem}`]);
      } else if (block.lang === "ts" || block.lang === "typescript") {
        counts.ts++;
        tsSnippets.push({ where, text: block.text });
      }
    }
    for (const span of doc.spans) {
      const where = `${file}:${span.line}`;
      const text = span.text.trim();
      if (text.startsWith("{")) {
        let value;
        try {
          value = JSON.parse(text);
        } catch {
          continue; // prose shorthand such as {"error":{...}}: not meant as JSON
        }
        counts.json++;
        countShape(value);
        report(where, jsonProblems(value));
      } else if (/^(npm run|node|bash|curl)\s/.test(text) || shellWords(text).some((w) => typeof w === "string" && repoPath(w))) {
        for (const words of shellCommands(text)) {
          counts.commands++;
          report(where, commandProblems(words, curls, where));
        }
      }
    }
    for (const link of doc.links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.text)) continue; // https:, mailto:
      counts.links++;
      const [target, anchor] = link.text.split("#");
      const resolved = target === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), target));
      if (resolved.startsWith("..") || !(parsed.has(resolved) || existsSync(path.join(ROOT, resolved)))) {
        problems.push(`${file}:${link.line}: link (${link.text}) points to ${resolved}, which does not exist`);
        continue;
      }
      if (anchor && resolved.endsWith(".md")) {
        const headings = parsed.get(resolved)?.headings ?? parseMarkdown(resolved, read(resolved)).headings;
        if (!headings.has(anchor)) problems.push(`${file}:${link.line}: link (${link.text}): ${resolved} has no heading #${anchor}`);
      }
    }
  }
  problems.push(...tsProblems(tsSnippets));
  counts.curls = curls.length;
  return { problems, curls, skipped, counts };
}

/** The policy in force with an empty ROUTER_CONFIG, as GET /status shows it (through the real shim). */
async function defaultPolicy() {
  const { createRouterFetch } = await import("../../shims/driver.js");
  const fetchRouter = createRouterFetch(RouterCore.fromModule(new WebAssembly.Module(readFileSync(path.join(ROOT, "build/wasm/router.wasm")))));
  const log = console.log;
  console.log = () => {}; // the router's start-up warnings
  try {
    const res = await fetchRouter(new Request("http://router.test/status"), {}, { waitUntil() {}, passThroughOnException() {} });
    return JSON.parse(await res.text()).policy;
  } finally {
    console.log = log;
  }
}

/**
 * Problems of configuration.md's ROUTER_CONFIG tables (`| \`field\` | type | \`default\` | range |`):
 * each default must be the core's, each bound of a range accepted and the value just past it
 * refused naming the field, an integer field must refuse a fraction, and `null` is never a value.
 */
export function configTableProblems(markdown, policy) {
  const problems = [];
  const rows = [...markdown.matchAll(/^\| `([a-zA-Z.<>]+)` \| ([a-z ]+?) \| (.*?) \| (.*?) \|/gm)]
    .filter((m) => ROUTER_CONFIG_KEYS.includes(m[1].split(".")[0]));
  // "≤ `backoffCapMs`": the two fields are checked against each other, so valid bounds move them together.
  const partners = new Map();
  for (const [, field, , , range] of rows) {
    const other = /≤ `(\w+)`/.exec(range)?.[1];
    if (!other) continue;
    const sibling = `${field.split(".").slice(0, -1).join(".")}.${other}`;
    partners.set(field, sibling).set(sibling, field);
  }
  const errorFor = (field, value, withPartner = true) => {
    const config = {};
    const set = (f, v) => {
      const keys = f.replace("<binding>", "BACKEND_DOCS").split(".");
      let at = config;
      for (const k of keys.slice(0, -1)) at = at[k] ??= {};
      at[keys[keys.length - 1]] = v;
    };
    set(field, value);
    if (withPartner && partners.has(field)) set(partners.get(field), value);
    return routerConfigError(JSON.stringify(config));
  };
  const expectValid = (field, value) => {
    const error = errorFor(field, value);
    if (error) problems.push(`${field} = ${JSON.stringify(value)} is documented as valid, the core says ${error}`);
  };
  const expectInvalid = (field, value) => {
    const error = errorFor(field, value, false);
    const param = field.replace("<binding>", "BACKEND_DOCS");
    if (!error) problems.push(`${field} = ${JSON.stringify(value)} is outside the documented range, yet the core accepts it`);
    else if (!error.startsWith(`${param}:`)) problems.push(`${field} = ${JSON.stringify(value)}: the error names ${error.split(":")[0]}, not ${param}`);
  };
  for (const [, field, type, defaultCell, range] of rows) {
    const literal = /^`([^`]+)`(?: \([^)]*\))?$/.exec(defaultCell.trim());
    if (literal && !field.includes("<")) {
      const documented = JSON.parse(literal[1]);
      const actual = field.split(".").reduce((v, k) => v?.[k], policy);
      if (JSON.stringify(actual) !== JSON.stringify(documented)) problems.push(`${field}: documented default ${literal[1]}, the core's is ${JSON.stringify(actual)}`);
    }
    expectInvalid(field, null);
    const num = (text) => Number(text.replace(/[\s\u202f]/g, ""));
    const span = /^([\d\s\u202f]+)\s*–\s*([\d\s\u202f]+)/.exec(range.trim());
    const above = /^> ([\d\s]+) and ≤ ([\d\s]+)/.exec(range.trim());
    if (span || above) {
      const [min, max] = span ? [num(span[1]), num(span[2])] : [num(above[1]), num(above[2])];
      if (span) expectValid(field, min);
      else expectInvalid(field, min);
      expectValid(field, max);
      expectInvalid(field, max + 1);
      if (span) expectInvalid(field, min - 1);
      if (type === "integer") expectInvalid(field, min + 0.5);
      if (type === "duration" && min + 0.5 < max) expectValid(field, min + 0.5);
    } else if (type === "string") {
      const values = [...range.matchAll(/`"([^"`]+)"`/g)].map((m) => m[1]);
      if (values.length === 0) problems.push(`${field}: no values listed`);
      for (const v of values) expectValid(field, v);
      expectInvalid(field, "not-a-documented-value");
    } else if (type === "boolean") {
      expectValid(field, true);
      expectValid(field, false);
      expectInvalid(field, "true");
    }
  }
  if (rows.length < 20) problems.push(`only ${rows.length} ROUTER_CONFIG rows found in the tables`);
  return problems;
}

/**
 * Problems of defaults quoted in prose, e.g. "`retry.maxAttempts` (**3**)", "`health.baseEjectionMs`
 * **30 s**" or "`limits.maxDepth` (default 64": each must be the core's default.
 */
export function proseDefaultProblems(files, policy, read) {
  const problems = [];
  const field = `\`((?:${ROUTER_CONFIG_KEYS.filter((k) => k !== "strategy" && k !== "backends").join("|")})\\.\\w+)\``;
  const patterns = [new RegExp(`${field}[^\`*\\n]{0,12}\\*\\*([^*]+)\\*\\*`, "g"), new RegExp(`${field},? \\(?default ([^;,)\\n]+)`, "g")];
  for (const file of files) {
    const text = read(file);
    for (const pattern of patterns) {
      for (const m of text.matchAll(pattern)) {
        const [, name, quoted] = m;
        const line = text.slice(0, m.index).split("\n").length;
        const actual = name.split(".").reduce((v, k) => v?.[k], policy);
        const flag = /^(true|on|false|off)$/.exec(quoted.trim());
        const amount = /^([\d\s\u202f.]+?)\s*(ms|s|min|%)?$/.exec(quoted.trim());
        let documented;
        if (flag) documented = flag[1] === "true" || flag[1] === "on";
        else if (amount) {
          const unit = name.endsWith("Ms") ? { s: 1000, min: 60_000 }[amount[2]] ?? 1 : 1;
          documented = Number(amount[1].replace(/[\s\u202f]/g, "")) * unit;
        } else continue; // not a value (e.g. a sentence in bold)
        if (documented !== actual) problems.push(`${file}:${line}: ${name} is quoted as ${quoted.trim()}, the core's default is ${JSON.stringify(actual)}`);
      }
    }
  }
  return problems;
}

test("configuration.md's ROUTER_CONFIG tables and the defaults quoted in prose: every default is the core's, every range is where the core draws it", async () => {
  const policy = await defaultPolicy();
  const problems = configTableProblems(readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8"), policy);
  assert.deepEqual(problems, [], `docs/configuration.md and the core disagree:\n  ${problems.join("\n  ")}`);
  // "A full example: every field, with values different from the defaults."
  const markdown = readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8");
  const example = parseMarkdown("docs/configuration.md", markdown).blocks.find((b) => b.lang === "json" && b.line > markdown.slice(0, markdown.indexOf("### A full example")).split("\n").length);
  assert.ok(example, "configuration.md has a full example after its heading");
  const full = JSON.parse(example.text);
  const missing = [];
  for (const [section, fields] of Object.entries(policy)) {
    if (section === "backends") continue;
    for (const [field, value] of typeof fields === "object" ? Object.entries(fields) : [["", fields]]) {
      const name = field ? `${section}.${field}` : section;
      const given = field ? full[section]?.[field] : full[section];
      if (given === undefined) missing.push(`${name} is not in the full example`);
      else if (JSON.stringify(given) === JSON.stringify(value)) missing.push(`${name} has its default value in the full example`);
    }
  }
  assert.deepEqual(missing, [], "configuration.md's full example shows every field with a value different from the default");
  const prose = proseDefaultProblems(docFiles(), policy, (f) => readFileSync(path.join(ROOT, f), "utf8"));
  assert.deepEqual(prose, [], `defaults quoted in the docs that are not the core's:\n  ${prose.join("\n  ")}`);
  const wrongProse = proseDefaultProblems(["x.md"], policy, () => "`retry.maxAttempts` (**4**), `health.baseEjectionMs` **30 s**, `timeouts.perTryMs` (default 30 s)");
  assert.deepEqual(wrongProse, ["x.md:1: retry.maxAttempts is quoted as 4, the core's default is 3", "x.md:1: timeouts.perTryMs is quoted as 30 s, the core's default is 60000"]);
  // And a table that drifted is caught.
  const drifted = [
    "| `retry.maxAttempts` | integer | `4` | 1 – 11 | x |",
    "| `strategy` | string | `\"round-robin\"` | `\"round-robin\"`, `\"random\"` | x |",
    "| `timeouts.perTryMs` | duration | `60000` | 0 – 86 400 000 | x |",
  ].join("\n");
  const found = configTableProblems(drifted, policy);
  for (const pattern of [/retry.maxAttempts: documented default 4, the core's is 3/, /retry.maxAttempts = 11 is documented as valid/,
    /strategy = "random" is documented as valid/, /timeouts.perTryMs = 0 is documented as valid/]) {
    assert.ok(found.some((p) => pattern.test(p)), `${pattern} not in:\n  ${found.join("\n  ")}`);
  }
});

/**
 * Problems of deployment.md's manifest field table (`| \`field\` | default | meaning |`): it lists
 * exactly the fields the manifest check knows, with the defaults it fills in; its `vars` row names
 * every var of the template (shims/interfaces.ts BackendEnv) a manifest may set.
 */
export function manifestTableProblems(markdown, interfacesSource) {
  const problems = [];
  const start = markdown.indexOf("| field | default | meaning |");
  if (start < 0) return ["no table headed | field | default | meaning |"];
  const table = markdown.slice(start).split(/\n\s*\n/)[0];
  const rows = [...table.matchAll(/^\| `([a-zA-Z.]+)` \| (.*?) \| (.*?) \|$/gm)];
  const documented = new Map(rows.map((m) => [m[1], { defaultCell: m[2], meaning: m[3] }]));
  const known = (manifest) => {
    try {
      normalizeManifest(manifest);
    } catch (e) {
      return e.problems.flatMap((p) => /\(known: ([^)]*)\)/.exec(p)?.[1].split(", ") ?? []);
    }
    return [];
  };
  const fields = [
    ...known({ orchestrator: { docsTestUnknown: 1 }, backends: [{ name: "x" }] }).map((f) => `orchestrator.${f}`),
    ...known({ backends: [{ name: "x", docsTestUnknown: 1 }] }),
  ];
  for (const f of fields) if (!documented.has(f)) problems.push(`the manifest field ${f} is not in the table`);
  for (const f of documented.keys()) if (!fields.includes(f)) problems.push(`the table lists ${f}, which the manifest check refuses`);
  const normalized = normalizeManifest({ backends: [{ name: "x" }] });
  const actual = { ...Object.fromEntries(Object.entries(normalized.orchestrator).map(([k, v]) => [`orchestrator.${k}`, v])), ...normalized.backends[0] };
  for (const [field, { defaultCell }] of documented) {
    const literal = /^`([^`<]+)`$/.exec(defaultCell.trim())?.[1];
    if (literal === undefined) continue;
    let value;
    try {
      value = JSON.parse(literal);
    } catch {
      value = literal;
    }
    const got = field === "models" ? actual.models.join(",") : actual[field];
    if (String(got) !== String(value)) problems.push(`${field}: documented default ${literal}, the manifest check gives ${JSON.stringify(actual[field])}`);
  }
  const derived = new Set(["PROVIDER", "BACKEND_NAME", "MODELS", "WEIGHT", "UPSTREAM_API_KEY", "AI"]);
  const envBody = /export interface BackendEnv \{([\s\S]*?)\n\}/.exec(interfacesSource)?.[1] ?? "";
  const envVars = [...envBody.matchAll(/^\s+([A-Z_]+)\??:/gm)].map((m) => m[1]).filter((v) => !derived.has(v));
  if (envVars.length === 0) problems.push("no BackendEnv vars found in shims/interfaces.ts");
  for (const v of envVars) if (!documented.get("vars")?.meaning.includes(`\`${v}\``)) problems.push(`the vars row does not name the template var ${v}`);
  return problems;
}

/**
 * configuration.md's request validation table as {status, messages: RegExp[], param, code}: N and
 * [i] in a message stand for numbers.
 */
export function validationRows(markdown) {
  const section = markdown.slice(markdown.indexOf("## Request validation"));
  const table = section.slice(section.indexOf("| rule |")).split(/\n\s*\n/)[0];
  const span = /(`+)\s?([\s\S]*?[^`])\s?\1(?!`)/g;
  const pattern = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\bN\b/g, "\\d+").replace(/\\\[i\\\]/g, "\\[\\d+\\]")}$`);
  return table.split("\n").slice(2).map((line) => {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const [rule, status, answer] = [cells[0], Number(cells[1]), cells.slice(2).join("|")];
    const trailing = /\(((?:`[^`]+`\s*)+)\)\s*$/.exec(answer);
    const extra = trailing ? [...trailing[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]) : [];
    const messages = [...(trailing ? answer.slice(0, trailing.index) : answer).matchAll(span)].map((m) => pattern(m[2]));
    return { rule: rule.slice(0, 60), status, messages, param: extra[0] === "code" ? null : extra[0] ?? null, code: extra[0] === "code" ? extra[1] : null };
  });
}

/** Requests that break each rule of the table, one at least per row (the test checks that). */
const VALIDATION_SAMPLES = [
  { path: "/v1/chat/completions", type: "text/plain", body: "{}" },
  { path: "/v1/chat/completions", body: `{"model":"${"x".repeat(1048576)}"}` },
  { path: "/v1/chat/completions", body: "" },
  { path: "/v1/chat/completions", body: new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]) },
  { path: "/v1/chat/completions", body: '{"model":"m\u0000"}' }, // a raw NUL byte in the text
  { path: "/v1/chat/completions", body: `${"[".repeat(65)}${"]".repeat(65)}` },
  { path: "/v1/chat/completions", body: '{"model":}' },
  { path: "/v1/chat/completions", body: '{"model":"m"' },
  { path: "/v1/chat/completions", body: '{"model":"m","n":1E1000}' },
  { path: "/v1/chat/completions", body: "[]" },
  { path: "/v1/chat/completions", body: '{"messages":[]}' },
  { path: "/v1/chat/completions", body: '{"model":"m","models":[],"messages":[{"role":"user"}]}' },
  { path: "/v1/chat/completions", body: '{"models":["a"],"models":["b"],"messages":[{"role":"user"}]}' },
  { path: "/v1/chat/completions", body: `{"model":"${"m".repeat(257)}"}` },
  { path: "/v1/chat/completions", body: '{"model":"m\\u0001"}' },
  { path: "/v1/chat/completions", body: '{"model":"m","stream":"true","messages":[{"role":"user"}]}' },
  { path: "/v1/chat/completions", body: '{"model":"m"}' },
  { path: "/v1/chat/completions", body: '{"model":"m","messages":[1]}' },
  { path: "/v1/chat/completions", body: '{"model":"m","messages":[{"content":"hi"}]}' },
  { path: "/v1/completions", body: '{"model":"m","prompt":3}' },
  { path: "/v1/embeddings", body: '{"model":"m","input":""}' },
  { path: "/v1/responses", body: '{"model":"m","input":{}}' },
];

test("configuration.md's request validation table: each rule's status, message and param are what the router answers", async () => {
  const rows = validationRows(readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8"));
  assert.ok(rows.length >= 15 && rows.every((r) => r.status >= 400 && r.messages.length > 0), `table not read: ${JSON.stringify(rows.map((r) => r.rule))}`);
  const { createRouterFetch } = await import("../../shims/driver.js");
  const fetchRouter = createRouterFetch(RouterCore.fromModule(new WebAssembly.Module(readFileSync(path.join(ROOT, "build/wasm/router.wasm")))));
  const env = { BACKEND_A: { describe: async () => ({ name: "a", models: ["*"] }), infer: async () => ({ status: 200, body: {} }) } };
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  const log = console.log;
  console.log = () => {};
  const problems = [];
  const hit = new Set();
  try {
    for (const sample of VALIDATION_SAMPLES) {
      const res = await fetchRouter(new Request(`http://router.test${sample.path}`, { method: "POST", headers: { "content-type": sample.type ?? "application/json" }, body: sample.body }), env, ctx);
      const { error } = JSON.parse(await res.text());
      const row = rows.find((r) => r.status === res.status && r.messages.some((m) => m.test(error.message)));
      const what = `${sample.path} ${String(sample.body).slice(0, 40)}: ${res.status} "${error.message}" (param ${error.param}, code ${error.code})`;
      if (!row) problems.push(`${what}: no row of the table says so`);
      else {
        hit.add(row);
        if (row.param !== null && !new RegExp(`^${row.param.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\[i\\\]/g, "\\[\\d+\\]")}$`).test(error.param ?? "")) problems.push(`${what}: the table gives param ${row.param}`);
        if (row.code !== null && error.code !== row.code) problems.push(`${what}: the table gives code ${row.code}`);
      }
    }
  } finally {
    console.log = log;
  }
  for (const row of rows) if (!hit.has(row)) problems.push(`no sample request gets the answer of the row "${row.rule}"`);
  assert.deepEqual(problems, [], `docs/configuration.md's validation table and the router disagree:\n  ${problems.join("\n  ")}`);
});

test("configuration.md's table of what each key opens is what the router does", async () => {
  const markdown = readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8");
  const table = markdown.slice(markdown.indexOf("| setup | `/v1/*` | `GET /status` |")).split(/\n\s*\n/)[0];
  const rows = table.split("\n").slice(2).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
  assert.equal(rows.length, 4, `the table has the 4 setups: ${table}`);
  const setups = { "no keys, no admin key": {}, "`ROUTER_API_KEYS` only": { ROUTER_API_KEYS: "sk-client" },
    "`ROUTER_ADMIN_KEY` only": { ROUTER_ADMIN_KEY: "sk-admin" }, both: { ROUTER_API_KEYS: "sk-client", ROUTER_ADMIN_KEY: "sk-admin" } };
  const { createRouterFetch } = await import("../../shims/driver.js");
  const wasm = new WebAssembly.Module(readFileSync(path.join(ROOT, "build/wasm/router.wasm")));
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  const log = console.log;
  console.log = () => {};
  const problems = [];
  try {
    for (const [setup, v1Cell, statusCell] of rows) {
      const keys = setups[setup];
      if (!keys) {
        problems.push(`unknown setup row "${setup}"`);
        continue;
      }
      const env = { ...keys, BACKEND_A: { describe: async () => ({ name: "a", models: ["m"] }) } };
      const fetchRouter = createRouterFetch(RouterCore.fromModule(wasm));
      for (const [target, cell] of [["/v1/models", v1Cell], ["/status", statusCell]]) {
        // What the cell says each caller gets: "open", "a client key", "the admin key (only)".
        const opens = { none: cell === "open", client: cell === "open" || cell.startsWith("a client key"), admin: cell === "open" || cell.startsWith("the admin key") };
        if (!keys.ROUTER_API_KEYS) delete opens.client;
        if (!keys.ROUTER_ADMIN_KEY) delete opens.admin;
        for (const [caller, allowed] of Object.entries(opens)) {
          const key = { none: null, client: "sk-client", admin: "sk-admin" }[caller];
          const res = await fetchRouter(new Request(`http://router.test${target}`, { headers: key ? { authorization: `Bearer ${key}` } : {} }), env, ctx);
          await res.arrayBuffer();
          if ((res.status === 200) !== allowed) problems.push(`${setup}: GET ${target} with ${caller === "none" ? "no key" : `the ${caller} key`} answers ${res.status}; the table says "${cell}"`);
        }
      }
    }
  } finally {
    console.log = log;
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

test("deployment.md's manifest table: the fields and defaults of the manifest check, every template var", () => {
  const interfaces = readFileSync(path.join(ROOT, "shims/interfaces.ts"), "utf8");
  const table = readFileSync(path.join(ROOT, "docs/deployment.md"), "utf8");
  const problems = manifestTableProblems(table, interfaces);
  assert.deepEqual(problems, [], `docs/deployment.md and the manifest check disagree:\n  ${problems.join("\n  ")}`);
  const drifted = table.replace("| `provider` | `echo` |", "| `provider` | `workers-ai` |").replace(/^\| `upstreamApiKeySecret` .*$/m, "| `apiKey` | none | x |")
    .replace(", `MAX_UPSTREAM_BYTES` |", " |");
  const found = manifestTableProblems(drifted, interfaces);
  for (const pattern of [/provider: documented default workers-ai/, /upstreamApiKeySecret is not in the table/, /lists apiKey/, /does not name the template var MAX_UPSTREAM_BYTES/]) {
    assert.ok(found.some((p) => pattern.test(p)), `${pattern} not in:\n  ${found.join("\n  ")}`);
  }
});

test("README's Documentation list links every page of docs/", () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const list = readme.slice(readme.indexOf("## Documentation"));
  const missing = docFiles().filter((f) => f !== "README.md" && !list.includes(`](${f})`));
  assert.deepEqual(missing, [], "pages a reader of the README cannot find from its Documentation list");
});

test("every snippet, command, path and link of README.md and docs/*.md is right", (t) => {
  const { problems, skipped, counts } = checkDocs();
  t.diagnostic(`checked: ${JSON.stringify(counts)}`);
  for (const s of skipped) t.diagnostic(`skipped by marker: ${s}`);
  assert.deepEqual(problems, [], `the docs do not run as written:\n  ${problems.join("\n  ")}`);
  // Not vacuous: the extractor found what the docs are known to hold.
  assert.ok(counts.blocks >= 20, `only ${counts.blocks} fenced blocks found`);
  assert.ok(counts.manifests >= 3, `only ${counts.manifests} manifests / backend entries checked`);
  assert.ok(counts.routerConfigs >= 2, `only ${counts.routerConfigs} ROUTER_CONFIG snippets checked`);
  assert.ok(counts.curls >= 4, `only ${counts.curls} curl examples checked`);
  assert.ok(counts.links >= 20 && counts.toml >= 2 && counts.js >= 1 && counts.ts >= 1, JSON.stringify(counts));
});

test("the checker catches each kind of drift", () => {
  const doc = [
    "[gone](nowhere.md) [anchor](#no-such-heading)",
    "```json",
    '{"backends": [{"name": "echo-d", "provider": "echo", "models": "echo-1,echo-2"}]}',
    "```",
    "```json",
    '{"retry": {"maxAttempts": 0}}',
    "```",
    "```toml",
    "[vars",
    "```",
    "```sh",
    "npm run no-such-script",
    "node scripts/no-such-file.mjs",
    "node scripts/render-configs.mjs --no-such-option",
    "curl -s http://127.0.0.1:8787/v1/chat -d '{\"model\":\"echo-1\"}'",
    "```",
    "Inline: `{ \"name\": \"x\", \"provider\": \"nope\" }` and `tests/no-such-dir/`.",
    "```ts",
    "const n: number = \"text\";",
    "```",
    "<!-- docs-test: skip -->",
    "```json",
    "{not json",
    "```",
  ].join("\n");
  const { problems } = checkDocs(["fake.md"], () => doc);
  const expected = [
    /fake.md:1: link \(nowhere.md\)/,
    /fake.md:1: link \(#no-such-heading\): fake.md has no heading/,
    /fake.md:2: [\s\S]*models must be "\*" or a non-empty list/,
    /fake.md:5: ROUTER_CONFIG refused by the core: retry.maxAttempts/,
    /fake.md:8: TOML does not parse/,
    /fake.md:12: npm run no-such-script/,
    /fake.md:13: node scripts\/no-such-file.mjs/,
    /fake.md:14: scripts\/render-configs.mjs does not know the option --no-such-option/,
    /fake.md:15: curl .*not \/v1\/chat/,
    /fake.md:15: curl \/v1\/chat sends a body without -H 'content-type/,
    /fake.md:17: [\s\S]*unknown provider "nope"/,
    /fake.md:17: tests\/no-such-dir\/: no such file/,
    /fake.md:19: TypeScript: Type 'string' is not assignable to type 'number'/,
    /fake.md:22: a docs-test skip marker needs a reason/,
  ];
  for (const pattern of expected) assert.ok(problems.some((p) => pattern.test(p)), `${pattern} not reported in:\n  ${problems.join("\n  ")}`);
  assert.equal(problems.length, expected.length, `unexpected problems:\n  ${problems.join("\n  ")}`);
  // A marker with its reason exempts its block, and only that block.
  const marked = checkDocs(["m.md"], () => "<!-- docs-test: skip (shows a mistake) -->\n\n```json\n{bad\n```\n```json\n{bad\n```\n");
  assert.deepEqual(marked.problems.map((p) => p.split(": ")[0]), ["m.md:6"]);
  assert.deepEqual(marked.skipped, ["m.md:3 (shows a mistake)"]);
  const stray = checkDocs(["s.md"], () => "<!-- docs-test: skip (no fence follows) -->\ntext\n<!-- docs-test: skipp (typo) -->\n```json\n{}\n```\n");
  assert.deepEqual(stray.problems.map((p) => p.split(": a docs-test marker that exempts nothing")[0]), ["s.md:1", "s.md:3"]);
});

test("opt-in (DOCS_TEST_STACK=1): the curl examples and the README's openai example answer 200 from a running stack", {
  skip: process.env.DOCS_TEST_STACK === "1" ? false : "set DOCS_TEST_STACK=1 to start the stack (about 10 s)",
  timeout: 60_000,
}, async (t) => {
  const { startStack } = await import("../support/stack.mjs");
  const { curls } = checkDocs();
  const stack = await startStack();
  try {
    for (const curl of curls) {
      const { pathname } = new URL(curl.url);
      const res = await stack.fetch(pathname, { method: curl.method, headers: curl.headers, body: curl.body ?? undefined });
      const text = await res.text();
      assert.equal(res.status, 200, `${curl.where}: ${curl.method} ${pathname} answered ${res.status}: ${text.slice(0, 300)}`);
      if (JSON.parse(curl.body ?? "{}").stream) assert.match(text, /data: \[DONE\]\s*$/, `${curl.where}: the stream ends with [DONE]`);
      t.diagnostic(`${curl.where}: ${curl.method} ${pathname} -> ${res.status}`);
    }
    const readme = parseMarkdown("README.md", readFileSync(path.join(ROOT, "README.md"), "utf8"));
    const example = readme.blocks.find((b) => b.lang === "js" && b.text.includes('from "openai"'));
    assert.ok(example, "the README has an openai client example");
    const dir = path.join(ROOT, "build/docs-test");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "readme-openai-example.mjs");
    writeFileSync(file, example.text.replaceAll(`http://${LOCAL_ORIGIN}`, stack.url));
    const out = execFileSync(process.execPath, [file], { cwd: ROOT, timeout: 20_000, encoding: "utf8" });
    assert.ok(out.trim().length > 0, "the example printed the answers");
  } finally {
    await stack.stop();
  }
});
