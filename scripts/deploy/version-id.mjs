// What a Worker version id looks like (a UUID, as wrangler prints and takes it). Every id the
// rollout scripts read (from wrangler's output, a workflow input) is checked against it before it
// reaches a command line or a header.
const VERSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `value` is a version id. */
export function isVersionId(value) {
  return typeof value === "string" && VERSION_ID.test(value);
}
