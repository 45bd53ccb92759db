// Writes step outputs to $GITHUB_OUTPUT. Values may hold line breaks (a rollback's reason lists
// every problem), so each is written as a heredoc with a random delimiter that no value can close.
import { appendFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";

/** Appends `outputs` (name -> string) to the GitHub output file `file`; no file, no output. */
export async function appendGithubOutputs(file, outputs) {
  if (!file) return;
  let text = "";
  for (const [name, value] of Object.entries(outputs)) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`not an output name: ${JSON.stringify(name)}`);
    const delimiter = `EOF_${randomBytes(12).toString("hex")}`;
    text += `${name}<<${delimiter}\n${String(value)}\n${delimiter}\n`;
  }
  await appendFile(file, text);
}
