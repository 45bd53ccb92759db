// Shared by the deployment suites: scratch folders inside build/ (so wrangler resolves the repo's
// tsconfig and node_modules as for a real deploy) and readers for the rendered configs.
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { ROOT } from "../../scripts/render-configs.mjs";

export { ROOT };

/** A fresh folder under build/tmp/; `remove()` deletes it. */
export async function scratchDir(label) {
  const parent = path.join(ROOT, "build/tmp");
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, `${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A rendered wrangler.toml, parsed into plain objects. */
export async function readToml(file) {
  return JSON.parse(JSON.stringify(parseToml(await readFile(file, "utf8"))));
}

/** `n` backends in list form; providers cycle through `providers`. */
export function listManifest(n, { prefix = "be", providers = ["echo"] } = {}) {
  return {
    backends: Array.from({ length: n }, (_, i) => {
      const provider = providers[i % providers.length];
      const backend = { name: `${prefix}-${i + 1}`, provider };
      if (provider === "openai-compatible") backend.vars = { UPSTREAM_BASE_URL: "https://upstream.invalid/v1" };
      return backend;
    }),
  };
}
