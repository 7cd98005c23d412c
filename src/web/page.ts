/** The dashboard's HTML shell and styles (the app itself is client/app.js). */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SMAF-TS dashboard</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%230f1419'/%3E%3Crect x='2' y='4' width='5' height='8' fill='%2330c96b'/%3E%3Crect x='8' y='4' width='6' height='8' fill='%23e5484d'/%3E%3C/svg%3E">
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
  .scroll { overflow-x:auto; max-width:100%; scrollbar-width:thin; scrollbar-color:var(--dim) transparent; }
  .scroll-wrap { position:relative; }
  .scroll-wrap.more::after { content:''; position:absolute; top:0; right:0; bottom:0; width:28px; pointer-events:none; background:linear-gradient(to right, transparent, var(--panel)); }
  .scroll-hint { position:absolute; right:2px; top:2px; z-index:1; font-size:10px; padding:0 5px; border-radius:8px; background:#203244; color:var(--accent); pointer-events:none; }
  .device-grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:10px; }
  .device { border:1px solid var(--line); border-radius:6px; padding:8px 10px; min-width:0; }
  .device .dev-head { margin-bottom:2px; } .device .domain { margin:3px 0; }
  .maps { margin:4px 0 0; padding-left:16px; } .maps li { margin:3px 0; }
  .addr { font:11px/1.4 ui-monospace, Menlo, Consolas, monospace; overflow-wrap:anywhere; }
  .frame { margin-top:10px; } .frame-bar { position:relative; height:22px; border:1px solid var(--line); border-radius:4px; background:#0b1016; margin:4px 0 6px; overflow:hidden; }
  .frame-bar .plane { position:absolute; top:0; bottom:0; font-size:11px; line-height:20px; padding-left:4px; color:#0b1016; overflow:hidden; white-space:nowrap; border-right:1px solid #0b1016; }
  .chips-help { font-size:11px; margin:-4px 0 6px; }
  .tl-dma { position:absolute; top:5px; height:6px; border-radius:1px; pointer-events:none; box-shadow:0 0 0 1px #0b1016; }
  .pager { display:flex; gap:8px; align-items:center; margin:0 0 6px; }
  tr.clickable:focus-visible, .tl-bar:focus-visible, rect.occ:focus-visible, .chip:focus-visible { outline:2px solid var(--accent); outline-offset:1px; }
  .tip { font-size:12px; min-height:1.4em; margin-top:3px; overflow-wrap:anywhere; }
  .spark-box { display:inline-flex; flex-direction:column; gap:1px; } .spark-scale { font-size:10px; white-space:nowrap; }
  .chips, .tl-controls { display:flex; flex-wrap:wrap; gap:6px; align-items:center; margin-bottom:8px; }
  .chip { background:#1e2832; color:var(--text); border:1px solid var(--line); border-radius:12px; padding:2px 9px; font:inherit; font-size:12px; cursor:pointer; text-decoration:none; }
  .chip.on { background:#203244; border-color:var(--accent); }
  .chip.denial.on { border-color:var(--bad); } .chip.grant.on { border-color:var(--ok); } .chip.revoke.on { border-color:var(--warn); }
  .meter-box { white-space:nowrap; font-variant-numeric: tabular-nums; } .meter { display:inline-block; width:60px; height:8px; background:#0b1016; border:1px solid var(--line); border-radius:4px; vertical-align:middle; overflow:hidden; } .meter span { display:block; height:100%; }
  .tl { border:1px solid var(--line); border-radius:4px; background:#0b1016; padding:4px 6px; max-height:420px; overflow:auto; touch-action:pan-y; }
  .tl-axis, .tl-row { display:flex; align-items:center; min-height:18px; }
  .tl-label { flex:0 0 130px; font-size:12px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
  .tl-track { position:relative; flex:1 1 auto; height:18px; min-width:0; }
  .tl-axis .tl-track { border-bottom:1px solid var(--line); }
  .tick { position:absolute; top:1px; transform:translateX(-50%); font-size:10px; color:var(--dim); white-space:nowrap; font-variant-numeric: tabular-nums; }
  .tl-group-name { font-size:11px; color:var(--dim); text-transform:uppercase; letter-spacing:.8px; margin:6px 0 2px; }
  .tl-bar { position:absolute; top:3px; height:10px; padding:0; border:none; background:none; cursor:pointer; overflow:hidden; border-radius:2px; }
  .tl-bar .seg { position:absolute; top:0; bottom:0; left:0; background:#39424d; } .tl-bar.selected { outline:2px solid #fff; }
  .tl-map { position:absolute; top:14px; height:3px; background:#9fd6ff; border-radius:1px; pointer-events:none; } .tl-map-swatch { background:#9fd6ff; }
  .tl-mark { position:absolute; top:1px; width:3px; height:14px; margin-left:-1px; pointer-events:none; border-radius:1px; }
  .tl-mark.deny { background:#fff; box-shadow:0 0 0 1px #000, 0 0 0 2px var(--bad); } .tl-mark.grant { background:var(--ok); } .tl-mark.revoke { background:var(--warn); } .tl-mark.cpu { background:var(--accent); } .tl-mark.tee { background:#c792ea; } .tl-mark.att { background:#6b7785; width:1px; }
  .tl-detail { font-size:12px; margin:6px 0; max-height:160px; overflow:auto; } .tl-detail ul { margin:4px 0; padding-left:18px; } .tl-detail .t { color:var(--dim); font-variant-numeric: tabular-nums; }
  .tl-detail .k.denial { color:var(--bad); } .tl-detail .k.grant { color:var(--ok); }
  /* phones: every table row becomes a card listing its fields, so nothing is cut off to the right */
  @media (max-width: 600px) {
    table.cards, table.cards tbody, table.cards tr, table.cards td { display:block; width:100%; }
    table.cards tr:first-child { display:none; }
    table.cards tr { border:1px solid var(--line); border-radius:6px; padding:4px 6px; margin:0 0 6px; }
    table.cards td { display:flex; justify-content:space-between; gap:10px; border:none; padding:2px 0; white-space:normal; text-align:right; }
    table.cards td::before { content:attr(data-label); color:var(--dim); font-size:11px; text-align:left; flex:0 0 auto; }
    table.cards td.card-title { font-weight:600; }
    table.cards td > * { min-width:0; overflow-wrap:anywhere; }
  }
  @media (max-width: 900px) {
    main { grid-template-columns: minmax(0,1fr); padding:8px; gap:8px; }
    header { flex-wrap:wrap; gap:6px 12px; position:static; }
    .region .label { flex-direction:column; }
    .tl-label { flex-basis:84px; }
    .tick:nth-child(even) { display:none; }
  }
</style>
</head>
<body>
<div id="app"><p style="padding:16px">Loading the SMAF dashboard...</p></div>
<script type="module" src="/app.js"></script>
</body>
</html>`;
