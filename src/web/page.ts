/** The dashboard's HTML shell and styles (the app itself is client/app.js). */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SMAF-TS dashboard</title>
<style>
  :root { --bg:#0f1419; --panel:#171e26; --line:#2a3440; --text:#d7dee6; --dim:#8a97a6; --accent:#4fb3ff; --bad:#ff5c5c; --ok:#3ddc84; --warn:#ffb454; }
  * { box-sizing: border-box; }
  body { margin:0; background:var(--bg); color:var(--text); font:13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  header { display:flex; gap:18px; align-items:baseline; padding:10px 16px; border-bottom:1px solid var(--line); background:#121a22; position:sticky; top:0; z-index:2; }
  header h1 { font-size:16px; margin:0; letter-spacing:.3px; }
  header .meta { color:var(--dim); }
  .live { padding:1px 8px; border-radius:10px; font-size:11px; font-weight:600; }
  .live.on { background:#173d2a; color:var(--ok); } .live.off { background:#3d1717; color:var(--bad); }
  main { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:12px; padding:12px 16px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 12px; min-width:0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size:12px; text-transform:uppercase; letter-spacing:1px; color:var(--dim); margin:0 0 8px; font-weight:600; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--dim); font-weight:500; font-size:11px; }
  td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
  tr.clickable { cursor:pointer; } tr.clickable:hover { background:#1e2832; } tr.selected { background:#203244; }
  .region { margin:6px 0 12px; }
  .region .label { display:flex; justify-content:space-between; color:var(--dim); font-size:12px; margin-bottom:3px; }
  .region .label b { color:var(--text); }
  svg.map { width:100%; height:30px; display:block; border:1px solid var(--line); border-radius:4px; background:#0b1016; }
  .legend { display:flex; gap:14px; flex-wrap:wrap; color:var(--dim); font-size:12px; }
  .swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; vertical-align:-1px; }
  .tag { display:inline-block; padding:0 6px; border-radius:8px; font-size:11px; margin-right:4px; background:#26313d; }
  .tag.secure { background:#4a1f24; color:#ffb3b3; } .tag.mapped { background:#17384f; color:#9fd6ff; } .tag.deferred { background:#3b3217; color:var(--warn); }
  .events { max-height:340px; overflow:auto; }
  .ev { padding:3px 0; border-bottom:1px solid var(--line); font-size:12px; }
  .ev .k { display:inline-block; width:62px; font-weight:600; } .ev .t { color:var(--dim); margin-right:6px; font-variant-numeric: tabular-nums; }
  .ev.denial .k { color:var(--bad); } .ev.grant .k { color:var(--ok); } .ev.revoke .k { color:var(--warn); } .ev.tee .k { color:var(--accent); }
  .explain pre { white-space:pre-wrap; margin:0; font:12px/1.45 ui-monospace, Menlo, Consolas, monospace; color:#c9d4df; }
  .muted { color:var(--dim); }
  .spark { width:120px; height:24px; vertical-align:middle; }
  .stats td { font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<div id="app"><p style="padding:16px">Loading the SMAF dashboard...</p></div>
<script type="module" src="/app.js"></script>
</body>
</html>`;
