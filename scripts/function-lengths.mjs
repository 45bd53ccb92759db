#!/usr/bin/env node
// Lists the functions of the product code with their length in lines, longest first:
//   C++ in cpp/src and cpp/wasm; JS/TS in shims/, orchestrator-worker/src, backend-worker-template/src.
// A function's length runs from the line of its name (a lambda: of its capture list; an anonymous
// arrow or function: of its parameters) to the line of its closing brace, both included. Lambdas,
// arrow functions and inner functions are functions of their own, and the enclosing function's
// count includes them as written. Functions without a body in braces (`x => x + 1`) are not listed.
//
//   node scripts/function-lengths.mjs             every function, longest first
//   node scripts/function-lengths.mjs --max 60    only those longer than 60 lines; exit 1 if any
//   node scripts/function-lengths.mjs --top 20    the 20 longest
//   node scripts/function-lengths.mjs --json      as JSON
//
// The scanner is deliberately simple: it blanks comments, strings, character literals, raw strings,
// template literals, regular expressions and preprocessor lines, matches braces, and takes a `{` as
// a function body when what precedes it is a parameter list (with its qualifiers, a C++ constructor's
// initializer list or a TypeScript return type) after a name that is not a control keyword, or an
// arrow `=>`, or a C++ lambda's capture list.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
export const SOURCE_DIRS = [
  { dir: "cpp/src", lang: "cpp" },
  { dir: "cpp/wasm", lang: "cpp" },
  { dir: "shims", lang: "js" },
  { dir: "orchestrator-worker/src", lang: "js" },
  { dir: "backend-worker-template/src", lang: "js" },
];
const EXTENSIONS = { cpp: [".cpp", ".hpp", ".h", ".cc", ".c"], js: [".js", ".mjs", ".ts"] };

// Words that take a parenthesised expression before a block: never a function's name.
const CONTROL_WORDS = new Set(["if", "for", "while", "switch", "catch", "with", "return", "await", "sizeof", "decltype",
  "alignof", "constexpr", "static_assert", "noexcept", "defined", "typeof", "new", "delete", "throw", "else", "do", "case"]);
const CPP_SPECIFIERS = new Set(["const", "noexcept", "override", "final", "mutable", "constexpr", "volatile", "&", "&&"]);
// After these words a `/` starts a regular expression, not a division.
const REGEX_AFTER_WORDS = new Set(["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
  "yield", "await", "instanceof"]);

/**
 * The source with comments, strings, character literals, regular expressions, template literals
 * (their text; the code in ${...} stays) and preprocessor lines replaced by spaces; newlines and
 * every offset are kept.
 * @param {string} src @param {"cpp" | "js"} lang
 */
export function blankNonCode(src, lang) {
  const out = src.split("");
  const n = src.length;
  const blank = (from, to) => {
    for (let k = from; k < to && k < n; k++) if (out[k] !== "\n") out[k] = " ";
  };
  const isWord = (c) => c !== undefined && /[A-Za-z0-9_$]/.test(c);
  /** Brace depth of each open ${...} of a template literal, innermost last. */
  const templates = [];
  let prev = ""; // the last significant code character
  let prevWord = "";
  let lineStart = true;

  /** Blanks template text from i (just after ` or }) up to the closing ` or the next ${; returns where code resumes. */
  const templateText = (i) => {
    const start = i;
    while (i < n) {
      if (src[i] === "\\") i += 2;
      else if (src[i] === "`") {
        blank(start - 1, i + 1);
        prev = "`";
        return i + 1;
      } else if (src[i] === "$" && src[i + 1] === "{") {
        blank(start - 1, i + 2);
        templates.push(0);
        prev = "{";
        return i + 2;
      } else i++;
    }
    blank(start - 1, n);
    return n;
  };
  const endOfQuoted = (i, quote) => {
    let j = i + 1;
    while (j < n && src[j] !== quote && !(src[j] === "\n" && quote !== "`")) j += src[j] === "\\" ? 2 : 1;
    return Math.min(j + 1, n);
  };
  const endOfRegex = (i) => {
    let j = i + 1;
    let inClass = false;
    while (j < n && src[j] !== "\n") {
      if (src[j] === "\\") j += 2;
      else if (src[j] === "[") { inClass = true; j++; }
      else if (src[j] === "]") { inClass = false; j++; }
      else if (src[j] === "/" && !inClass) { j++; break; }
      else j++;
    }
    while (j < n && /[a-z]/.test(src[j])) j++;
    return j;
  };

  let i = 0;
  while (i < n) {
    const c = src[i];
    if (c === "\n") {
      lineStart = true;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "/") {
      const j = src.indexOf("\n", i);
      blank(i, j < 0 ? n : j);
      i = j < 0 ? n : j;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const j = src.indexOf("*/", i + 2);
      blank(i, j < 0 ? n : j + 2);
      i = j < 0 ? n : j + 2;
      continue;
    }
    if (lang === "cpp" && c === "#" && lineStart) {
      let j = i;
      for (;;) {
        const e = src.indexOf("\n", j);
        if (e < 0) { j = n; break; }
        if (src[e - 1] === "\\" || (src[e - 1] === "\r" && src[e - 2] === "\\")) j = e + 1;
        else { j = e; break; }
      }
      blank(i, j);
      i = j;
      continue;
    }
    lineStart = false;
    if (lang === "cpp" && c === '"' && src[i - 1] === "R" && !isWord(src[i - 2] === "8" ? src[i - 4] : src[i - 2]) ||
        lang === "cpp" && c === '"' && src[i - 1] === "R" && /(?:^|[^A-Za-z0-9_])(?:u8|u|U|L)R$/.test(src.slice(Math.max(0, i - 4), i))) {
      const open = src.indexOf("(", i);
      const delim = src.slice(i + 1, open);
      const close = src.indexOf(`)${delim}"`, open);
      const j = close < 0 ? n : close + delim.length + 2;
      blank(i, j);
      i = j;
      prev = '"';
      continue;
    }
    if (c === '"' || (c === "'" && !(lang === "cpp" && isDigitSeparator(src, i)))) {
      const j = endOfQuoted(i, c);
      blank(i, j);
      i = j;
      prev = '"';
      continue;
    }
    if (lang === "js" && c === "`") {
      i = templateText(i + 1);
      continue;
    }
    if (lang === "js" && c === "/" && (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev) || (isWord(prev) && REGEX_AFTER_WORDS.has(prevWord)))) {
      const j = endOfRegex(i);
      blank(i, j);
      i = j;
      prev = "/";
      continue;
    }
    if (lang === "js" && templates.length > 0) {
      if (c === "{") templates[templates.length - 1]++;
      else if (c === "}") {
        if (templates[templates.length - 1] === 0) {
          templates.pop();
          i = templateText(i + 1);
          continue;
        }
        templates[templates.length - 1]--;
      }
    }
    if (isWord(c)) {
      let j = i;
      while (j < n && isWord(src[j])) j++;
      prevWord = src.slice(i, j);
      prev = src[j - 1];
      i = j;
      continue;
    }
    prev = c;
    i++;
  }
  return out.join("");
}

/** A ' inside a C++ number (1'000'000) is a digit separator, not a character literal. */
function isDigitSeparator(src, i) {
  if (!/[0-9A-Fa-f]/.test(src[i - 1] ?? "") || !/[0-9A-Fa-f]/.test(src[i + 1] ?? "")) return false;
  let j = i - 1;
  while (j >= 0 && /[0-9A-Za-z_'.]/.test(src[j])) j--;
  return /[0-9]/.test(src[j + 1]);
}

/** For each bracket ( [ { its partner's offset, both ways. */
function matchBrackets(code) {
  const match = new Map();
  const stack = [];
  const pairs = { ")": "(", "]": "[", "}": "{" };
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === "(" || c === "[" || c === "{") stack.push(i);
    else if (c in pairs) {
      // Unbalanced code (a scanner miss) must not derail the rest: pop to the matching kind.
      let k = stack.length - 1;
      while (k >= 0 && code[stack[k]] !== pairs[c]) k--;
      if (k < 0) continue;
      const open = stack[k];
      stack.length = k;
      match.set(open, i);
      match.set(i, open);
    }
  }
  return match;
}

/**
 * The tokens before offset `at`, nearest first, up to a statement boundary: words, single
 * punctuation (=> -> :: as one), and bracket groups as one token ("()", "[]", "{}") with the
 * offset of their opening bracket.
 */
function tokensBefore(code, at, match, limit = 40) {
  const tokens = [];
  let i = at - 1;
  const nextSignificant = (k) => {
    while (k < code.length && /\s/.test(code[k])) k++;
    return code[k];
  };
  while (i >= 0 && tokens.length < limit) {
    const c = code[i];
    if (/\s/.test(c)) { i--; continue; }
    // A `}` followed by one of these closes a group inside a header: a C++ initializer `b_{y},` or a
    // TypeScript object type `): { a: T } | { b: U }[] {`, not a previous statement.
    if (c === ")" || c === "]" || (c === "}" && [",", "{", "|", "&", "[", ">"].includes(nextSignificant(i + 1)))) {
      const open = match.get(i);
      if (open === undefined) break;
      tokens.push({ t: c === ")" ? "()" : c === "]" ? "[]" : "{}", pos: open });
      i = open - 1;
      continue;
    }
    if (c === ";" || c === "{" || c === "}" || c === "(" || c === "[") break;
    if (/[A-Za-z0-9_$#~]/.test(c)) {
      let j = i;
      while (j >= 0 && /[A-Za-z0-9_$#~]/.test(code[j])) j--;
      tokens.push({ t: code.slice(j + 1, i + 1), pos: j + 1 });
      i = j;
      continue;
    }
    const two = code.slice(i - 1, i + 1);
    if (two === "=>" || two === "->" || two === "::" || two === "&&") {
      tokens.push({ t: two, pos: i - 1 });
      i -= 2;
      continue;
    }
    tokens.push({ t: c, pos: i });
    i--;
  }
  return tokens;
}

const isName = (t) => /^[A-Za-z_$#~][A-Za-z0-9_$#~]*$/.test(t);

/** Skips a <...> template / generic argument list ending at tokens[k] (a ">"); returns the index after it. */
function skipAngles(tokens, k) {
  let depth = 0;
  for (; k < tokens.length; k++) {
    if (tokens[k].t === ">") depth++;
    else if (tokens[k].t === "<") depth--;
    if (depth === 0) return k + 1;
  }
  return k;
}

/** A C++ qualified name ending at tokens[k] (A::B::name, ~Name, operator==); returns [name, first token index]. */
function cppName(tokens, k) {
  let name = tokens[k].t;
  let first = k;
  while (tokens[first + 1]?.t === "::" && tokens[first + 2] && isName(tokens[first + 2].t)) {
    name = `${tokens[first + 2].t}::${name}`;
    first += 2;
  }
  return [name, first];
}

/**
 * What the `{` at `open` begins: {kind: "function"|"lambda"|"arrow", name, startPos} or
 * {kind: "class", name} or null.
 */
function classifyBrace(code, open, match, lang) {
  let T = tokensBefore(code, open, match);
  if (T.length === 0) return null;
  const classAt = T.slice(0, 8).findIndex((tok) => tok.t === "class" || tok.t === "struct");
  if (classAt > 0 && !T.slice(0, classAt).some((tok) => tok.t === "()")) return { kind: "class", name: T[classAt - 1].t };
  if (lang === "js") return classifyJs(T);
  return classifyCpp(T);
}

function classifyJs(T) {
  if (T[0].t === "=>") {
    const params = T[1];
    if (!params) return null;
    let k = 2;
    if (T[k]?.t === "async") k++;
    let name = null;
    let startPos = params.pos;
    if ((T[k]?.t === "=" || T[k]?.t === ":") && T[k + 1] && isName(T[k + 1].t) && T[k + 2]?.t !== "?") {
      name = T[k + 1].t;
      startPos = T[k + 1].pos;
    }
    return { kind: "arrow", name, startPos };
  }
  // A body follows `)`, or a return type's last token; after `:`, `|`, `=`, `,`... a `{` opens an
  // object or an object type.
  if (!(["()", "[]", "{}", ">"].includes(T[0].t) || isName(T[0].t))) return null;
  // A TypeScript return type: `(...): Type {`.
  const colon = T.slice(0, 16).findIndex((tok, k) => tok.t === ":" && T[k + 1]?.t === "()");
  if (colon >= 0) T = T.slice(colon + 1);
  if (T[0].t !== "()") return null;
  let k = 1;
  if (T[k]?.t === ">") k = skipAngles(T, k);
  const word = T[k];
  if (!word) return null;
  if (word.t === "function") return { kind: "function", name: null, startPos: word.pos };
  if (word.t === "*" && T[k + 1]?.t === "function") return { kind: "function", name: null, startPos: T[k + 1].pos };
  if (word.t === "[]") return { kind: "function", name: "[computed]", startPos: word.pos };
  if (!isName(word.t) || CONTROL_WORDS.has(word.t)) return null;
  if (T[k + 1]?.t === ".") return null; // a call such as a.b(c) {: not a definition
  let startPos = word.pos;
  for (let m = k + 1; m < T.length && ["function", "async", "static", "get", "set", "*", "public", "private", "protected", "override", "export", "default"].includes(T[m].t); m++) startPos = T[m].pos;
  return { kind: "function", name: word.t, startPos };
}

function classifyCpp(T) {
  if (T[0].t === "[]") {
    const before = T[1]?.t;
    if (before === undefined || ["=", ",", "return", "(", "?", ":", "{}"].includes(before) || !isName(before) && before !== "()" && before !== "[]") {
      return { kind: "lambda", name: null, startPos: T[0].pos };
    }
    return null;
  }
  let k = 0;
  // Trailing return type `-> T`, qualifiers, and a constructor's initializer list `) : a_(x), b_{y}`.
  const arrow = T.slice(0, 12).findIndex((tok) => tok.t === "->");
  if (arrow >= 0) k = arrow + 1;
  else if (isName(T[0].t) && !CPP_SPECIFIERS.has(T[0].t)) return null; // a brace initializer: w_{v}, Foo{...}
  const init = T.slice(k, k + 30).findIndex((tok, m) => tok.t === ":" && T[k + m + 1]?.t !== ":" && (T[k + m + 1]?.t === "()" || CPP_SPECIFIERS.has(T[k + m + 1]?.t)));
  if (init >= 0 && T.slice(k, k + init).every((tok) => isName(tok.t) || ["()", "{}", ",", "::", "<", ">"].includes(tok.t))) k += init + 1;
  while (T[k] && (CPP_SPECIFIERS.has(T[k].t) || (T[k].t === "()" && T[k + 1]?.t === "noexcept"))) k += T[k].t === "()" ? 2 : 1;
  if (T[k]?.t !== "()") return null;
  k++;
  if (T[k]?.t === "[]") return { kind: "lambda", name: null, startPos: T[k].pos };
  if (T[k]?.t === ">") {
    // A lambda with a template parameter list, or a specialization f<int>(...).
    const after = skipAngles(T, k);
    if (T[after]?.t === "[]") return { kind: "lambda", name: null, startPos: T[after].pos };
    k = after;
  }
  const operatorAt = T.slice(k, k + 4).findIndex((tok) => tok.t === "operator");
  if (operatorAt >= 0) {
    const symbol = T.slice(k, k + operatorAt).reverse().map((tok) => tok.t).join("");
    const [scope, first] = T[k + operatorAt + 1]?.t === "::" ? cppName(T, k + operatorAt + 2) : ["", 0];
    return { kind: "function", name: `${scope ? `${scope}::` : ""}operator${symbol}`, startPos: T[first || k + operatorAt].pos };
  }
  const word = T[k];
  if (!word || !isName(word.t) || CONTROL_WORDS.has(word.t)) return null;
  if (T[k + 1]?.t === "." || T[k + 1]?.t === "->" || T[k + 1]?.t === "=") return null; // a call, not a definition
  const [name, first] = cppName(T, k);
  return { kind: "function", name, startPos: T[first].pos };
}

/**
 * Every function of one source text.
 * @param {string} src @param {"cpp" | "js"} lang
 * @returns {{name: string, kind: string, start: number, end: number, lines: number}[]}
 */
export function functionsOf(src, lang) {
  const code = blankNonCode(src, lang);
  const match = matchBrackets(code);
  const lineOf = [];
  let line = 1;
  for (let i = 0; i < code.length; i++) {
    lineOf.push(line);
    if (code[i] === "\n") line++;
  }
  const found = [];
  const scopes = []; // open braces that are functions or classes, with their close
  for (let open = 0; open < code.length; open++) {
    if (code[open] !== "{" || !match.has(open)) continue;
    const close = match.get(open);
    while (scopes.length && scopes[scopes.length - 1].close < open) scopes.pop();
    const what = classifyBrace(code, open, match, lang);
    if (!what) continue;
    if (what.kind === "class") {
      scopes.push({ close, className: what.name });
      continue;
    }
    const enclosing = [...scopes].reverse();
    const outerFunction = enclosing.find((s) => s.fn)?.fn;
    const className = enclosing[0]?.className;
    const sep = lang === "cpp" ? "::" : ".";
    let name = what.name;
    if (name && className && !name.includes("::")) name = `${className}${sep}${name}`;
    if (!name) name = `<${what.kind}${outerFunction ? ` in ${outerFunction.name}` : ""}>`;
    const fn = { name, kind: what.kind, start: lineOf[what.startPos], end: lineOf[close] };
    fn.lines = fn.end - fn.start + 1;
    found.push(fn);
    scopes.push({ close, fn });
  }
  return found;
}

function sourceFiles(root) {
  const files = [];
  for (const { dir, lang } of SOURCE_DIRS) {
    let entries;
    try {
      entries = readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const full = path.join(e.parentPath ?? e.path, e.name);
      if (e.isFile() && EXTENSIONS[lang].some((x) => e.name.endsWith(x)) && !e.name.endsWith(".d.ts") && !full.includes(`${path.sep}node_modules${path.sep}`)) {
        files.push({ file: path.relative(root, full), lang });
      }
    }
  }
  return files.sort((a, b) => a.file.localeCompare(b.file));
}

/** Every function of the product code, longest first. */
export function listFunctions(root = ROOT) {
  const all = sourceFiles(root).flatMap(({ file, lang }) =>
    functionsOf(readFileSync(path.join(root, file), "utf8"), lang).map((f) => ({ file, ...f })));
  return all.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.start - b.start);
}

function main(argv) {
  let max = null;
  let top = Infinity;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--max") max = Number(argv[++i]);
    else if (argv[i] === "--top") top = Number(argv[++i]);
    else if (argv[i] === "--json") json = true;
    else if (argv[i] === "--help" || argv[i] === "-h") {
      console.log("usage: node scripts/function-lengths.mjs [--max N] [--top N] [--json]");
      return 0;
    } else {
      console.error(`function-lengths: unknown argument ${argv[i]}`);
      return 2;
    }
  }
  if (max !== null && !Number.isInteger(max)) {
    console.error("function-lengths: --max needs a whole number");
    return 2;
  }
  const all = listFunctions();
  const shown = (max === null ? all : all.filter((f) => f.lines > max)).slice(0, top);
  if (json) console.log(JSON.stringify(shown, null, 2));
  else for (const f of shown) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.start}  ${f.name}`);
  if (max !== null) {
    console.error(shown.length ? `function-lengths: ${all.filter((f) => f.lines > max).length} of ${all.length} functions are longer than ${max} lines` : `function-lengths: all ${all.length} functions are at most ${max} lines`);
    return shown.length ? 1 : 0;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) process.exitCode = main(process.argv.slice(2));
