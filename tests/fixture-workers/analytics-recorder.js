// @ts-check
// A test-only stand-in for the Workers Analytics Engine binding, bound as a Miniflare wrapped
// binding named ANALYTICS. Miniflare's own local dataset discards every point (nothing can be read
// back), so this one checks each point against the limits Analytics Engine enforces (it throws, as
// the real binding does, on a point it would refuse) and logs it from the caller's isolate as
// {"event":"analytics_point","point":...} for tests to read. With THROWS set every write throws.

const MAX_INDEX_BYTES = 96;
const MAX_BLOBS = 20;
const MAX_BLOB_BYTES = 16 * 1024; // all of a point's blobs together
const MAX_DOUBLES = 20;
const bytes = (/** @type {string} */ s) => new TextEncoder().encode(s).byteLength;

/** @param {any} point */
function check(point) {
  const { indexes = [], blobs = [], doubles = [] } = point ?? {};
  if (!Array.isArray(indexes) || indexes.length > 1 || indexes.some((i) => typeof i !== "string" || bytes(i) > MAX_INDEX_BYTES))
    throw new TypeError("indexes: at most one string of at most 96 bytes");
  if (!Array.isArray(blobs) || blobs.length > MAX_BLOBS || blobs.some((b) => typeof b !== "string" && b !== null))
    throw new TypeError("blobs: at most 20 strings");
  if (blobs.reduce((n, b) => n + bytes(b ?? ""), 0) > MAX_BLOB_BYTES) throw new TypeError("blobs: over 16 KB");
  if (!Array.isArray(doubles) || doubles.length > MAX_DOUBLES || doubles.some((d) => typeof d !== "number"))
    throw new TypeError("doubles: at most 20 numbers");
}

/** @param {{THROWS?: boolean}} env */
export default function analyticsDataset(env) {
  return {
    /** @param {unknown} point */
    writeDataPoint(point) {
      if (env.THROWS) throw new Error("analytics engine unavailable (test)");
      check(point);
      console.log(JSON.stringify({ event: "analytics_point", point }));
    },
  };
}
