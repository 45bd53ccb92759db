// One POST over a fresh loopback connection (no keep-alive), timed from just before the
// connection opens to the last byte of the answer.
import http from "node:http";

/** @param {number} port @param {string} path @param {string} body @returns {Promise<{ms: number, status: number, bytes: number}>} */
export function timedPost(port, path, body) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", agent: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let bytes = 0;
      res.on("data", (c) => { bytes += c.length; });
      res.on("end", () => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: res.statusCode ?? 0, bytes }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}
