// The command-line options of the deploy checks, shared by scripts/deploy-preflight.mjs and
// scripts/deploy-rehearsal.mjs; everything else on the command line is left for resolveCli.
import { describeApiKeys } from "./access-check.mjs";
import { WORKERS_PLANS } from "./backends-manifest.mjs";

const WITH_VALUE = ["--workers-plan", "--router-api-keys"];

/**
 * {options, rest}: options = {plan, apiKeys, core} for preflight(); `env` is read for
 * ROUTER_API_KEYS when --router-api-keys is not given (defined, even empty: the check knows).
 * Throws an Error with a usage line on a bad value.
 */
export function takePreflightOptions(argv, env = process.env) {
  const rest = [];
  const given = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--no-core") given.noCore = true;
    else if (WITH_VALUE.includes(arg)) {
      if (argv[i + 1] === undefined) throw new Error(`${arg} needs a value`);
      given[arg] = argv[++i];
    } else rest.push(arg);
  }
  const plan = given["--workers-plan"];
  if (plan !== undefined && !WORKERS_PLANS.includes(plan)) throw new Error(`--workers-plan must be "free" or "paid" (got ${JSON.stringify(plan)})`);
  const keys = given["--router-api-keys"];
  if (keys !== undefined && !["set", "empty"].includes(keys)) throw new Error(`--router-api-keys must be "set" or "empty" (got ${JSON.stringify(keys)}); it says whether the ROUTER_API_KEYS secret holds a key`);
  let apiKeys;
  if (keys === "set") apiKeys = { keys: 1, bytes: 1 };
  else if (keys === "empty") apiKeys = { keys: 0, bytes: 0 };
  else if (typeof env.ROUTER_API_KEYS === "string") apiKeys = describeApiKeys(env.ROUTER_API_KEYS);
  return { options: { plan, apiKeys, core: !given.noCore }, rest };
}
