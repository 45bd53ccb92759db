// Which repository secrets a manifest may name (`upstreamApiKeySecret`, and any later secret-name
// field). A manifest is data that anyone with push access edits; the deploy job reads the secret
// it names and hands it to a Worker that sends it to the manifest's UPSTREAM_BASE_URL. So only a
// secret whose name says "this is for an upstream" may be named: UPSTREAM_ then capitals, digits
// and underscores. The deploy credentials, GitHub's own and the router's keys can never match,
// and get a line saying what they are.

/** The only names a secret-name field accepts. */
export const SAFE_SECRET_NAME = /^UPSTREAM_[A-Z0-9_]{1,100}$/;

// Names that must never leave the deploy, and why (checked case-insensitively: GitHub's secret
// names are case-insensitive, so "cloudflare_api_token" is CLOUDFLARE_API_TOKEN).
const RESERVED = [
  [/^(CLOUDFLARE|CF)_/, "is named like a Cloudflare credential (the deploy's API token or account)"],
  [/^(GITHUB|GH)_/, "is named like a GitHub credential (GITHUB_TOKEN and GitHub's own variables)"],
  [/^(ACTIONS|RUNNER)_/, "is named like a GitHub Actions runner variable"],
  [/^ROUTER_(API_KEYS|ADMIN_KEY)$/, "is one of the router's own keys (its clients' or its admin's)"],
];

/**
 * The problem with `value` as the secret name of `field` (e.g. `backends[0] "up": upstreamApiKeySecret`),
 * or null when it is safe to name.
 */
export function secretNameProblem(value, field) {
  if (typeof value !== "string" || value === "") {
    return `${field} must be the name of a repository secret, e.g. "UPSTREAM_OPENAI_KEY" (got ${JSON.stringify(value)})`;
  }
  const shown = JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}...` : value);
  const upper = value.toUpperCase();
  for (const [pattern, why] of RESERVED) {
    if (pattern.test(upper)) return `${field} ${shown} ${why}: refused, it would be sent upstream. Store the upstream key in a secret named UPSTREAM_..., e.g. "UPSTREAM_OPENAI_KEY"`;
  }
  if (!SAFE_SECRET_NAME.test(value)) {
    return `${field} ${shown} is refused: a secret sent upstream must be named UPSTREAM_ then capitals, digits and underscores (at most 109 characters), e.g. "UPSTREAM_OPENAI_KEY", so that no other repository secret can be named`;
  }
  return null;
}
