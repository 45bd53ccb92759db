// A chat completion request body of an exact byte size (ASCII prose padding the user message),
// the same shape as cpp/bench/routing_decision_bench.cpp builds natively.
const WORDS = ["route ", "the ", "request ", "to ", "a ", "healthy ", "backend ", "please "];

/** @param {number} size bytes @param {boolean} [stream] */
export function chatBody(size, stream = false) {
  const head = `{"model":"m","stream":${stream},"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"`;
  const tail = `"}]}`;
  let filler = "";
  for (let i = 0; head.length + filler.length + tail.length < size; i++) filler += WORDS[i % WORDS.length];
  filler = filler.slice(0, Math.max(0, size - head.length - tail.length));
  return head + filler + tail;
}
