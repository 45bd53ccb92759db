// @ts-check
// The status page's style sheet (GET /dashboard/app.css).
export const style = String.raw`:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
#summary { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0 0 1rem; }
#summary dt { color: GrayText; }
#summary dd { margin: 0; font-weight: 600; }
#problem { padding: .5rem .75rem; border: 1px solid #c62828; color: #c62828; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid #8884; text-align: right; white-space: nowrap; }
th:nth-child(-n+3), td:nth-child(-n+3), th:last-child, td:last-child { text-align: left; }
td[data-field="name"] { white-space: normal; overflow-wrap: anywhere; max-width: 14rem; }
th { font-weight: 600; vertical-align: bottom; }
th small { font-weight: 400; color: GrayText; }
td[data-field="binding"] { font-family: ui-monospace, monospace; }
.state-healthy { color: #2e7d32; }
.state-cooldown { color: #ef6c00; }
.state-ejected { color: #c62828; font-weight: 600; }
.high-errors { color: #c62828; }
footer { margin-top: 1rem; color: GrayText; }
`;
