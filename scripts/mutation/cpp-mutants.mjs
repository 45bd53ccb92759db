#!/usr/bin/env node
// Mutation testing for the C++ routing core (npm run mutation:cpp).
//
// A lexer-level tool (no parser, no dependencies): it reads the routing sources, makes one small
// change at a time (a "mutant"), rebuilds the GoogleTest binary in a scratch copy of the tree and
// runs it. A mutant the tests notice (a failing test, a crash, a timeout) is killed; one they do
// not notice survived and marks behaviour no test pins down. Mutants that do not compile are
// reported as "compile error" and left out of the score, as Stryker does.
//
//   score = (killed + timed out) / (killed + timed out + survived)
//
// Sources: cpp/src/routing/{balancer,health_tracker,retry_policy,backend_set,exchange,router}, cpp/src/api/retry_after
// .cpp and their .hpp files. Only code inside function bodies is mutated (in headers that is the
// inline functions; default arguments, member initializers and namespace-scope constants are
// left alone).
//
// Operators (name: what it does), applied in this order to every token, so the mutant list and
// its ids are the same for the same sources:
//   ror           relational operator replacement (Stryker's EqualityOperator, mull's cxx_*_to_*):
//                 <  -> >=    <= -> >    >  -> <=    >= -> <    == -> !=    != -> ==
//   boundary      boundary shift:   <  -> <=    <= -> <    >  -> >=    >= -> >
//   logical       logical connector replacement:   && -> ||    || -> &&
//   negate-remove removes a unary negation:   !x -> x
//   negate-insert negates the condition of an if / while:   if (c) -> if (!(c))
//                 (not when the condition declares a variable)
//   arithmetic    binary + <-> -, * <-> /, % -> *, and += <-> -=, *= <-> /=
//                 (not unary signs, pointer declarators, or + next to a string literal)
//   increment     ++ <-> -- (prefix and postfix)
//   boolean       true <-> false
//   constant      the literals 0 <-> 1 (and 0.0 <-> 1.0)
//   remove-call   deletes a statement that is only a call whose value is unused
//                 (`x.refresh(now);` -> `;`); calls to reserve/shrink_to_fit are skipped (they
//                 only change capacity, never behaviour)
// Never mutated: comments, string and character literals, preprocessor lines (#include ...),
// template angle brackets (static_cast<T>, std::vector<T> ...), ->, <<, >>, operator names.
//
// Each mutant is applied alone to a scratch tree under build/mutation/cpp/tree-N (one per job),
// built there (Debug, -O0: only that translation unit recompiles, then the link), and the test
// binary router_tests runs directly (--gtest_fail_fast) under a timeout (default 20 x the
// unmutated run, at least 20 s) and a memory limit; then the file is restored. The scratch builds
// add -D_GLIBCXX_ASSERTIONS, so an out-of-range access a mutant causes aborts the tests. Reports: build/mutation/cpp-report.json and cpp-report.md.
//
// Usage: node scripts/mutation/cpp-mutants.mjs [options]   (see --help)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC_DIR = 'cpp/src';
const ROUTING_SOURCES = [
  'routing/balancer.cpp', 'routing/health_tracker.cpp', 'routing/retry_policy.cpp', 'api/retry_after.cpp',
  'routing/backend_set.cpp', 'routing/exchange.cpp', 'routing/router.cpp',
];
const ROUTING_HEADERS = ROUTING_SOURCES.map((f) => f.replace(/\.cpp$/, '.hpp'));

const OPERATORS = [
  ['ror', 'relational operator replacement: < -> >=, <= -> >, > -> <=, >= -> <, == -> !=, != -> =='],
  ['boundary', 'boundary shift: < -> <=, <= -> <, > -> >=, >= -> >'],
  ['logical', 'logical connector replacement: && <-> ||'],
  ['negate-remove', 'removes a unary negation: !x -> x'],
  ['negate-insert', 'negates an if / while condition: if (c) -> if (!(c))'],
  ['arithmetic', 'binary + <-> -, * <-> /, % -> *; += <-> -=, *= <-> /='],
  ['increment', '++ <-> --'],
  ['boolean', 'true <-> false'],
  ['constant', 'literal 0 <-> 1 (0.0 <-> 1.0)'],
  ['remove-call', 'deletes a statement that is only a call whose value is unused (not reserve/shrink_to_fit)'],
];
const OPERATOR_NAMES = OPERATORS.map(([name]) => name);

// Survivors judged by hand after a full run: the same mutant in a later run is listed with this
// verdict and reason (it still counts as survived in the score). Matched on file, operator,
// original -> replacement and the trimmed source line, so line shifts do not lose them.
// verdict: "equivalent" (no observable behaviour changes) or "accepted" (observable only in a way
// the contract does not pin down, or not worth a test; the reason says which).
const KNOWN_SURVIVORS = [
  // [file, operator, original, replacement, trimmed source line, verdict, reason]
  ["balancer.cpp", "constant", "0.0", "1.0",
   "void Balancer::reset(size_t backends) { current_.assign(backends, 0.0); }",
   "equivalent", "every position starts at the same value either way; only their differences decide"],
  ["balancer.cpp", "negate-insert", "strategy_ == Strategy::RoundRobin", "!(strategy_ == Strategy::RoundRobin)",
   "if (strategy_ == Strategy::RoundRobin) return pick_round_robin(candidates);",
   "equivalent", "a lone candidate is picked either way; for round-robin it adds and subtracts the same weight, so no state moves"],
  ["balancer.cpp", "ror", "==", "!=",
   "if (strategy_ == Strategy::RoundRobin) return pick_round_robin(candidates);",
   "equivalent", "a lone candidate is picked either way; for round-robin it adds and subtracts the same weight, so no state moves"],
  ["balancer.cpp", "constant", "1", "0",
   "size_t n = current_.empty() ? 1 : current_.size();",
   "equivalent", "unreachable: rotated() runs only after pick_round_robin() sized the state for the candidates"],
  ["balancer.cpp", "arithmetic", "+", "-",
   "return (index + n - offset_ % n) % n;",
   "equivalent", "ties are still broken along a seed-dependent rotation (another offset); which backend a given seed starts on is not part of the contract"],
  ["balancer.cpp", "arithmetic", "-", "+",
   "return (index + n - offset_ % n) % n;",
   "equivalent", "ties are still broken along a seed-dependent rotation (another offset); which backend a given seed starts on is not part of the contract"],
  ["balancer.cpp", "constant", "0.0", "1.0",
   "if (c.index >= current_.size()) current_.resize(c.index + 1, 0.0);",
   "equivalent", "the Router resets the balancer to the backend count before any pick; in a fresh balancer every new position starts at the same value either way"],
  ["balancer.cpp", "ror", "<", ">=",
   "(current_[c.index] == current_[best->index] && rotated(c.index) < rotated(best->index)))",
   "equivalent", "ties then go round the same seed-dependent rotation the other way: still plain round-robin from a random offset"],
  ["balancer.cpp", "boundary", "<", "<=",
   "(current_[c.index] == current_[best->index] && rotated(c.index) < rotated(best->index)))",
   "equivalent", "the rotated positions of distinct backends differ, so <= and < agree"],
  ["balancer.cpp", "boundary", "<", "<=",
   "return static_cast<double>(y.in_flight) * x.weight < static_cast<double>(x.in_flight) * y.weight ? y.index : x.index;",
   "equivalent", "the two candidates are a symmetric random pair: which one wins a tie changes no distribution"],
  ["health_tracker.cpp", "boundary", ">", ">=",
   "if (h.state != BackendState::Cooldown || until > h.cooldown_until) h.cooldown_until = until;",
   "equivalent", "an equal end replaces the cooldown end with the same value"],
  ["health_tracker.cpp", "boundary", ">", ">=",
   "if (h.times_ejected > 0 && h.returned_at > 0 && now - h.returned_at >= config_.max_ejection_ms)",
   "equivalent", "times_ejected >= 0 only adds resetting a count that is 0 already; returned_at > 0 vs >= 0: returned_at is an epoch-ms time whenever times_ejected > 0"],
  ["health_tracker.cpp", "constant", "0", "1",
   "if (h.times_ejected > 0 && h.returned_at > 0 && now - h.returned_at >= config_.max_ejection_ms)",
   "equivalent", "returned_at is an epoch-ms time (> 1) whenever times_ejected > 0: the backend returned through refresh()"],
  ["health_tracker.cpp", "constant", "0", "1",
   "return h.state == BackendState::Ejected ? h.ejected_until : h.state == BackendState::Cooldown ? h.cooldown_until : 0;",
   "equivalent", "until() of a backend neither ejected nor cooling down is never read (next_return() and /status ask only for unhealthy ones)"],
  ["health_tracker.cpp", "boundary", "<", "<=",
   "if (best < 0 || u < best) best = u;",
   "equivalent", "best is -1 or an epoch-ms time, never in [0, 1]; a tie keeps the same value"],
  ["health_tracker.cpp", "constant", "0", "1",
   "if (best < 0 || u < best) best = u;",
   "equivalent", "best is -1 or an epoch-ms time, never in [0, 1]"],
  ["health_tracker.cpp", "boundary", "<", "<=",
   "return best < 0 ? now : best;",
   "equivalent", "best is -1 or an epoch-ms time, never in [0, 1]"],
  ["health_tracker.cpp", "constant", "0", "1",
   "return best < 0 ? now : best;",
   "equivalent", "best is -1 or an epoch-ms time, never in [0, 1]"],
  ["retry_policy.cpp", "boundary", ">", ">=",
   "uint32_t exponent = revisit > 0 ? std::min<uint32_t>(revisit - 1, 30) : 0;",
   "equivalent", "backoff_ms() is called with revisit >= 1 only (RetryState counts revisits from 1)"],
  ["retry_policy.cpp", "constant", "0", "1",
   "uint32_t exponent = revisit > 0 ? std::min<uint32_t>(revisit - 1, 30) : 0;",
   "equivalent", "revisit 1 gives exponent 0 on both branches; revisit 0 never happens (RetryState counts revisits from 1)"],
  ["retry_policy.cpp", "boundary", "<", "<=",
   "if (backend < tried_.size()) tried_[backend] = true;",
   "equivalent", "sets a bit past size() inside the vector<bool> storage word; tried() never reads past size()"],
  ["retry_policy.cpp", "constant", "0", "1",
   "trace_.push_back({backend, AttemptOutcome::Answered, 0});",
   "equivalent", "the status of an attempt still running is never read: traces are written after the outcome"],
  ["retry_policy.cpp", "constant", "0", "1",
   "last.status = outcome == AttemptOutcome::Answered ? status : 0;",
   "equivalent", "the status of a thrown or timed-out attempt is never read: the trace says \"failed (threw)\" / \"timed out\""],
  ["retry_policy.cpp", "boundary", ">=", ">",
   "if (retry_after_ms >= 0 && last.backend < retry_at_.size()) retry_at_[last.backend] = now + retry_after_ms;",
   "equivalent", "a Retry-After of 0 recorded as \"not before now\" or not at all: a start is never before now anyway"],
  ["retry_policy.cpp", "constant", "0", "1",
   "if (retry_after_ms >= 0 && last.backend < retry_at_.size()) retry_at_[last.backend] = now + retry_after_ms;",
   "accepted", "differs only for a Retry-After below 1 ms"],
  ["retry_after.cpp", "boundary", ">", ">=",
   "if (s.empty() || s.size() > 15) return std::nullopt;",
   "accepted", "only a Retry-After number of exactly 15 characters differs; the cap is an internal bound, not a contract value"],
  ["retry_after.cpp", "arithmetic", "+", "-",
   "if (pos + count > s.size()) return false;",
   "equivalent", "the 29-character layout is checked first and every field lies inside it: this bound never trips"],
  ["retry_after.cpp", "boundary", ">", ">=",
   "if (pos + count > s.size()) return false;",
   "equivalent", "the 29-character layout is checked first and every field lies inside it: this bound never trips"],
  ["retry_after.cpp", "boolean", "false", "true",
   "if (pos + count > s.size()) return false;",
   "equivalent", "the 29-character layout is checked first and every field lies inside it: this bound never trips"],
  ["retry_after.cpp", "boundary", ">=", ">",
   "int64_t era = (y >= 0 ? y : y - 399) / 400;",
   "equivalent", "for y == 0 both branches give era 0 ((0 - 399) / 400 truncates to 0)"],
  ["retry_after.cpp", "constant", "0", "1",
   "int64_t era = (y >= 0 ? y : y - 399) / 400;",
   "equivalent", "for y == 0 both branches give era 0 ((0 - 399) / 400 truncates to 0)"],
  ["retry_after.cpp", "boundary", "<", "<=",
   "for (int i = 0; i < 12; ++i)",
   "accepted", "compares one element past the month table after all twelve were compared (undefined behaviour with no effect in this build; a bounds sanitizer would catch it)"],
  ["retry_after.cpp", "boundary", ">", ">=",
   "if (auto date = parse_imf_fixdate(retry_after)) return *date > now ? *date - now : 0.0;",
   "equivalent", "a date equal to now gives a 0 ms wait either way"],
  ["backend_set.cpp", "boundary", ">", ">=",
   "if (n.size() > kBindingPrefix.size() && n.compare(0, kBindingPrefix.size(), kBindingPrefix) == 0)",
   "accepted", "a binding named exactly BACKEND_ (no suffix): the contract says every name starting with BACKEND_, the core ignores the bare prefix; an ambiguity reported, not pinned by a test"],
  ["backend_set.cpp", "constant", "1", "0",
   "for (size_t i = 1; i < names.size(); ++i)",
   "equivalent", "insertion sort from i = 0 does nothing for i = 0"],
  ["backend_set.cpp", "boundary", "<", "<=",
   "for (size_t j = i; j > 0 && names[j] < names[j - 1]; --j) names[j].swap(names[j - 1]);",
   "equivalent", "swapping two equal names changes nothing (duplicates are removed next)"],
  ["backend_set.cpp", "constant", "0", "1",
   "cursor_ = 0;",
   "accepted", "only which backends the first describe() batch of a new list holds; every backend is still handed out (Discovery tests)"],
  ["backend_set.cpp", "constant", "0", "1",
   "earliest_due_ = 0;",
   "equivalent", "no clock reads 1 ms after the epoch: a new list is due at once either way"],
  ["backend_set.cpp", "boundary", ">", ">=",
   "if (problem.size() > 200) problem.resize(200);  // a log line, not a dump",
   "equivalent", "cutting a 200-byte problem to 200 bytes changes nothing"],
  ["backend_set.cpp", "remove-call", "described_[i].describe_error.clear();", ";",
   "described_[i].describe_error.clear();",
   "equivalent", "the stored description's describe_error is never read: apply_overrides() and apply_one() overwrite it"],
  ["backend_set.cpp", "constant", "0", "1",
   "s.pending_until = 0;",
   "equivalent", "pending_until 1 ms after the epoch is as past as 0"],
  ["backend_set.cpp", "boolean", "false", "true",
   "if (!parsed.ok) return false;",
   "equivalent", "a failed parse leaves a null root, refused next as neither array nor object"],
  ["backend_set.cpp", "arithmetic", "+", "-",
   "const size_t i = (cursor_ + k) % n;",
   "accepted", "only the order in which take_due() walks the backends; pending and not-due ones are skipped, so each backend is still handed out once per round"],
  ["backend_set.cpp", "arithmetic", "+", "-",
   "if (!out.empty()) cursor_ = (out.back() + 1) % n;",
   "accepted", "only where the next take_due() starts; pending and not-due ones are skipped, so each backend is still handed out once per round"],
  ["backend_set.cpp", "constant", "1", "0",
   "if (!out.empty()) cursor_ = (out.back() + 1) % n;",
   "accepted", "only where the next take_due() starts; pending and not-due ones are skipped, so each backend is still handed out once per round"],
  ["backend_set.cpp", "arithmetic", "%", "*",
   "if (!out.empty()) cursor_ = (out.back() + 1) % n;",
   "accepted", "only where the next take_due() starts; pending and not-due ones are skipped, so each backend is still handed out once per round"],
  ["exchange.cpp", "boundary", "<=", "<",
   "if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');",
   "equivalent", "'Z' never matters: json_media_type() compares only 'application', 'json' and '+json'"],
  ["exchange.cpp", "boundary", ">", ">=",
   "return slash != std::string::npos && type.size() > 5 && type.compare(type.size() - 5, 5, \"+json\") == 0 &&",
   "equivalent", "a 5-character media type cannot hold both a '/' and '+json'"],
  ["exchange.cpp", "logical", "||", "&&",
   "if (s.empty() || s.size() > 15) return std::nullopt;",
   "accepted", "the 15-digit Content-Length cap only decides 400 vs 413 (or acceptance) for absurd lengths"],
  ["exchange.cpp", "boundary", ">", ">=",
   "if (s.empty() || s.size() > 15) return std::nullopt;",
   "accepted", "the 15-digit Content-Length cap only decides 400 vs 413 (or acceptance) for absurd lengths"],
  ["exchange.cpp", "boundary", "<", "<=",
   "if (v < 0) v = 0;",
   "equivalent", "integer_text() never gets a negative number, and truncation gives 0 below 1 anyway"],
  ["exchange.cpp", "constant", "0", "1",
   "if (v < 0) v = 0;",
   "equivalent", "integer_text() never gets a negative number, and truncation gives 0 below 1 anyway"],
  ["exchange.cpp", "boundary", ">", ">=",
   "if (v.empty() || v.size() > 256) return false;",
   "accepted", "only a passed-on header value of exactly 256 bytes differs"],
  ["exchange.cpp", "boundary", ">", ">=",
   "if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;",
   "accepted", "only a passed-on header value holding '~' differs"],
  ["exchange.cpp", "constant", "0.0", "1.0",
   "a.timeout_ms = std::max(0.0, std::min(kRateLimitTimeoutMs, retry_.deadline() - now));",
   "equivalent", "the deadline is always after begin (requestMs > 0): the RateLimit timeout is > 0 either way"],
  ["exchange.cpp", "logical", "||", "&&",
   "if (v.error || !v.request) {",
   "equivalent", "validate_request() returns exactly one of request / error (a fuzzed invariant)"],
  ["exchange.cpp", "boundary", ">=", ">",
   "if (!(seconds >= 1)) seconds = 1;",
   "equivalent", "every retry time given to unavailable() is after now, so ceil() is already >= 1"],
  ["exchange.cpp", "constant", "1", "0",
   "if (!(seconds >= 1)) seconds = 1;",
   "equivalent", "every retry time given to unavailable() is after now, so ceil() is already >= 1"],
  ["exchange.cpp", "remove-call", "router_.health().refresh(now);", ";",
   "router_.health().refresh(now);",
   "equivalent", "health decisions use the time (state()); refresh() only updates bookkeeping (streak reset, return log) that begin() and attempt_finished() refresh again before it is used"],
  ["exchange.cpp", "arithmetic", "+", "-",
   "return unavailable(\"The backends are still being discovered; try again shortly\", now + 1000, now);",
   "equivalent", "now + 1000 and now - 1000 both give Retry-After 1 (at least 1)"],
  ["exchange.cpp", "arithmetic", "+", "-",
   "now + BackendSet::kFailedDescribeRetryMs, now);",
   "accepted", "the Retry-After hint after a failed discovery (5 s vs 1 s) is not specified"],
  ["exchange.cpp", "arithmetic", "+", "-",
   "if (!chosen) return unavailable(\"No backend available\", now + 1000, now);",
   "equivalent", "unreachable: pick() never fails on a non-empty candidate list"],
  ["exchange.cpp", "boundary", ">=", ">",
   "if (now >= retry_.deadline()) return deadline_exceeded();",
   "equivalent", "at exactly the deadline the same 504 follows: call() checks the deadline itself, and every caller of call() checks it first"],
  ["exchange.cpp", "constant", "1", "0",
   "status == 429 ? capped : -1);",
   "equivalent", "the cooldown argument is read only for a 429"],
  ["exchange.cpp", "boolean", "false", "true",
   "bool revisit = false;",
   "equivalent", "pool() always sets revisit"],
  ["exchange.cpp", "boundary", "<", "<=",
   "trace += r.backend < backends.size() ? backends[r.backend].binding : std::string(\"?\");",
   "equivalent", "trace entries always name a backend in range"],
  ["exchange.cpp", "remove-call", "release_retry();", ";",
   "release_retry();",
   "equivalent", "every give_up() comes after outcome() released the retry"],
  ["router.cpp", "boundary", "<", "<=",
   "candidates.push_back({i, backends_[i].weight, i < health_.size() ? health_[i].in_flight : 0});",
   "equivalent", "health has exactly one entry per backend"],
  ["router.cpp", "constant", "0", "1",
   "candidates.push_back({i, backends_[i].weight, i < health_.size() ? health_[i].in_flight : 0});",
   "equivalent", "health has exactly one entry per backend"],
  ["router.cpp", "constant", "0", "1",
   "double created = backends_.described() ? std::floor(backends_.described_at() / 1000) : 0;",
   "accepted", "created of a model listed before any describe() answer (an override's models only): 0 vs 1 is not specified"],
  ["retry_policy.hpp", "boundary", "<", "<=",
   "double cap_retry_after(double ms) const { return ms < retry_.retry_after_cap_ms ? ms : retry_.retry_after_cap_ms; }",
   "equivalent", "at the cap both give the cap"],
  ["retry_policy.hpp", "boundary", "<", "<=",
   "bool tried(uint32_t backend) const { return backend < tried_.size() && tried_[backend]; }",
   "equivalent", "reads a bit past size() inside the vector<bool> storage word, which nothing sets"],
  ["backend_set.hpp", "constant", "0", "1",
   "double described_at() const { return described_at_.value_or(0); }",
   "equivalent", "described_at() is read only when described()"],
].map(([file, operator, original, replacement, source, verdict, reason]) =>
  ({ file, operator, original, replacement, source, verdict, reason }));

const HELP = `Mutation testing for the C++ routing core.

Usage: node scripts/mutation/cpp-mutants.mjs [options]
       npm run mutation:cpp -- [options]

Mutates ${ROUTING_SOURCES.join(', ')}
(and the inline functions of their headers) one change at a time, rebuilds router_tests in a
scratch tree under build/mutation/cpp/ and runs it. Reports: build/mutation/cpp-report.{json,md}.

Options:
  --jobs N          scratch trees / mutants run in parallel (default 2)
  --file NAME       only this source (balancer, balancer.cpp, exchange.hpp ...); repeatable or
                    comma-separated
  --operator NAME   only these operators (comma-separated); see below
  --ids LIST        only the mutants with these ids (comma-separated, ranges a-b; see --list)
  --limit N         an evenly spaced sample of N of the selected mutants
  --sample F        a random sample, fraction F (0..1] of the selected mutants; --seed S (default 1)
  --no-headers      leave the .hpp files out
  --timeout S       seconds router_tests may run per mutant; a timeout counts as killed
                    (default: 20 x the unmutated run, at least 20 s)
  --list            print the selected mutants and exit (no build)
  --break SCORE     exit 1 when the score is below SCORE (percent)
  --help            this text

Operators:
${OPERATORS.map(([n, d]) => `  ${n.padEnd(14)}${d}`).join('\n')}
Never mutated: comments, string/char literals, preprocessor lines, template angle brackets,
->, <<, >>, operator names, code outside function bodies. A mutant that does not compile is a
"compile error" and is left out of the score; a test timeout counts as killed.
Score = (killed + timeout) / (killed + timeout + survived).
`;

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const opts = {
    jobs: 2, files: [], operators: null, ids: null, limit: null, sample: null, seed: 1, headers: true,
    timeout: null, list: false, breakAt: null,
  };
  const need = (i, name) => {
    if (i + 1 >= argv.length) fail(`${name} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, null];
    const value = () => (inline !== null ? inline : need(i++, flag));
    switch (flag) {
      case '--help': case '-h': process.stdout.write(HELP); process.exit(0); break;
      case '--jobs': case '-j': opts.jobs = positiveInt(value(), flag); break;
      case '--file': opts.files.push(...value().split(',').filter(Boolean)); break;
      case '--operator': case '--operators': {
        opts.operators = value().split(',').filter(Boolean);
        for (const o of opts.operators) if (!OPERATOR_NAMES.includes(o)) fail(`unknown operator ${o}`);
        break;
      }
      case '--ids': opts.ids = parseIds(value()); break;
      case '--limit': opts.limit = positiveInt(value(), flag); break;
      case '--sample': {
        opts.sample = Number(value());
        if (!(opts.sample > 0 && opts.sample <= 1)) fail('--sample takes a fraction in (0, 1]');
        break;
      }
      case '--seed': opts.seed = positiveInt(value(), flag); break;
      case '--no-headers': opts.headers = false; break;
      case '--timeout': opts.timeout = positiveInt(value(), flag); break;
      case '--list': opts.list = true; break;
      case '--break': opts.breakAt = Number(value()); break;
      default: fail(`unknown option ${a} (see --help)`);
    }
  }
  return opts;
}

function positiveInt(s, name) {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} takes a positive integer, not ${s}`);
  return n;
}

function parseIds(s) {
  const ids = new Set();
  for (const part of s.split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) fail(`bad id list ${s}`);
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    for (let i = a; i <= b; i++) ids.add(i);
  }
  return ids;
}

function fail(message) {
  process.stderr.write(`cpp-mutants: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Lexer: C++ tokens with their offsets. Comments, preprocessor lines and whitespace are dropped.

const PUNCTUATORS = [
  '...', '<=>', '<<=', '>>=', '->*', '::', '->', '++', '--', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '+=',
  '-=', '*=', '/=', '%=', '&=', '|=', '^=', '.*', '##',
];

function lex(src) {
  const toks = [];
  let i = 0;
  const n = src.length;
  let lineStart = true;  // only whitespace since the last newline
  const push = (t, a, b) => toks.push({ t, s: src.slice(a, b), a, b });
  while (i < n) {
    const c = src[i];
    if (c === '\n') { lineStart = true; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '#' && lineStart) {  // preprocessor line, with backslash continuations
      while (i < n && src[i] !== '\n') {
        if (src[i] === '\\' && src[i + 1] === '\n') i += 2;
        else if (src[i] === '/' && src[i + 1] === '*') i = skipBlockComment(src, i);
        else i++;
      }
      continue;
    }
    lineStart = false;
    if (c === '/' && src[i + 1] === '/') { while (i < n && src[i] !== '\n') i++; continue; }
    if (c === '/' && src[i + 1] === '*') { i = skipBlockComment(src, i); continue; }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_]/.test(src[i])) i++;
      const word = src.slice(start, i);
      if (src[i] === '"' && /^(u8|u|U|L)?R$/.test(word)) { i = skipRawString(src, i); push('string', start, i); continue; }
      if ((src[i] === '"' || src[i] === "'") && /^(u8|u|U|L)$/.test(word)) {
        i = skipQuoted(src, i);
        push(src[start + word.length] === '"' ? 'string' : 'char', start, i);
        continue;
      }
      push('ident', start, i);
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] || ''))) {
      const m = /^(?:[0-9]|\.[0-9])(?:[eEpP][+-]|[A-Za-z0-9_.']|'[0-9A-Fa-f])*/.exec(src.slice(i, i + 64));
      i += m[0].length;
      push('number', start, i);
      continue;
    }
    if (c === '"' || c === "'") {
      i = skipQuoted(src, i);
      while (i < n && /[A-Za-z0-9_]/.test(src[i])) i++;  // user-defined literal suffix ("x"sv)
      push(c === '"' ? 'string' : 'char', start, i);
      continue;
    }
    const p = PUNCTUATORS.find((q) => src.startsWith(q, i));
    i += p ? p.length : 1;
    push('punct', start, i);
  }
  return toks;
}

function skipBlockComment(src, i) {
  const end = src.indexOf('*/', i + 2);
  return end < 0 ? src.length : end + 2;
}

function skipQuoted(src, i) {
  const q = src[i];
  i++;
  while (i < src.length && src[i] !== q && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipRawString(src, i) {  // at the opening quote of R"delim( ... )delim"
  const open = src.indexOf('(', i);
  const delim = src.slice(i + 1, open);
  const end = src.indexOf(`)${delim}"`, open);
  return end < 0 ? src.length : end + delim.length + 2;
}

// ---------------------------------------------------------------------------------------------
// Token analysis: brackets, templates, function bodies.

const KNOWN_TEMPLATES = new Set([
  'static_cast', 'const_cast', 'reinterpret_cast', 'dynamic_cast', 'bit_cast', 'vector', 'optional', 'map',
  'unordered_map', 'set', 'unordered_set', 'unique_ptr', 'shared_ptr', 'make_unique', 'make_shared', 'array', 'pair',
  'tuple', 'variant', 'span', 'basic_string', 'basic_string_view', 'numeric_limits', 'initializer_list', 'function',
  'min', 'max', 'clamp', 'less', 'greater', 'hash', 'is_same_v', 'enable_if_t', 'decay_t', 'get', 'holds_alternative',
]);
// Words after which a token starts an operand rather than continuing one (so a following + or *
// is unary / a declarator).
const NOT_OPERAND_WORDS = new Set([
  'return', 'case', 'throw', 'else', 'do', 'new', 'delete', 'co_return', 'co_yield', 'sizeof', 'if', 'while', 'for',
  'switch', 'const', 'constexpr', 'static', 'typename', 'template', 'using', 'namespace', 'operator', 'default',
  'auto', 'void', 'char', 'int', 'double', 'float', 'bool', 'long', 'short', 'unsigned', 'signed', 'volatile',
]);
const TYPE_WORDS = new Set([
  'char', 'int', 'double', 'float', 'void', 'bool', 'auto', 'long', 'short', 'unsigned', 'signed', 'const',
]);
// First words that make a statement something other than a call expression.
const STATEMENT_KEYWORDS = new Set([
  'return', 'delete', 'throw', 'goto', 'break', 'continue', 'case', 'default', 'using', 'typedef', 'static_assert',
  'while', 'if', 'for', 'switch', 'else', 'do', 'new', 'sizeof', 'co_await', 'co_return', 'co_yield', 'const',
  'constexpr', 'static', 'auto', 'void', 'struct', 'class', 'enum', 'namespace', 'template', 'typename', 'operator',
  'try', 'catch', 'alignas', 'decltype', 'asm', 'inline', 'extern', 'friend', 'public', 'private', 'protected',
]);
const SKIPPED_CALLS = new Set(['reserve', 'shrink_to_fit']);

function analyse(toks) {
  const match = new Array(toks.length).fill(-1);
  const encl = new Array(toks.length).fill(-1);  // innermost open bracket around each token
  const stack = [];
  const pairs = { ')': '(', ']': '[', '}': '{' };
  for (let i = 0; i < toks.length; i++) {
    const s = toks[i].s;
    encl[i] = stack.length ? stack[stack.length - 1] : -1;
    if (toks[i].t !== 'punct') continue;
    if (s === '(' || s === '[' || s === '{') stack.push(i);
    else if (pairs[s]) {
      while (stack.length && toks[stack[stack.length - 1]].s !== pairs[s]) stack.pop();
      if (stack.length) {
        const o = stack.pop();
        match[o] = i;
        match[i] = o;
        encl[i] = stack.length ? stack[stack.length - 1] : -1;
      }
    }
  }

  // Template angle brackets: every < > >> inside a template argument list is marked.
  const inTemplate = new Uint8Array(toks.length);
  for (let i = 0; i < toks.length; i++) {
    if (toks[i].s !== '<' || inTemplate[i] || !isTemplateOpen(toks, i)) continue;
    let depth = 0;
    for (let j = i; j < toks.length; j++) {
      const s = toks[j].s;
      if (s === ';' || s === '{' || s === '}') break;
      inTemplate[j] = 1;
      if (s === '<') depth++;
      else if (s === '>') depth--;
      else if (s === '>>') depth -= 2;
      else if (s === '(' || s === '[') { for (let k = j; k <= match[j] && k >= 0; k++) inTemplate[k] = 1; j = Math.max(j, match[j]); }
      if (depth <= 0) break;
    }
  }

  // Function bodies: a { after ) (or after ) const / noexcept / override / final) at a place not
  // already inside a body, and everything inside it.
  const inBody = new Uint8Array(toks.length);
  for (let i = 0; i < toks.length; i++) {
    if (toks[i].s !== '{' || inBody[i] || match[i] < 0) continue;
    let p = i - 1;
    while (p >= 0 && ['const', 'noexcept', 'override', 'final', 'mutable'].includes(toks[p].s)) p--;
    if (p < 0 || toks[p].s !== ')') continue;
    for (let k = i + 1; k < match[i]; k++) inBody[k] = 1;
  }
  return { match, encl, inTemplate, inBody };
}

function isTemplateOpen(toks, i) {
  const prev = toks[i - 1];
  if (!prev) return false;
  if (prev.s === 'template') return true;
  if (prev.t !== 'ident' || prev.s === 'operator') return false;
  if (KNOWN_TEMPLATES.has(prev.s)) return true;
  // Otherwise only when a matching > follows with nothing but type-like tokens in between.
  let depth = 1;
  for (let j = i + 1; j < toks.length; j++) {
    const t = toks[j];
    if (t.s === '<') depth++;
    else if (t.s === '>') depth--;
    else if (t.s === '>>') depth -= 2;
    else if (!(t.t === 'ident' || t.t === 'number' || ['::', ',', '*', '&'].includes(t.s))) return false;
    if (depth <= 0) {
      const next = toks[j + 1];
      return !!next && (next.t === 'ident' || ['(', ')', '{', '::', ',', ';', '>', '>>', '&', '*', '...', '&&'].includes(next.s));
    }
  }
  return false;
}

// Whether toks[i] ends an operand (so a + - * after it is binary). The ) of an if / for / while /
// switch head does not: `for (...) *p += 1;` dereferences.
function isOperandEnd(toks, match, i) {
  const tok = toks[i];
  if (!tok) return false;
  if (tok.s === ')' && match[i] > 0 && ['if', 'for', 'while', 'switch'].includes(toks[match[i] - 1].s)) return false;
  if (tok.t === 'number' || tok.t === 'string' || tok.t === 'char') return true;
  if (tok.t === 'ident') return !NOT_OPERAND_WORDS.has(tok.s);
  return tok.s === ')' || tok.s === ']';
}

function typeLike(tok) {
  return !!tok && tok.t === 'ident' && (TYPE_WORDS.has(tok.s) || /_t$/.test(tok.s) || /^[A-Z]/.test(tok.s));
}

// ---------------------------------------------------------------------------------------------
// Mutant generation

const ROR = { '<': '>=', '<=': '>', '>': '<=', '>=': '<', '==': '!=', '!=': '==' };
const BOUNDARY = { '<': '<=', '<=': '<', '>': '>=', '>=': '>' };
const ARITH = { '+': '-', '-': '+', '*': '/', '/': '*', '%': '*', '+=': '-=', '-=': '+=', '*=': '/=', '/=': '*=' };
const CONSTANTS = { '0': '1', '1': '0', '0.0': '1.0', '1.0': '0.0' };

function generate(file, src) {
  const toks = lex(src);
  const { match, encl, inTemplate, inBody } = analyse(toks);
  const out = [];
  const add = (operator, a, b, replacement, original = src.slice(a, b), edits = [{ a, b, text: replacement }]) =>
    out.push({ file, operator, a, b, original, replacement, edits });

  for (let i = 0; i < toks.length; i++) {
    if (!inBody[i] || inTemplate[i]) continue;
    const t = toks[i];
    const prev = toks[i - 1];
    const next = toks[i + 1];
    if (prev && prev.s === 'operator') continue;
    if (t.t === 'punct') {
      const s = t.s;
      if (ROR[s]) add('ror', t.a, t.b, ROR[s]);
      if (BOUNDARY[s]) add('boundary', t.a, t.b, BOUNDARY[s]);
      if (s === '&&' && !(typeLike(prev) && next && next.t === 'ident')) add('logical', t.a, t.b, '||');
      if (s === '||') add('logical', t.a, t.b, '&&');
      if (s === '!') add('negate-remove', t.a, t.b, '', '!');
      if (ARITH[s] && arithmeticOk(s, prev, next, isOperandEnd(toks, match, i - 1))) add('arithmetic', t.a, t.b, ARITH[s]);
      if (s === '++' || s === '--') add('increment', t.a, t.b, s === '++' ? '--' : '++');
    } else if (t.t === 'ident') {
      if (t.s === 'true' || t.s === 'false') add('boolean', t.a, t.b, t.s === 'true' ? 'false' : 'true');
      if ((t.s === 'if' || t.s === 'while') && next && next.s === '(' && match[i + 1] > i + 2) {
        const open = i + 1;
        const close = match[open];
        if (!conditionDeclares(toks, match, open, close)) {
          const a = toks[open + 1].a;
          const b = toks[close - 1].b;
          add('negate-insert', a, b, `!(${src.slice(a, b)})`, src.slice(a, b),
            [{ a, b: a, text: '!(' }, { a: b, b, text: ')' }]);
        }
      }
      if (isStatementStart(toks, match, encl, i)) {
        const end = callStatementEnd(toks, match, inTemplate, i);
        if (end > 0) add('remove-call', t.a, toks[end].b, ';');
      }
    } else if (t.t === 'number' && CONSTANTS[t.s]) {
      add('constant', t.a, t.b, CONSTANTS[t.s]);
    }
  }
  return out;
}

function arithmeticOk(s, prev, next, afterOperand) {
  if (s.endsWith('=')) return !(s === '+=' && next && next.t === 'string');
  if (!afterOperand) return false;  // unary + - or a dereference
  if ((s === '+' || s === '-') && ((prev && prev.t === 'string') || (next && next.t === 'string'))) return false;
  if (s === '*' && typeLike(prev) && next && (next.t === 'ident' || [')', ',', '>', '&', '*', '{', '='].includes(next.s)))
    return false;  // a pointer declarator (`const Foo* p`)
  return true;
}

function conditionDeclares(toks, match, open, close) {
  // `if (auto x = f())`, `if (init; cond)`: negating the whole would not compile.
  for (let k = open + 1; k < close; k++) {
    const s = toks[k].s;
    if (s === '=' || s === ';') return true;
    if (s === '(' || s === '[' || s === '{') k = match[k] > 0 ? match[k] : k;
  }
  return false;
}

// Whether token i begins a statement (inside a block, not in a for header or an initializer).
function isStatementStart(toks, match, encl, i) {
  const e = encl[i];
  if (e < 0 || toks[e].s !== '{') return false;
  const p = toks[i - 1];
  if (!p) return false;
  if (p.s === ';' || p.s === '{' || p.s === '}' || p.s === 'else' || p.s === 'do') return true;
  if (p.s === ')' && match[i - 1] >= 1) return ['if', 'while', 'for'].includes(toks[match[i - 1] - 1].s);
  if (p.s === ':') {  // after a case / default label
    for (let k = i - 2; k >= 0; k--) {
      const s = toks[k].s;
      if (s === 'case' || s === 'default') return true;
      if (s === ';' || s === '{' || s === '}' || s === '?') return false;
    }
  }
  return false;
}

// When tokens from i form `a.b(...)->c(...)...;` (a call whose value nobody uses), the index of
// its ';', else -1.
function callStatementEnd(toks, match, inTemplate, i) {
  let j = i;
  if (toks[j].s === '::') j++;
  const first = toks[j];
  if (!first || first.t !== 'ident' || STATEMENT_KEYWORDS.has(first.s)) return -1;
  let lastWasCall = false;
  let callee = first.s;
  let lastIdent = first.s;
  j++;
  while (j < toks.length) {
    const s = toks[j].s;
    if (s === ';') break;
    if ((s === '.' || s === '->' || s === '::') && toks[j + 1] && toks[j + 1].t === 'ident') {
      lastIdent = toks[j + 1].s;
      j += 2;
      lastWasCall = false;
    } else if (s === '(' && match[j] > j) {
      callee = lastIdent;
      j = match[j] + 1;
      lastWasCall = true;
    } else if (s === '[' && match[j] > j) {
      j = match[j] + 1;
      lastWasCall = false;
    } else if (s === '<' && inTemplate[j]) {
      while (j < toks.length && inTemplate[j]) j++;
    } else {
      return -1;
    }
  }
  if (j >= toks.length || !lastWasCall || SKIPPED_CALLS.has(callee)) return -1;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Sources and mutants

function lineInfo(src, offset) {
  let line = 1;
  let start = 0;
  for (let k = 0; k < offset; k++) if (src.charCodeAt(k) === 10) { line++; start = k + 1; }
  let end = src.indexOf('\n', offset);
  if (end < 0) end = src.length;
  return { line, col: offset - start + 1, text: src.slice(start, end) };
}

function applyEdits(src, edits) {
  let out = '';
  let at = 0;
  for (const e of [...edits].sort((x, y) => x.a - y.a)) {
    out += src.slice(at, e.a) + e.text;
    at = e.b;
  }
  return out + src.slice(at);
}

const squash = (s, max = 90) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
};

function allMutants(withHeaders) {
  const files = [...ROUTING_SOURCES, ...(withHeaders ? ROUTING_HEADERS : [])];
  const mutants = [];
  const sources = {};
  for (const file of files) {
    const src = fs.readFileSync(path.join(ROOT, SRC_DIR, file), 'utf8');
    sources[file] = src;
    const seen = new Set();
    for (const m of generate(file, src)) {
      const mutated = applyEdits(src, m.edits);
      if (mutated === src || seen.has(mutated)) continue;
      seen.add(mutated);
      const { line, col, text } = lineInfo(src, m.a);
      mutants.push({
        id: 0, file, line, col, operator: m.operator, original: squash(m.original), replacement: squash(m.replacement),
        source: text.trim(), edits: m.edits,
      });
    }
  }
  mutants.forEach((m, k) => { m.id = k + 1; });
  return { mutants, sources };
}

function select(mutants, opts) {
  let out = mutants;
  if (opts.files.length) {
    const wanted = opts.files.map((f) => f.replace(/^.*\//, ''));
    out = out.filter((m) => wanted.some((w) => [m.file, path.basename(m.file)].some((f) => f === w || f.replace(/\.(cpp|hpp)$/, '') === w)));
    if (!out.length) fail(`no mutants in ${opts.files.join(', ')} (sources: ${[...ROUTING_SOURCES, ...ROUTING_HEADERS].join(', ')})`);
  }
  if (opts.operators) out = out.filter((m) => opts.operators.includes(m.operator));
  if (opts.ids) out = out.filter((m) => opts.ids.has(m.id));
  if (opts.sample) {
    let state = BigInt(opts.seed);
    const rand = () => {  // SplitMix64, as the core's
      state = (state + 0x9E3779B97F4A7C15n) & 0xFFFFFFFFFFFFFFFFn;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & 0xFFFFFFFFFFFFFFFFn;
      z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & 0xFFFFFFFFFFFFFFFFn;
      return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
    };
    out = out.filter(() => rand() < opts.sample);
  }
  if (opts.limit && out.length > opts.limit) {
    const step = out.length / opts.limit;
    out = Array.from({ length: opts.limit }, (_, k) => out[Math.floor(k * step)]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scratch trees

const SCRATCH = path.join(ROOT, 'build/mutation/cpp');
// -O0 for the fastest rebuilds. _GLIBCXX_ASSERTIONS makes an out-of-range vector / string / optional
// access abort: a mutant that indexes past the end is then killed for sure, not by luck (as a
// runtime error is killed in Stryker). Only the scratch trees use these flags.
const CXX_FLAGS = '-O0 -D_GLIBCXX_ASSERTIONS';
const COPIED = ['CMakeLists.txt', 'cpp'];

// Makes `dst` hold exactly the files of `src` (only changed files are written, so the build
// stays incremental).
function syncTree(src, dst) {
  const st = fs.statSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dst, { recursive: true });
    const names = new Set(fs.readdirSync(src));
    for (const name of fs.readdirSync(dst)) if (!names.has(name)) fs.rmSync(path.join(dst, name), { recursive: true, force: true });
    for (const name of names) syncTree(path.join(src, name), path.join(dst, name));
    return;
  }
  const data = fs.readFileSync(src);
  if (fs.existsSync(dst) && fs.statSync(dst).isFile() && fs.readFileSync(dst).equals(data)) return;
  fs.rmSync(dst, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.writeFileSync(dst, data);
}

const children = new Set();

// Runs a command; resolves { code, signal, timedOut, output (the last 64 KB), ms }.
function run(cmd, args, { cwd, timeoutMs = 0, env } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd, env: env || process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const keep = (d) => { output = (output + d).slice(-65536); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = timeoutMs ? setTimeout(() => { timedOut = true; killGroup(child); }, timeoutMs) : null;
    child.on('error', (e) => { output += String(e); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, timedOut, output, ms: Date.now() - started });
    });
  });
}

function killGroup(child) {
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone already */ }
}

class Tree {
  constructor(index) {
    this.index = index;
    this.dir = path.join(SCRATCH, `tree-${index}`);
    this.build = path.join(this.dir, 'build');
    this.mtime = 0;
  }

  async prepare(log) {
    for (const item of COPIED) syncTree(path.join(ROOT, item), path.join(this.dir, item));
    const fresh = !fs.existsSync(path.join(this.build, 'CMakeCache.txt'));
    const generator = fresh && (await run('sh', ['-c', 'command -v ninja'])).code === 0 ? ['-G', 'Ninja'] : [];
    // Configured every run (cheap when nothing changed), so a change of these flags takes effect.
    const r = await run('cmake', [
      '-S', this.dir, '-B', this.build, ...generator, '-DCMAKE_BUILD_TYPE=Debug', `-DCMAKE_CXX_FLAGS_DEBUG=${CXX_FLAGS}`,
      '-DROUTER_BUILD_TESTS=ON', '-DROUTER_BUILD_FUZZERS=OFF', '-DROUTER_BUILD_BENCHMARKS=OFF',
      // No test listing after every link: router_tests is run directly, not through CTest.
      '-DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST',
    ]);
    if (r.code !== 0) throw new Error(`cmake configure failed in ${this.dir}:\n${r.output}`);
    log(`tree-${this.index}: building router_tests (first run of a tree takes a while)`);
    const b = await this.compile();
    if (b.code !== 0) throw new Error(`the unmutated sources do not build in ${this.dir}:\n${b.output}`);
    const t = await this.test(600000);
    if (t.code !== 0) throw new Error(`router_tests fails without any mutant (${this.dir}); fix the tests first:\n${t.output}`);
    return t.ms;
  }

  compile() {
    return run('cmake', ['--build', this.build, '--target', 'router_tests', '-j', '1'], { timeoutMs: 1800000 });
  }

  test(timeoutMs) {
    // A memory limit: a mutant that sizes a vector from a wrapped-around index must fail, not
    // eat the machine's memory. No core dumps.
    const cmd = 'ulimit -v 4194304 2>/dev/null; ulimit -c 0 2>/dev/null; exec ./router_tests --gtest_fail_fast --gtest_brief=1';
    return run('sh', ['-c', cmd], { cwd: this.build, timeoutMs });
  }

  write(file, text) {
    const p = path.join(this.dir, SRC_DIR, file);
    fs.writeFileSync(p, text);
    // Strictly increasing mtimes, so the build always sees the change.
    this.mtime = Math.max(Date.now() / 1000, this.mtime + 0.01);
    fs.utimesSync(p, this.mtime, this.mtime);
  }

  async runMutant(m, original, timeoutMs) {
    const started = Date.now();
    this.write(m.file, applyEdits(original, m.edits));
    try {
      let b = await this.compile();
      if (b.code === 0 && !b.output.includes('Building CXX')) {
        // Nothing recompiled: should not happen; touch and retry once rather than trust it.
        this.write(m.file, applyEdits(original, m.edits));
        b = await this.compile();
      }
      if (b.code !== 0) return { status: 'compile error', detail: firstError(b.output), ms: Date.now() - started };
      const t = await this.test(timeoutMs);
      const ms = Date.now() - started;
      if (t.timedOut) return { status: 'timeout', detail: `no result after ${timeoutMs / 1000} s`, ms };
      if (t.code === 0) return { status: 'survived', ms };
      const failed = /\[\s+FAILED\s+\]\s+(\S+)/.exec(t.output);
      const detail = failed ? failed[1] : t.signal ? `crashed (${t.signal})` : `exit ${t.code}`;
      return { status: 'killed', detail, ms };
    } finally {
      this.write(m.file, original);
    }
  }
}

function firstError(output) {
  const line = output.split('\n').find((l) => /error:|undefined reference/.test(l));
  return squash(line ? line.replace(/^.*?cpp\/src\//, '') : output.split('\n').slice(-3).join(' '), 200);
}

// ---------------------------------------------------------------------------------------------
// Reports

const STATUSES = ['killed', 'survived', 'timeout', 'compile error'];

function tally(list) {
  const c = { killed: 0, survived: 0, timeout: 0, 'compile error': 0 };
  for (const m of list) c[m.status]++;
  const detected = c.killed + c.timeout;
  const valid = detected + c.survived;
  return { ...c, total: list.length, score: valid ? (100 * detected) / valid : null };
}

const pct = (s) => (s === null ? 'n/a' : `${s.toFixed(1)}%`);

function knownVerdict(m) {
  return KNOWN_SURVIVORS.find((k) => k.file === path.basename(m.file) && k.operator === m.operator && k.original === m.original &&
    k.replacement === m.replacement && k.source === m.source);
}

function judgedLine(survivors) {
  const n = { equivalent: 0, accepted: 0, new: 0 };
  for (const m of survivors) n[knownVerdict(m)?.verdict || 'new']++;
  return `Survivors judged by hand: ${n.equivalent} equivalent, ${n.accepted} accepted; ${n.new} not judged yet ` +
    '(new: each needs a test, or a verdict in KNOWN_SURVIVORS).';
}

function summaryRows(results, files) {
  const rows = files.map((f) => ({ file: f, ...tally(results.filter((m) => m.file === f)) })).filter((r) => r.total);
  rows.push({ file: 'total', ...tally(results) });
  return rows;
}

function printSummary(results, files, wallMs, opts) {
  const rows = summaryRows(results, files);
  const w = Math.max(...rows.map((r) => r.file.length), 4);
  const line = (cells) => cells.map((c, k) => (k ? String(c).padStart(k === 5 ? 8 : 9) : String(c).padEnd(w))).join(' ');
  console.log(`\n${line(['file', 'killed', 'survived', 'timeout', 'compile', 'score'])}`);
  for (const r of rows) {
    if (r.file === 'total') console.log('-'.repeat(w + 48));
    console.log(line([r.file, r.killed, r.survived, r.timeout, r['compile error'], pct(r.score)]));
  }
  const survivors = results.filter((m) => m.status === 'survived');
  if (survivors.length) {
    console.log(`\nSurvivors (${survivors.length}):`);
    for (const m of survivors) {
      const k = knownVerdict(m);
      console.log(`  ${m.file}:${m.line}: ${m.original} -> ${m.replacement}   [#${m.id} ${m.operator}]` +
        (k ? `   (${k.verdict}: ${k.reason})` : ''));
      console.log(`      ${m.source}`);
    }
  }
  if (survivors.length) console.log(`\n${judgedLine(survivors)}`);
  console.log(`\nWall time ${(wallMs / 1000).toFixed(0)} s, ${opts.jobs} job(s), timeout ${opts.timeout} s.`);
}

function writeReports(results, files, meta) {
  const dir = path.join(ROOT, 'build/mutation');
  fs.mkdirSync(dir, { recursive: true });
  const rows = summaryRows(results, files);
  const json = {
    ...meta,
    operators: Object.fromEntries(OPERATORS),
    files: Object.fromEntries(rows.filter((r) => r.file !== 'total').map(({ file, ...r }) => [file, r])),
    total: (({ file, ...r }) => r)(rows[rows.length - 1]),
    mutants: results.map(({ edits, ...m }) => {
      const k = m.status === 'survived' ? knownVerdict(m) : null;
      return k ? { ...m, verdict: k.verdict, reason: k.reason } : m;
    }),
  };
  fs.writeFileSync(path.join(dir, 'cpp-report.json'), `${JSON.stringify(json, null, 2)}\n`);

  const md = [];
  md.push('# C++ routing core: mutation report', '');
  md.push(`Generated ${meta.finishedAt} by \`${meta.command}\` in ${Math.round(meta.wallMs / 1000)} s ` +
    `(${meta.jobs} jobs, test timeout ${meta.timeoutSeconds} s${meta.partial ? ', a partial run' : ''}).`, '');
  md.push('Score = (killed + timeout) / (killed + timeout + survived); compile errors are left out.', '');
  md.push('| file | killed | survived | timeout | compile error | score |', '|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const b = r.file === 'total' ? '**' : '';
    md.push(`| ${b}${r.file}${b} | ${r.killed} | ${r.survived} | ${r.timeout} | ${r['compile error']} | ${b}${pct(r.score)}${b} |`);
  }
  md.push('', '## Operators', '');
  for (const [n, d] of OPERATORS) md.push(`- \`${n}\`: ${d}`);
  const survivors = results.filter((m) => m.status === 'survived');
  md.push('', `## Survivors (${survivors.length})`, '');
  for (const m of survivors) {
    const k = knownVerdict(m);
    md.push(`- \`${m.file}:${m.line}\`: \`${m.original}\` -> \`${m.replacement}\` (#${m.id}, ${m.operator})` +
      (k ? ` — ${k.verdict}: ${k.reason}` : ''));
    md.push(`  \`${m.source.replace(/`/g, "'")}\``);
  }
  if (survivors.length) md.push('', judgedLine(survivors));
  const timeouts = results.filter((m) => m.status === 'timeout');
  if (timeouts.length) {
    md.push('', `## Timeouts (${timeouts.length}, counted as killed)`, '');
    for (const m of timeouts) md.push(`- \`${m.file}:${m.line}\`: \`${m.original}\` -> \`${m.replacement}\` (#${m.id})`);
  }
  fs.writeFileSync(path.join(dir, 'cpp-report.md'), `${md.join('\n')}\n`);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const { mutants, sources } = allMutants(opts.headers);
  const selected = select(mutants, opts);
  const files = [...ROUTING_SOURCES, ...ROUTING_HEADERS];
  const partial = selected.length !== mutants.length;

  if (opts.list) {
    for (const m of selected) console.log(`#${m.id} ${m.file}:${m.line}:${m.col} ${m.operator} ${m.original} -> ${m.replacement}`);
    const byOp = {};
    for (const m of selected) byOp[m.operator] = (byOp[m.operator] || 0) + 1;
    console.log(`\n${selected.length} of ${mutants.length} mutants; by operator: ${JSON.stringify(byOp)}`);
    return 0;
  }

  const jobs = Math.min(opts.jobs, Math.max(1, selected.length));
  console.log(`cpp-mutants: ${selected.length} of ${mutants.length} mutants, ${jobs} job(s), scratch ${path.relative(ROOT, SCRATCH)}/`);
  if (jobs > os.cpus().length) console.log(`note: ${jobs} jobs on ${os.cpus().length} CPUs`);
  const log = (s) => console.log(s);
  const trees = Array.from({ length: jobs }, (_, k) => new Tree(k));
  const baselines = await Promise.all(trees.map((t) => t.prepare(log)));
  const baselineMs = Math.max(...baselines);
  if (opts.timeout === null) opts.timeout = Math.max(20, Math.ceil((20 * baselineMs) / 1000));
  console.log(`baseline: router_tests passes in ${baselineMs} ms; timeout per mutant ${opts.timeout} s`);

  // Headers last: each of their mutants rebuilds most of the tree.
  const queue = [...selected].sort((x, y) => Number(x.file.endsWith('.hpp')) - Number(y.file.endsWith('.hpp')) || x.id - y.id);
  const results = [];
  let done = 0;
  const width = String(queue.length).length;
  const worker = async (tree) => {
    while (queue.length) {
      const m = queue.shift();
      const r = await tree.runMutant(m, sources[m.file], opts.timeout * 1000);
      Object.assign(m, r);
      results.push(m);
      done++;
      console.log(`[${String(done).padStart(width)}/${selected.length}] ${r.status.padEnd(13)} ${m.file}:${m.line} ` +
        `${m.operator} ${m.original} -> ${m.replacement}${r.detail ? `  (${r.detail})` : ''}  ${(r.ms / 1000).toFixed(1)}s`);
    }
  };
  await Promise.all(trees.map(worker));
  results.sort((x, y) => x.id - y.id);

  const wallMs = Date.now() - started;
  printSummary(results, files, wallMs, opts);
  const total = tally(results);
  const dir = writeReports(results, files, {
    command: `node scripts/mutation/cpp-mutants.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    finishedAt: new Date().toISOString(), wallMs, jobs, timeoutSeconds: opts.timeout, baselineMs, partial,
    generated: mutants.length, selected: selected.length,
  });
  console.log(`Reports: ${path.relative(ROOT, dir)}/cpp-report.json, cpp-report.md`);
  if (opts.breakAt !== null && total.score !== null && total.score < opts.breakAt) {
    console.log(`score ${pct(total.score)} is below --break ${opts.breakAt}`);
    return 1;
  }
  return 0;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) killGroup(c);
    process.stderr.write('\ncpp-mutants: interrupted (the scratch trees are re-synced on the next run)\n');
    process.exit(130);
  });
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`cpp-mutants: ${e.stack || e}\n`);
  process.exit(2);
});
