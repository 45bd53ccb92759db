// Whether a module is the script node was started with. Compares real paths: node resolves the
// main module's symlinks in import.meta.url but not in process.argv[1], so a script reached
// through a symlinked folder would otherwise never run its CLI (and exit 0 having done nothing).
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** True when the module at `metaUrl` (its import.meta.url) is the process's main script. */
export function isMain(metaUrl) {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}
