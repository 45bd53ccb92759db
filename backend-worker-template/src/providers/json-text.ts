// Edits a JSON object's text without parsing it into values: JSON.parse + JSON.stringify would
// round integers beyond 2^53 (a `seed`, an id in `metadata`), and the client's body must reach the
// upstream exactly as it was sent. Only called on text already validated as a JSON object.

/** `text` with the value of its top-level "model" member(s) replaced by `model` (added if absent). */
export function withTopLevelModel(text: string, model: string): string {
  const spans = topLevelValueSpans(text, "model");
  const value = JSON.stringify(model);
  if (spans.length === 0) {
    const open = text.indexOf("{") + 1;
    const empty = text.slice(open).trim() === "}";
    return `${text.slice(0, open)}"model":${value}${empty ? "" : ","}${text.slice(open)}`;
  }
  let out = "";
  let from = 0;
  for (const span of spans) {
    out += text.slice(from, span.start) + value;
    from = span.end;
  }
  return out + text.slice(from);
}

/** The [start, end) spans of the values of the top-level members called `name`, in order. */
export function topLevelValueSpans(text: string, name: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let i = skipSpace(text, text.indexOf("{") + 1);
  while (text[i] !== "}") {
    if (text[i] === ",") i = skipSpace(text, i + 1);
    const keyEnd = stringEnd(text, i);
    // Keys may be escaped ("mod\u0065l"): compared as JSON reads them.
    const key: unknown = JSON.parse(text.slice(i, keyEnd));
    const start = skipSpace(text, skipSpace(text, keyEnd) + 1);
    const end = valueEnd(text, start);
    if (key === name) spans.push({ start, end });
    i = skipSpace(text, end);
  }
  return spans;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  return i;
}

/** The index after the string starting at `i` (its opening quote). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === "\\") j++;
    else if (text[j] === '"') return j + 1;
  }
  throw new Error("unterminated string in validated JSON");
}

/** The index after the value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return stringEnd(text, i);
  if (first !== "{" && first !== "[") {
    // A number or a literal: it runs to the next delimiter.
    let j = i;
    while (j < text.length && !",}] \t\n\r".includes(text[j]!)) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') j = stringEnd(text, j) - 1;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return j + 1;
  }
  throw new Error("unbalanced value in validated JSON");
}
