// The timeline: every buffer's life over time (create, memory from which allocator in which
// region, DMA maps, each device's DMA transfers, grants, CPU access, denials, release), per region
// or per client, zoomable. Fed by the journal's event stream; buffers stay visible after release
// while in the window. A stream's ring buffers show its frames passing through: on each buffer, one
// slice per stage (the device's colour), frame after frame.
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { download } from './token.js';

const html = htm.bind(h);

const SPANS = [
  { label: '100 ms', ms: 100 }, { label: '1 s', ms: 1000 }, { label: '10 s', ms: 10_000 },
  { label: '1 min', ms: 60_000 }, { label: '10 min', ms: 600_000 }, { label: 'all', ms: 0 },
];
const MARKS = { denial: 'deny', grant: 'grant', revoke: 'revoke', 'cpu-access': 'cpu', 'allocate-failed': 'deny', attach: 'att', detach: 'att', tee: 'tee' };
const MAX_ROWS = 150;

/** Buffers' lives from journal events (ms times, with sub-ms precision from `us`). */
function lives(events) {
  const byId = new Map();
  for (const e of events) {
    if (e.buffer === undefined) continue;
    const t = e.us / 1000;
    let b = byId.get(e.buffer);
    if (!b) byId.set(e.buffer, (b = { id: e.buffer, start: t, created: null, allocated: null, released: null, maps: [], marks: [], dma: [], events: [] }));
    b.events.push(e);
    if (e.kind === 'create') b.created = t;
    if (e.kind === 'allocate' && b.allocated === null) b.allocated = t;
    if (e.kind === 'release') b.released = t;
    if (e.size !== undefined) b.size = e.size;
    if (e.region) b.region = e.region;
    if (e.allocator) b.allocator = e.allocator;
    if (e.ownerLabel) b.owner = e.ownerLabel;
    if (e.secure !== undefined) b.secure = e.secure;
    if (e.kind === 'map') b.maps.push({ device: e.actor, start: t, end: null });
    if (e.kind === 'unmap') {
      const m = b.maps.find((x) => x.device === e.actor && x.end === null);
      if (m) m.end = t;
    }
    if (e.kind === 'dma') b.dma.push({ device: e.actor, start: t - (e.durationUs ?? 0) / 1000, end: t });
    if (e.kind === 'name') b.label = /named "(.*)"$/.exec(e.message)?.[1];
    if (MARKS[e.kind]) b.marks.push({ t, kind: MARKS[e.kind], e });
  }
  return [...byId.values()];
}

function niceStep(spanMs) {
  const raw = spanMs / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function clock(t, step) {
  const d = new Date(t);
  const s = d.toISOString().slice(11, 23);
  return step >= 1000 ? s.slice(0, 8) : s;
}

/** The window shown: [t0, t1] in ms. */
function windowOf(all, now, span, follow, end) {
  const first = all.length ? Math.min(...all.map((b) => b.start)) : now - 1000;
  // "all": from the first event to the last (to now while a buffer lives)
  const last = all.length ? Math.max(...all.map((b) => (b.released ?? now))) : now;
  const t1 = span === 0 ? last + (last - first) * 0.02 : follow ? now : end;
  const t0 = span === 0 ? Math.min(first, t1 - 5) : t1 - span;
  return { t0, t1 };
}

/** The buffers by region (or "no memory yet") or by the client that created them. */
function groupsOf(visible, group) {
  const keyOf = (b) => (group === 'region' ? (b.region ? `region ${b.region}` : 'no memory yet') : (b.owner ?? 'smafd'));
  const groups = new Map();
  for (const b of visible) {
    const k = keyOf(b);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(b);
  }
  return groups;
}

/** The mouse wheel over the track zooms (a non-passive listener, to keep the page from scrolling). */
function useWheelZoom(track, zoom) {
  useEffect(() => {
    const el = track.current;
    if (!el) return undefined;
    const onWheel = (ev) => {
      ev.preventDefault();
      zoom(ev.deltaY > 0 ? 1.5 : 1 / 1.5);
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  });
}

/** A colour per device for its DMA slices, in the order devices first appear (stable for the page's life). */
const DEVICE_PALETTE = ['#ffd166', '#ff5fa2', '#7ee8fa', '#c77dff', '#f78c6b', '#b8f35c', '#ffffff', '#8ea2ff'];
const deviceColors = new Map();
function deviceColor(name) {
  if (!deviceColors.has(name)) deviceColors.set(name, DEVICE_PALETTE[deviceColors.size % DEVICE_PALETTE.length]);
  return deviceColors.get(name);
}

/** `marker`: a moment (ms) to mark across the rows (the trace viewer's); `initialSpan`: 0 for all. */
export function Timeline({ events, now, colorOf, size, marker, initialSpan }) {
  const [span, setSpan] = useState(initialSpan ?? 10_000);
  const [follow, setFollow] = useState(true);
  const [end, setEnd] = useState(now);
  const [group, setGroup] = useState('region');
  const [selected, setSelected] = useState(null);
  const track = useRef(null);
  const all = lives(events);
  const { t0, t1 } = windowOf(all, now, span, follow, end);
  const width = t1 - t0;
  const pct = (t) => ((Math.min(Math.max(t, t0), t1) - t0) / width) * 100;
  const visible = all.filter((b) => b.start <= t1 && (b.released ?? t1) >= t0).slice(-MAX_ROWS);
  const groups = groupsOf(visible, group);
  const step = niceStep(width);
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);

  const sel = selected === null ? null : all.find((b) => b.id === selected) ?? null;
  const zoom = (factor) => {
    const cur = span === 0 ? width : span;
    setSpan(Math.max(5, Math.round(cur * factor)));
  };
  const pan = (dir) => {
    setFollow(false);
    setEnd(t1 + dir * width * 0.5);
  };
  // fit the window to what happened to the selected buffer (else to every buffer in the window):
  // a pipeline that ran for a second among minutes of idle time fills the track
  const fit = () => {
    const times = (sel ? sel.events : visible.flatMap((b) => b.events)).map((e) => e.us / 1000);
    if (times.length === 0) return;
    const from = Math.min(...times);
    const to = Math.max(...times);
    const pad = Math.max(1, (to - from) * 0.04);
    setFollow(false);
    setSpan(Math.max(5, Math.round(to - from + 2 * pad)));
    setEnd(to + pad);
  };
  useWheelZoom(track, zoom);

  const describe = (b) => `buffer ${b.id}${b.size ? ` · ${size(b.size)}` : ''}${b.allocator ? ` · ${b.allocator} in ${b.region}` : ' · no memory yet'}${b.secure ? ' · secure' : ''}${b.owner ? ` · created by ${b.owner}` : ''}${b.released !== null ? ' · released' : ' · live'}`;
  const row = { t0, t1, pct, selected, setSelected, describe, colorOf, size, marker };
  return html`<section class="wide" data-testid="timeline"><h2>Timeline (${visible.length} buffer${visible.length === 1 ? '' : 's'} in view)</h2>
    ${controls({ span, setSpan, zoom, pan, fit, follow, setFollow, setEnd, t1, group, setGroup, sel, live: marker === undefined })}
    <div class="tl" ref=${track}>
      <div class="tl-axis" data-testid="timeline-axis"><div class="tl-label muted">${(width / 1000).toFixed(width < 1000 ? 3 : 1)} s shown</div><div class="tl-track">
        ${ticks.map((t) => html`<span class="tick" style=${`left:${pct(t)}%`}>${clock(t, step)}</span>`)}${markerLine(marker, pct, 'timeline-marker')}</div></div>
      ${visible.length === 0 ? html`<p class="muted">no buffer in this window: widen the span (buffers stay here after release)</p>` : null}
      ${[...groups].map(([name, rows]) => html`<div class="tl-group" data-testid="timeline-group"><div class="tl-group-name">${name}</div>
        ${rows.map((b) => bufferRow(b, row))}</div>`)}
    </div>
    ${detail(sel, describe)}
    ${legend([...new Set(visible.flatMap((b) => b.dma.map((x) => x.device)))])}
  </section>`;
}

/** `live`: the daemon's own timeline (a replay's has no live end to follow and no trace to download). */
function controls({ span, setSpan, zoom, pan, fit, follow, setFollow, setEnd, t1, group, setGroup, sel, live }) {
  return html`<div class="tl-controls">
      <span class="muted">span</span>${SPANS.map((s) => html`<button class=${`chip${span === s.ms ? ' on' : ''}`} aria-pressed=${span === s.ms} data-testid=${`span-${s.label}`} onClick=${() => setSpan(s.ms)}>${s.label}</button>`)}
      <button class="chip" aria-label="zoom in" data-testid="zoom-in" onClick=${() => zoom(1 / 2)}>+</button><button class="chip" aria-label="zoom out" data-testid="zoom-out" onClick=${() => zoom(2)}>−</button>
      <button class="chip" aria-label="earlier" onClick=${() => pan(-1)}>◀</button><button class="chip" aria-label="later" onClick=${() => pan(1)}>▶</button>
      <button class="chip" data-testid="zoom-fit" title=${sel ? `from the first to the last event of buffer ${sel.id}` : 'from the first to the last event in view'} onClick=${fit}>fit ${sel ? `buffer ${sel.id}` : 'all in view'}</button>
      ${live ? html`<label class="chip"><input type="checkbox" checked=${follow} data-testid="follow" onChange=${(ev) => { setFollow(ev.target.checked); setEnd(t1); }} /> follow live</label>` : null}
      <span class="muted">group by</span>
      ${['region', 'client'].map((g) => html`<button class=${`chip${group === g ? ' on' : ''}`} aria-pressed=${group === g} data-testid=${`group-${g}`} onClick=${() => setGroup(g)}>${g}</button>`)}
      ${live ? html`<a class="chip" href="/api/trace.json" download data-testid="download-trace" onClick=${(ev) => { ev.preventDefault(); download('/api/trace.json').catch(() => {}); }}>download trace (Perfetto)</a>` : null}
    </div>`;
}

/** The marked moment: a line across the track. */
function markerLine(marker, pct, testid) {
  return marker === undefined ? null : html`<span class="tl-moment" data-testid=${testid} style=${`position:absolute;top:0;bottom:0;width:2px;background:var(--bad);left:${pct(marker)}%`}></span>`;
}

/** One buffer's row: its life bar (deferred, then its allocator's colour), DMA maps and marks. */
function bufferRow(b, { t0, t1, pct, selected, setSelected, describe, colorOf, size, marker }) {
  const from = b.created ?? b.start;
  const to = b.released ?? t1;
  const alloc = b.allocated ?? to;
  return html`<div class="tl-row" data-testid=${`tl-row-${b.id}`}>
            <div class="tl-label" title=${b.label ?? ''}>buffer ${b.id}${b.size ? html` <span class="muted">${size(b.size)}</span>` : null}</div>
            <div class="tl-track">
              <button class=${`tl-bar${selected === b.id ? ' selected' : ''}`} data-testid=${`tl-bar-${b.id}`} aria-label=${describe(b)}
                style=${`left:${pct(from)}%;width:max(3px, ${pct(to) - pct(from)}%)`}
                onClick=${() => setSelected(b.id)} onFocus=${() => setSelected(b.id)} onMouseEnter=${() => setSelected(b.id)}>
                <span class="seg deferred" style=${`width:${to > from ? ((alloc - from) / (to - from)) * 100 : 0}%`}></span>
                ${b.allocated !== null ? html`<span class="seg" style=${`left:${to > from ? ((alloc - from) / (to - from)) * 100 : 0}%;right:0;background:${colorOf(b.allocator ?? '')}`}></span>` : null}
              </button>
              ${b.maps.map((m) => html`<span class="tl-map" style=${`left:${pct(m.start)}%;width:max(2px, ${pct(m.end ?? to) - pct(m.start)}%)`}></span>`)}
              ${b.dma.filter((x) => x.end >= t0 && x.start <= t1).map((x) => html`<span class="tl-dma" data-testid=${`tl-dma-${x.device}`} style=${`left:${pct(x.start)}%;width:max(2px, ${pct(x.end) - pct(x.start)}%);background:${deviceColor(x.device)}`}></span>`)}
              ${b.marks.filter((m) => m.t >= t0 && m.t <= t1).map((m) => html`<span class=${`tl-mark ${m.kind}`} data-testid=${`tl-mark-${m.kind}`} style=${`left:${pct(m.t)}%`}></span>`)}
              ${markerLine(marker, pct)}
            </div></div>`;
}

/** The selected buffer's whole story. */
function detail(sel, describe) {
  return html`<div class="tl-detail" data-testid="timeline-detail" aria-live="polite">${sel ? html`<b>${describe(sel)}</b>
      <ul>${sel.events.map((e) => html`<li><span class="t">${new Date(e.time).toISOString().slice(11, 23)}</span> <span class=${`k ${e.kind}`}>${e.kind}</span> ${e.clientLabel ? html`<span class="muted">[${e.clientLabel}]</span> ` : null}${e.message}${e.latencyUs !== undefined ? html` <span class="muted">(allocators took ${e.latencyUs} µs)</span>` : null}${e.durationUs !== undefined ? html` <span class="muted">(${e.durationUs} µs)</span>` : null}</li>`)}</ul>`
      : html`<span class="muted">hover, tap or focus (Tab) a bar for the buffer's whole story</span>`}</div>`;
}

function legend(devices) {
  return html`<div class="legend" data-testid="timeline-legend">${devices.map((d) => html`<span><span class="swatch" style=${`background:${deviceColor(d)}`}></span>${d} DMA</span>`)}<span><span class="swatch" style="background:#39424d"></span>no memory yet</span><span><span class="swatch tl-map-swatch"></span>DMA mapped</span>
      <span><span class="swatch" style="background:#fff;box-shadow:0 0 0 1px var(--bad)"></span>denial</span><span><span class="swatch" style="background:var(--ok)"></span>grant</span><span><span class="swatch" style="background:var(--warn)"></span>revoke</span><span><span class="swatch" style="background:var(--accent)"></span>CPU access</span><span><span class="swatch" style="background:#c792ea"></span>TEE (shared memory, TA call)</span></div>`;
}
