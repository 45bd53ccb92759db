// @ts-check
// The status page's markup (GET /dashboard). No inline script or style: the core's
// Content-Security-Policy allows only /dashboard/app.js and /dashboard/app.css from this origin.
// Bundled as a string (wrangler would bundle a .js file as code, not serve it as text).
export const page = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ai-router status</title>
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header>
  <h1>ai-router</h1>
  <dl id="summary">
    <dt>control plane</dt><dd data-field="controlPlane">…</dd>
    <dt>isolates</dt><dd data-field="isolates">…</dd>
    <dt>synced</dt><dd data-field="syncedAt">…</dd>
    <dt>requests in flight (this isolate)</dt><dd data-field="requestsInFlight">…</dd>
    <dt>strategy</dt><dd data-field="strategy">…</dd>
  </dl>
</header>
<p id="problem" role="alert" hidden></p>
<table id="backends">
  <thead>
    <tr>
      <th>binding</th><th>name</th><th>state</th><th>in flight</th><th>attempts</th><th>failures</th>
      <th>error rate</th><th>first byte ms<br><small>p50 / p95 / p99</small></th>
      <th>total ms<br><small>p50 / p95 / p99</small></th><th>tokens<br><small>total (prompt + completion)</small></th>
      <th>figures</th>
    </tr>
  </thead>
  <tbody></tbody>
</table>
<footer><span id="updated">not loaded yet</span> · refreshed every few seconds from <a href="/status">/status</a></footer>
</body>
</html>
`;
