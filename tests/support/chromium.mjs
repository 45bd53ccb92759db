// Finds a Chromium for the browser tests: $CHROMIUM, else the first of the usual names on PATH
// (Debian's `chromium`, installed by scripts/setup.sh). Null when there is none.
import { access, constants } from "node:fs/promises";
import path from "node:path";

const NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** @returns {Promise<string | null>} */
export async function findChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    for (const name of NAMES) {
      const file = path.join(dir, name);
      if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
    }
  }
  return null;
}
