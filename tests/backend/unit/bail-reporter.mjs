// A node:test reporter for mutation testing: the first failing test ends the process with exit
// code 1 (the mutant is killed; nothing after it can change that). It prints that test's name and
// error, and nothing else.
import { writeSync } from "node:fs";

export default async function* bail(source) {
  for await (const event of source) {
    if (event.type === "test:fail") {
      const error = event.data.details?.error;
      writeSync(2, `not ok: ${event.data.name}\n${error?.cause?.stack ?? error?.stack ?? error}\n`);
      process.exit(1);
    }
  }
  yield* [];
}
