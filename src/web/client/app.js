// SMAF-TS dashboard (browser side): Preact + htm, fed by the daemon's WebSocket. Read-only.
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatSize, hex } from '../../common/units.ts';
import { formatExplanation } from '../../core/explain.ts';
import { parseFrameLabel } from '../../common/pixel-format.ts';
import { Timeline } from './timeline.js';
import { authFetch, openSocket, useAccess } from './token.js';
import { TraceViewer } from './trace-viewer.js';

const html = htm.bind(h);

const COLORS = { 'secure-carveout': '#e5484d', system: '#3e9bff', 'smaf-cma': '#30c96b' };
const PALETTE = ['#b57cff', '#ffb454', '#2ed3c6', '#ff7ab8', '#c3e85a'];
function colorOf(name) {
  if (COLORS[name]) return COLORS[name];
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

// one size format everywhere: the CLI's (exact in the largest unit that divides: "3040 KiB")
const size = formatSize;
const time = (t) => new Date(t).toISOString().slice(11, 23);

function useDaemon() {
  const [state, setState] = useState(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    let ws;
    let stopped = false;
    const connect = () => {
      ws = openSocket('/ws');
      ws.onopen = () => setLive(true);
      ws.onmessage = (m) => setState(JSON.parse(m.data));
      ws.onclose = () => {
        setLive(false);
        if (!stopped) setTimeout(connect, 1000);
      };
    };
    connect();
    return () => { stopped = true; ws.close(); };
  }, []);
  return { state, live };
}

/** The journal's events, streamed: a backlog, then only new ones; a bounded window. */
const EVENT_WINDOW = 5000;
function useEvents() {
  const [store, setStore] = useState({ events: [], now: Date.now() });
  useEffect(() => {
    let ws;
    let stopped = false;
    const connect = () => {
      ws = openSocket('/ws/events');
      ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        setStore((old) => {
          const events = msg.type === 'backlog' ? msg.events : old.events.concat(msg.events);
          return { events: events.length > EVENT_WINDOW ? events.slice(-EVENT_WINDOW) : events, now: Math.max(msg.now, events.at(-1)?.us / 1000 || 0) };
        });
      };
      ws.onclose = () => {
        if (!stopped) setTimeout(connect, 1000);
      };
    };
    connect();
    // the clock moves on when nothing happens
    const tick = setInterval(() => setStore((old) => ({ ...old, now: Math.max(old.now, Date.now()) })), 1000);
    return () => { stopped = true; clearInterval(tick); ws.close(); };
  }, []);
  return store;
}

/** A small time series with its scale (max) and time axis (how long ago it starts). */
function Sparkline({ values, times, color, format }) {
  if (values.length < 2) return html`<span class="spark-box"><svg class="spark"></svg><span class="spark-scale muted">collecting...</span></span>`;
  const peak = Math.max(0, ...values);
  const max = peak || 1; // the drawing's scale; the text says the real peak (0 for a flat line)
  const tMin = times[0];
  const tMax = times.at(-1);
  const x = (t) => (tMax > tMin ? ((t - tMin) / (tMax - tMin)) * 120 : 0);
  const pts = values.map((v, i) => `${x(times[i])},${22 - (v / max) * 20}`).join(' ');
  const ago = Math.round((Date.now() - tMin) / 1000);
  return html`<span class="spark-box"><svg class="spark" viewBox="0 0 120 24" role="img" aria-label=${`from ${format(values[0])} to ${format(values.at(-1))} over ${ago} s, peak ${format(peak)}`}>
      <line x1="0" y1="22" x2="120" y2="22" stroke="#2a3440" /><polyline points=${pts} fill="none" stroke=${color} stroke-width="1.5" /></svg>
    <span class="spark-scale muted">max ${format(peak)} · last ${ago >= 120 ? `${Math.round(ago / 60)} min` : `${ago} s`}</span></span>`;
}

/**
 * A wide table that scrolls sideways inside its panel: when it does not fit, a shadow on the right
 * edge and a "scroll" label say so (touch screens hide scroll bars), until the end is reached.
 */
function Scroll({ label, children }) {
  const ref = useRef(null);
  const [more, setMore] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const check = () => setMore(el.scrollWidth > el.clientWidth + 1 && el.scrollLeft + el.clientWidth < el.scrollWidth - 1);
    check();
    const ro = new ResizeObserver(check);
    ro.observe(el);
    el.addEventListener('scroll', check, { passive: true });
    return () => { ro.disconnect(); el.removeEventListener('scroll', check); };
  });
  return html`<div class=${`scroll-wrap${more ? ' more' : ''}`}><div class="scroll" ref=${ref} tabindex="0" role="region" aria-label=${label}>${children}</div>
    ${more ? html`<span class="scroll-hint" data-testid="scroll-hint">scroll →</span>` : null}</div>`;
}

function RegionBar({ region, regions }) {
  const [tip, setTip] = useState(null);
  const scale = (a) => ((a - region.base) / region.size) * 1000;
  // regions carved out of this DRAM bank (reserved ranges may straddle its ends: clipped)
  const nested = region.kind === 'system' ? regions.filter((r) => r.kind !== 'system' && r.base < region.base + region.size && r.base + r.size > region.base)
    .map((r) => ({ ...r, base: Math.max(r.base, region.base), size: Math.min(r.base + r.size, region.base + region.size) - Math.max(r.base, region.base) })) : [];
  const secure = region.kind === 'secure-carveout';
  return html`<div class="region" data-testid=${`region-${region.name}`}>
    <div class="label"><span><b>${region.name}</b> ${region.kind}${secure ? ' (secure)' : ''} · ${hex(region.base)} · ${size(region.size)}</span>
      <span data-testid=${`region-usage-${region.name}`}>${size(region.inUse)} in use · largest free ${size(region.largestFree)} · ${region.occupancy.length} range${region.occupancy.length === 1 ? '' : 's'}</span></div>
    <svg class="map" viewBox="0 0 1000 30" preserveAspectRatio="none">
      <defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#3a1c20" /></pattern></defs>
      ${secure ? html`<rect x="0" y="0" width="1000" height="30" fill="url(#hatch)" />` : null}
      ${nested.map((n) => {
        const text = `${n.name} (${n.kind}) ${hex(n.base)} · ${size(n.size)} inside ${region.name}${n.description ? `: ${n.description}` : ''}`;
        return html`<rect x=${scale(n.base)} y="0" width=${Math.max(0.8, (n.size / region.size) * 1000)} height="30" fill=${n.kind === 'reserved' ? '#4a3a1a' : '#2a3440'} data-testid=${n.kind === 'reserved' ? `reserved-${n.name}` : undefined} aria-label=${text} onMouseEnter=${() => setTip(text)} onClick=${() => setTip(text)} />`;
      })}
      ${region.occupancy.map((o) => {
        const text = `buffer ${o.buffer} · ${size(o.length)} at ${hex(o.base)} · ${o.allocator}${o.secure ? ' · secure' : ''}${o.holders ? ` · held by ${o.holders}` : ''} · ${o.devices ? `mapped by ${o.devices}` : 'no device maps it'}`;
        return html`<rect class="occ" data-buffer=${o.buffer} x=${scale(o.base)} y="3" width=${Math.max(0.8, (o.length / region.size) * 1000)} height="24" fill=${colorOf(o.allocator)}
          tabindex="0" role="img" aria-label=${text} onMouseEnter=${() => setTip(text)} onFocus=${() => setTip(text)} onClick=${() => setTip(text)} />`;
      })}
    </svg>
    <div class="tip muted" data-testid=${`region-tip-${region.name}`}>${tip ?? '\u00a0'}</div>
  </div>`;
}

/** Which devices map each buffer now, and how: `isp (from-device), gpu (bidirectional)`. */
function mappersOf(state) {
  const by = new Map();
  for (const d of state.deviceViews?.devices ?? []) {
    for (const m of d.mappings) by.set(m.buffer, [...(by.get(m.buffer) ?? []), `${d.name} (${m.direction})`]);
  }
  return by;
}

function MemoryMap({ state }) {
  const holders = new Map(state.buffers.map((b) => [b.buffer, b.holders.join(', ') || 'core']));
  const mappers = mappersOf(state);
  const regions = state.regions.map((r) => ({ ...r, occupancy: r.occupancy.map((o) => ({ ...o, holders: holders.get(o.buffer), devices: mappers.get(o.buffer)?.join(', ') })) }));
  const allocators = [...new Set(state.allocators.map((a) => a.name))];
  const reserved = regions.filter((r) => r.kind === 'reserved');
  return html`<section class="wide" data-testid="memory-map"><h2>Memory map (to scale per region)</h2>
    <div class="legend">${allocators.map((a) => html`<span><span class="swatch" style=${`background:${colorOf(a)}`}></span>${a}</span>`)}
      <span><span class="swatch" style="background:#2a3440"></span>pool carved out of DRAM</span><span><span class="swatch" style="background:#4a3a1a"></span>reserved (never handed out)</span><span><span class="swatch" style="background:#3a1c20"></span>secure memory</span></div>
    ${regions.filter((r) => r.kind !== 'reserved').map((r) => html`<${RegionBar} region=${r} regions=${regions} />`)}
    ${reserved.length ? html`<p class="muted" data-testid="reserved-ranges">${reserved.length} reserved range${reserved.length === 1 ? '' : 's'} (${size(reserved.reduce((n, r) => n + r.size, 0))}) never handed out: ${reserved.map((r) => `${r.name} ${hex(r.base)} ${size(r.size)}`).join(' · ')}</p>` : null}
  </section>`;
}

/**
 * One page of the buffers: the first comes with each state push; another page is fetched when
 * asked for, and again at each push while it is shown. A daemon with 100,000 buffers sends 200.
 */
function useBufferPage(state, offset) {
  const [page, setPage] = useState(null);
  useEffect(() => {
    if (offset === 0) return setPage(null);
    let stale = false;
    authFetch(`/api/buffers?offset=${offset}`).then((r) => r.json()).then((p) => { if (!stale) setPage(p); }).catch(() => {});
    return () => { stale = true; };
  }, [offset, state.time]);
  return offset === 0 || !page ? { buffers: state.buffers, offset: state.offset ?? 0 } : page;
}

function Buffers({ state, selected, onSelect }) {
  const [offset, setOffset] = useState(0);
  const total = state.buffersTotal ?? state.buffers.length;
  const page = useBufferPage(state, Math.min(offset, Math.max(0, total - 1)));
  const size0 = Math.max(1, state.buffers.length);
  const pager = total > state.buffers.length ? html`<div class="pager" data-testid="buffers-pager">
      <button disabled=${page.offset === 0} onClick=${() => setOffset(Math.max(0, page.offset - size0))}>previous</button>
      <span class="muted">${page.offset + 1}-${page.offset + page.buffers.length} of ${total}</span>
      <button disabled=${page.offset + page.buffers.length >= total} onClick=${() => setOffset(page.offset + size0)}>next</button></div>` : null;
  return html`<section data-testid="buffers"><h2>Buffers (${total})</h2>${pager}
    ${page.buffers.length === 0 ? html`<p class="muted">no live buffer</p>` : html`<${Scroll} label="buffers"><table class="cards">
      <tr><th class="num">id</th><th class="num">size</th><th>memory</th><th>attachments</th><th class="num">cpu maps</th><th>held by</th></tr>
      ${page.buffers.map((b) => html`<tr class=${`clickable${selected === b.buffer ? ' selected' : ''}`} data-testid=${`buffer-row-${b.buffer}`} tabindex="0" aria-selected=${selected === b.buffer}
        onClick=${() => onSelect(b.buffer)} onKeyDown=${(ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onSelect(b.buffer); } }}>
        <td class="num card-title" data-label="buffer"><span>${b.buffer}${b.label ? html` <span class="tag name" data-testid=${`buffer-name-${b.buffer}`}>${b.label}</span>` : null}</span></td><td class="num" data-label="size">${size(b.length)}</td>
        <td data-label="memory"><span>${b.allocated ? html`<span class="tag" style=${`border-left:3px solid ${colorOf(b.allocator)}`}>${b.allocator}</span>` : html`<span class="tag deferred">deferred</span>`}${b.secure ? html`<span class="tag secure">secure</span>` : null}</span></td>
        <td data-label="devices"><span>${b.attachments.length ? b.attachments.map((a) => html`<span class=${`tag${a.mapped ? ' mapped' : ''}`}>${a.device}${a.mapped ? ` ✓ ${a.direction}` : ''}</span>`) : html`<span class="muted">none</span>`}</span></td>
        <td class="num" data-label="cpu maps">${b.cpuMappings}</td><td class="muted" data-label="held by">${b.holders.join(', ') || '-'}</td></tr>`)}
    </table></${Scroll}>`}
  </section>`;
}

function Explain({ id, version }) {
  const [e, setE] = useState(null);
  useEffect(() => {
    if (id === null) return;
    authFetch(`/api/explain/${id}`).then((r) => r.json()).then(setE).catch(() => setE(null));
  }, [id, version]);
  if (id === null) return html`<section data-testid="explain"><h2>Explain</h2><p class="muted">click a buffer to see which allocators were asked, and why</p></section>`;
  if (!e || e.error) return html`<section data-testid="explain"><h2>Explain buffer ${id}</h2><p class="muted">${e?.error ?? 'loading...'}</p></section>`;
  return html`<section class="explain" data-testid="explain"><h2>Explain buffer ${id}</h2><pre>${formatExplanation(e)}</pre>${Frame({ layout: parseFrameLabel(e.label), length: e.length })}</section>`;
}

const PLANE_COLORS = ['#4fb3ff', '#b57cff', '#ffb454'];

/** A frame buffer (named after its layout): its planes to scale in the buffer, and as V4L2 and DRM describe it. */
function Frame({ layout: l, length }) {
  if (!l) return null;
  const pct = (n) => `${(n / length) * 100}%`;
  return html`<div class="frame" data-testid="frame-layout"><h2>Frame ${l.width}x${l.height} ${l.format} · ${l.modifier.name}</h2>
    <div class="frame-bar" role="img" aria-label=${`planes of the ${size(length)} buffer`}>${l.planes.map((p, i) => html`<span class="plane" style=${`left:${pct(p.offset)};width:${pct(p.size)};background:${PLANE_COLORS[i % 3]}`} title=${`${p.name}: ${p.offset}+${p.size}`}>${p.name}</span>`)}</div>
    <${Scroll} label="planes"><table class="cards"><tr><th>plane</th><th class="num">offset</th><th class="num">stride</th><th class="num">rows</th><th class="num">size</th></tr>
    ${l.planes.map((p, i) => html`<tr data-testid=${`plane-${i}`}><td class="card-title" data-label="plane"><span><span class="swatch" style=${`background:${PLANE_COLORS[i % 3]}`}></span>${i} ${p.name}</span></td><td class="num" data-label="offset">${p.offset}</td><td class="num" data-label="stride">${p.stride}</td><td class="num" data-label="rows">${p.rows}</td><td class="num" data-label="size">${size(p.size)}</td></tr>`)}</table></${Scroll}>
    <p class="muted" data-testid="frame-v4l2">v4l2: ${l.v4l2 ? `${l.v4l2.name} '${l.v4l2.fourcc}', ${l.v4l2.width}x${l.v4l2.height}, ${l.v4l2.planes.map((p) => `bytesperline ${p.bytesperline} sizeimage ${p.sizeimage}`).join('; ')}` : 'no V4L2 format'}</p>
    <p class="muted" data-testid="frame-drm">drm: ${l.drm.name} '${l.drm.fourcc}', modifier ${l.modifier.value}, pitches ${l.drm.pitches.join(', ')}, offsets ${l.drm.offsets.join(', ')}</p></div>`;
}

function Stats({ state }) {
  const hist = state.history ?? [];
  return html`<section class="stats" data-testid="stats"><h2>Allocators</h2>
    <${Scroll} label="allocators"><table class="cards"><tr><th>allocator</th><th class="num">rank</th><th class="num">in use</th><th class="num">peak</th><th class="num">allocs</th><th class="num">failures</th><th>in use over time</th></tr>
    ${state.allocators.map((a) => html`<tr><td class="card-title" data-label="allocator"><span><span class="swatch" style=${`background:${colorOf(a.name)}`}></span>${a.name}</span></td><td class="num" data-label="rank">${a.ranking}</td><td class="num" data-label="in use">${size(a.bytesInUse)}</td><td class="num" data-label="peak">${size(a.peak)}</td><td class="num" data-label="allocations">${a.allocations}</td><td class="num" data-label="failures">${a.failures}</td>
      <td data-label="over time"><${Sparkline} values=${hist.map((s) => s.allocators[a.name]?.inUse ?? 0)} times=${hist.map((s) => s.time)} format=${size} color=${colorOf(a.name)} /></td></tr>`)}
    </table></${Scroll}>
    <h2 style="margin-top:12px">Regions</h2>
    <${Scroll} label="regions"><table class="cards"><tr><th>region</th><th class="num">in use</th><th class="num">peak</th><th class="num">largest free</th><th class="num">frag.</th><th class="num">failures</th><th>in use over time</th></tr>
    ${state.regions.filter((r) => r.kind !== 'reserved').map((r) => html`<tr><td class="card-title" data-label="region">${r.name}</td><td class="num" data-label="in use">${size(r.inUse)}</td><td class="num" data-label="peak">${size(r.peak)}</td><td class="num" data-label="largest free">${size(r.largestFree)}</td><td class="num" data-label="fragmentation">${(r.fragmentation * 100).toFixed(1)}%</td><td class="num" data-label="failures">${r.failures}</td>
      <td data-label="over time"><${Sparkline} values=${hist.map((s) => s.regions[r.name]?.inUse ?? 0)} times=${hist.map((s) => s.time)} format=${size} color="#4fb3ff" /></td></tr>`)}
    </table></${Scroll}></section>`;
}

const SECURITY_KINDS = ['denial', 'grant', 'revoke', 'allocate-failed', 'tee', 'migrate'];
const KIND_TITLES = { denial: 'denials', grant: 'grants', revoke: 'revocations', 'allocate-failed': 'allocation failures', tee: 'TEE', migrate: 'migrations' };

/**
 * The kinds shown after a click on chip `k`, as filter chips do: with every kind shown, a click
 * shows only `k`; once filtered, a click adds a kind (or takes it away), and taking the last one
 * away shows them all again. Ctrl, Cmd or Shift with the click toggles `k` in what is shown.
 */
function nextShown(shown, k, modifier) {
  const next = new Set(shown ?? SECURITY_KINDS);
  if (shown === null && !modifier) return new Set([k]);
  if (next.has(k)) next.delete(k);
  else next.add(k);
  return next.size === 0 || next.size === SECURITY_KINDS.length ? null : next;
}

function Events({ state, events }) {
  // null: every kind; else the kinds chosen
  const [shown, setShown] = useState(null);
  const counts = state.eventCounts;
  const on = (k) => shown === null || shown.has(k);
  const list = events.filter((e) => SECURITY_KINDS.includes(e.kind) && on(e.kind)).slice(-300).reverse();
  const click = (ev, k) => setShown((old) => nextShown(old, k, ev.ctrlKey || ev.metaKey || ev.shiftKey));
  return html`<section data-testid="events"><h2>Firewall and secure module</h2>
    <div class="chips" role="group" aria-labelledby="events-filter-label"><span class="muted" id="events-filter-label" data-testid="filter-label">show:</span>
      <button class=${`chip all${shown === null ? ' on' : ''}`} aria-pressed=${shown === null} data-testid="filter-all" onClick=${() => setShown(null)}>every kind</button>
      ${SECURITY_KINDS.map((k) => html`<button class=${`chip ${k}${shown !== null && shown.has(k) ? ' on' : ''}`} aria-pressed=${shown !== null && shown.has(k)} data-testid=${`filter-${k}`}
        title=${shown === null ? `show only ${KIND_TITLES[k]}` : shown.has(k) ? `stop showing ${KIND_TITLES[k]}` : `show ${KIND_TITLES[k]} too`} onClick=${(ev) => click(ev, k)}>
      ${KIND_TITLES[k]} <b data-testid=${`count-${k}`}>${counts[k] ?? 0}</b></button>`)}</div>
    <p class="muted chips-help" data-testid="filter-help">${shown === null ? 'every kind shown: click one to see only it' : `showing ${[...shown].map((k) => KIND_TITLES[k]).join(' and ')}: click another kind to add it (Ctrl- or Shift-click to toggle), "every kind" to reset`}</p>
    <div class="events">${list.length === 0 ? html`<p class="muted">none of the kinds shown yet</p>` : list.map((e) => html`<div class=${`ev ${e.kind}`} data-testid=${`event-${e.kind}`}><span class="t">${time(e.time)}</span><span class="k">${e.kind}</span> <b>${e.actor}</b> ${e.message}${e.clientLabel ? html` <span class="muted">[${e.clientLabel}]</span>` : null}</div>`)}</div>
  </section>`;
}

function Meter({ value, max, format }) {
  const ratio = max > 0 ? Math.min(1, value / max) : 0;
  return html`<span class="meter-box"><span class="meter" role="meter" aria-valuenow=${value} aria-valuemin="0" aria-valuemax=${max}><span style=${`width:${ratio * 100}%;background:${ratio > 0.9 ? 'var(--bad)' : ratio > 0.7 ? 'var(--warn)' : 'var(--ok)'}`}></span></span> ${format(value)} / ${format(max)}</span>`;
}

function Clients({ state }) {
  const l = state.limits;
  const ago = (t) => {
    const s = Math.max(0, Math.round((state.time - t) / 1000));
    return s >= 120 ? `${Math.round(s / 60)} min` : `${s} s`;
  };
  return html`<section data-testid="clients"><h2>Clients (${state.clients.length})</h2>
    ${state.clients.length === 0 ? html`<p class="muted">no client connected</p>` : html`<${Scroll} label="clients"><table class="cards">
      <tr><th class="num">id</th><th>process</th><th class="num">pid</th><th>buffers</th><th>bytes</th><th class="num">fds</th><th class="num">requests</th><th class="num">connected</th></tr>
      ${state.clients.map((c) => html`<tr data-testid=${`client-row-${c.id}`}><td class="num" data-label="client">${c.id}</td><td class="card-title" data-label="process">${c.comm ?? html`<span class="muted">(no HELLO)</span>`}</td><td class="num" data-label="pid">${c.pid ?? '-'}</td>
        <td data-label="buffers"><${Meter} value=${c.buffers} max=${l.maxClientBuffers} format=${String} /></td><td data-label="bytes"><${Meter} value=${c.bytes} max=${l.maxClientBytes} format=${size} /></td>
        <td class="num" data-label="fds">${c.fds} / ${l.maxFds}</td><td class="num" data-label="requests">${c.requests}</td><td class="num" data-label="connected">${ago(c.connectedAt)}</td></tr>`)}
    </table></${Scroll}>`}
    <div data-testid="health"><h2>Daemon limits and health</h2>
      <p class=${state.internalErrors ? 'bad' : 'muted'}>internal errors: ${state.internalErrors ?? 0}${state.internalErrors ? ' (requests answered EIO: see smafd\'s log)' : ''}</p>
      <${Scroll} label="limits"><table class="cards"><tr><th>limit</th><th>used</th></tr>
      ${(state.limitUsage ?? []).map((u) => html`<tr data-testid=${`limit-${u.option}`}><td class="card-title" data-label="limit"><span>--${u.option}${u.note ? html` <span class="muted">(${u.note})</span>` : null}</span></td>
        <td data-label="used"><${Meter} value=${u.used} max=${u.limit} format=${/bytes|backlog/.test(u.option) ? size : String} /></td></tr>`)}
      </table></${Scroll}></div>
  </section>`;
}

/** A device's IOMMU domain: its IOVA window, how much is mapped, the largest free range. */
function Domain({ d }) {
  const dm = d.domain;
  if (!dm) return html`<div class="muted">no IOMMU: it emits physical addresses</div>`;
  if (dm.mappedBytes === null) return html`<div class="muted">IOMMU domain of ${size(dm.size)}</div>`;
  return html`<div class="domain" data-testid=${`domain-${d.name}`}>IOMMU domain <${Meter} value=${dm.mappedBytes} max=${dm.size} format=${size} />
    <span class="muted"> · ${dm.mappings} range${dm.mappings === 1 ? '' : 's'} · largest free ${size(dm.largestFree)}</span></div>`;
}

/** One device: its constraints, its domain, the buffers it maps now (direction, addresses, grants). */
function DeviceCard({ d }) {
  const bus = d.bus ? `${size(d.bus.bytesRead)} read, ${size(d.bus.bytesWritten)} written${d.bus.denials ? `, ${d.bus.denials} denied` : ''}` : null;
  return html`<div class="device" data-testid=${`device-${d.name}`}>
    <div class="dev-head"><b>${d.name}</b> <span class="tag">${d.class}</span>${d.secure ? html`<span class="tag secure">secure-capable</span>` : null}</div>
    <div class="muted">${d.dmaMask}-bit DMA · max segment ${size(d.maxSegmentSize)}${d.description ? ` · ${d.description}` : ''}</div>
    <${Domain} d=${d} />
    ${bus ? html`<div class="muted">bus: ${bus}</div>` : null}
    ${d.mappingsTotal === 0 ? html`<div class="muted">maps no buffer now</div>` : html`<ul class="maps" data-testid=${`device-maps-${d.name}`}>${d.mappings.map((m) => html`<li data-testid=${`device-map-${d.name}-${m.buffer}`}>
      <b>buffer ${m.buffer}</b>${m.label ? html` <span class="tag name">${m.label}</span>` : null} ${size(m.length)} <span class="tag mapped">${m.direction}</span> ${m.secure ? html`<span class="tag secure">secure</span>` : null}
      <div class="muted addr">${d.iommu ? 'IOVA' : 'phys'} ${m.ranges.map((r) => `${hex(r.start)}+${size(r.length)}`).join(', ')}${m.rangesTotal > m.ranges.length ? ` (+${m.rangesTotal - m.ranges.length} more)` : ''}</div>
      ${m.secure ? html`<div class="muted addr">granted ${m.grants.map((g) => `${hex(g.addr)}+${size(g.size)}`).join(', ') || 'nothing'}</div>` : null}</li>`)}
      ${d.mappingsTotal > d.mappings.length ? html`<li class="muted">... and ${d.mappingsTotal - d.mappings.length} more</li>` : null}</ul>`}
  </div>`;
}

function Devices({ state }) {
  const views = state.deviceViews?.devices ?? [];
  const mapped = views.reduce((n, d) => n + d.mappingsTotal, 0);
  return html`<section class="wide" data-testid="devices"><h2>Devices (${views.length}; ${mapped} DMA mapping${mapped === 1 ? '' : 's'} now)</h2>
    <div class="device-grid">${views.map((d) => html`<${DeviceCard} d=${d} />`)}</div></section>`;
}

function App() {
  const access = useAccess();
  const { state, live } = useDaemon();
  const stream = useEvents();
  const [selected, setSelected] = useState(null);
  if (access === 'missing' || access === 'wrong') {
    return html`<p style="padding:16px" data-testid="access">${access === 'wrong' ? 'smafd refused the access token this tab holds (was it restarted?)' : 'This dashboard needs its access token'}: open the URL smafd printed at start-up, <code>http://HOST:PORT/#token=...</code></p>`;
  }
  if (!state) return html`<p style="padding:16px">Connecting to smafd...</p>`;
  const clients = state.clients.length;
  return html`<header><h1>SMAF-TS</h1>
      <span class="meta">platform <b>${state.platform.name}</b> · secure module <b>${state.secureModule ?? 'none'}</b> · firewall <b>${state.firewall}</b> · ${clients} client${clients === 1 ? '' : 's'} · ${state.buffersTotal ?? state.buffers.length} buffer${(state.buffersTotal ?? state.buffers.length) === 1 ? '' : 's'}</span>
      <span class=${`live ${live ? 'on' : 'off'}`} data-testid="live">${live ? 'live' : 'disconnected'}</span></header>
    <main>
      <${MemoryMap} state=${state} />
      <${Buffers} state=${state} selected=${selected} onSelect=${setSelected} />
      <${Explain} id=${selected} version=${state.time} />
      <${Timeline} events=${stream.events} now=${stream.now} colorOf=${colorOf} size=${size} />
      <${Clients} state=${state} />
      <${Stats} state=${state} />
      <${Events} state=${state} events=${stream.events} />
      <${Devices} state=${state} />
      <${TraceViewer} colorOf=${colorOf} size=${size} />
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
