// SMAF-TS dashboard (browser side): Preact + htm, fed by the daemon's WebSocket. Read-only.
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { formatSize, hex } from '../../common/units.ts';
import { formatExplanation } from '../../core/explain.ts';
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
        const text = `buffer ${o.buffer} · ${size(o.length)} at ${hex(o.base)} · ${o.allocator}${o.secure ? ' · secure' : ''}${o.holders ? ` · held by ${o.holders}` : ''}`;
        return html`<rect class="occ" data-buffer=${o.buffer} x=${scale(o.base)} y="3" width=${Math.max(0.8, (o.length / region.size) * 1000)} height="24" fill=${colorOf(o.allocator)}
          tabindex="0" role="img" aria-label=${text} onMouseEnter=${() => setTip(text)} onFocus=${() => setTip(text)} onClick=${() => setTip(text)} />`;
      })}
    </svg>
    <div class="tip muted" data-testid=${`region-tip-${region.name}`}>${tip ?? '\u00a0'}</div>
  </div>`;
}

function MemoryMap({ state }) {
  const holders = new Map(state.buffers.map((b) => [b.buffer, b.holders.join(', ') || 'core']));
  const regions = state.regions.map((r) => ({ ...r, occupancy: r.occupancy.map((o) => ({ ...o, holders: holders.get(o.buffer) })) }));
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
    ${page.buffers.length === 0 ? html`<p class="muted">no live buffer</p>` : html`<div class="scroll"><table>
      <tr><th class="num">id</th><th class="num">size</th><th>memory</th><th>attachments</th><th class="num">cpu maps</th><th>held by</th></tr>
      ${page.buffers.map((b) => html`<tr class=${`clickable${selected === b.buffer ? ' selected' : ''}`} data-testid=${`buffer-row-${b.buffer}`} tabindex="0" aria-selected=${selected === b.buffer}
        onClick=${() => onSelect(b.buffer)} onKeyDown=${(ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onSelect(b.buffer); } }}>
        <td class="num">${b.buffer}${b.label ? html` <span class="tag name" data-testid=${`buffer-name-${b.buffer}`}>${b.label}</span>` : null}</td><td class="num">${size(b.length)}</td>
        <td>${b.allocated ? html`<span class="tag" style=${`border-left:3px solid ${colorOf(b.allocator)}`}>${b.allocator}</span>` : html`<span class="tag deferred">deferred</span>`}${b.secure ? html`<span class="tag secure">secure</span>` : null}</td>
        <td>${b.attachments.map((a) => html`<span class=${`tag${a.mapped ? ' mapped' : ''}`}>${a.device}${a.mapped ? ' ✓' : ''}</span>`)}</td>
        <td class="num">${b.cpuMappings}</td><td class="muted">${b.holders.join(', ') || '-'}</td></tr>`)}
    </table></div>`}
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
  return html`<section class="explain" data-testid="explain"><h2>Explain buffer ${id}</h2><pre>${formatExplanation(e)}</pre></section>`;
}

function Stats({ state }) {
  const hist = state.history ?? [];
  return html`<section class="stats" data-testid="stats"><h2>Allocators</h2>
    <div class="scroll"><table><tr><th>allocator</th><th class="num">rank</th><th class="num">in use</th><th class="num">peak</th><th class="num">allocs</th><th class="num">failures</th><th>in use over time</th></tr>
    ${state.allocators.map((a) => html`<tr><td><span class="swatch" style=${`background:${colorOf(a.name)}`}></span>${a.name}</td><td class="num">${a.ranking}</td><td class="num">${size(a.bytesInUse)}</td><td class="num">${size(a.peak)}</td><td class="num">${a.allocations}</td><td class="num">${a.failures}</td>
      <td><${Sparkline} values=${hist.map((s) => s.allocators[a.name]?.inUse ?? 0)} times=${hist.map((s) => s.time)} format=${size} color=${colorOf(a.name)} /></td></tr>`)}
    </table></div>
    <h2 style="margin-top:12px">Regions</h2>
    <div class="scroll"><table><tr><th>region</th><th class="num">in use</th><th class="num">peak</th><th class="num">largest free</th><th class="num">frag.</th><th class="num">failures</th><th>in use over time</th></tr>
    ${state.regions.filter((r) => r.kind !== 'reserved').map((r) => html`<tr><td>${r.name}</td><td class="num">${size(r.inUse)}</td><td class="num">${size(r.peak)}</td><td class="num">${size(r.largestFree)}</td><td class="num">${(r.fragmentation * 100).toFixed(1)}%</td><td class="num">${r.failures}</td>
      <td><${Sparkline} values=${hist.map((s) => s.regions[r.name]?.inUse ?? 0)} times=${hist.map((s) => s.time)} format=${size} color="#4fb3ff" /></td></tr>`)}
    </table></div></section>`;
}

const SECURITY_KINDS = ['denial', 'grant', 'revoke', 'allocate-failed', 'tee', 'migrate'];
const KIND_TITLES = { denial: 'denials', grant: 'grants', revoke: 'revocations', 'allocate-failed': 'allocation failures', tee: 'TEE', migrate: 'migrations' };

function Events({ state, events }) {
  const [shown, setShown] = useState(new Set(SECURITY_KINDS));
  const counts = state.eventCounts;
  const list = events.filter((e) => shown.has(e.kind)).slice(-300).reverse();
  const toggle = (k) => setShown((old) => {
    const next = new Set(old);
    if (next.has(k)) next.delete(k);
    else next.add(k);
    return next;
  });
  return html`<section data-testid="events"><h2>Firewall and secure module</h2>
    <div class="chips" role="group" aria-label="show events of these kinds">${SECURITY_KINDS.map((k) => html`<button class=${`chip ${k}${shown.has(k) ? ' on' : ''}`} aria-pressed=${shown.has(k)} data-testid=${`filter-${k}`} onClick=${() => toggle(k)}>
      ${KIND_TITLES[k]} <b data-testid=${`count-${k}`}>${counts[k] ?? 0}</b></button>`)}</div>
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
    ${state.clients.length === 0 ? html`<p class="muted">no client connected</p>` : html`<div class="scroll"><table>
      <tr><th class="num">id</th><th>process</th><th class="num">pid</th><th>buffers</th><th>bytes</th><th class="num">fds</th><th class="num">requests</th><th class="num">connected</th></tr>
      ${state.clients.map((c) => html`<tr data-testid=${`client-row-${c.id}`}><td class="num">${c.id}</td><td>${c.comm ?? html`<span class="muted">(no HELLO)</span>`}</td><td class="num">${c.pid ?? '-'}</td>
        <td><${Meter} value=${c.buffers} max=${l.maxClientBuffers} format=${String} /></td><td><${Meter} value=${c.bytes} max=${l.maxClientBytes} format=${size} /></td>
        <td class="num">${c.fds} / ${l.maxFds}</td><td class="num">${c.requests}</td><td class="num">${ago(c.connectedAt)}</td></tr>`)}
    </table></div>`}
    <div data-testid="health"><h2>Daemon limits and health</h2>
      <p class=${state.internalErrors ? 'bad' : 'muted'}>internal errors: ${state.internalErrors ?? 0}${state.internalErrors ? ' (requests answered EIO: see smafd\'s log)' : ''}</p>
      <div class="scroll"><table><tr><th>limit</th><th>used</th></tr>
      ${(state.limitUsage ?? []).map((u) => html`<tr><td>--${u.option}${u.note ? html` <span class="muted">(${u.note})</span>` : null}</td>
        <td><${Meter} value=${u.used} max=${u.limit} format=${/bytes|backlog/.test(u.option) ? size : String} /></td></tr>`)}
      </table></div></div>
  </section>`;
}

function Devices({ state }) {
  return html`<section data-testid="devices"><h2>Devices</h2><div class="scroll"><table>
    <tr><th>device</th><th>class</th><th class="num">DMA mask</th><th>IOMMU</th><th>secure</th><th class="num">max segment</th><th>bus</th></tr>
    ${state.devices.map((d) => {
      const c = state.bus[d.name];
      return html`<tr><td><b>${d.name}</b> <span class="muted">${d.description ?? ''}</span></td><td>${d.class}</td><td class="num">${d.dmaMask} bit</td><td>${d.iommu ? 'yes' : 'no'}</td><td>${d.secure ? 'yes' : 'no'}</td><td class="num">${size(d.maxSegmentSize)}</td>
        <td class="muted">${c ? `${size(c.bytesRead)} read, ${size(c.bytesWritten)} written${c.denials ? `, ${c.denials} denied` : ''}` : '-'}</td></tr>`;
    })}
  </table></div></section>`;
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
      <section class="wide" style="padding:0;border:none;background:none"><${Devices} state=${state} /></section>
      <${TraceViewer} colorOf=${colorOf} size=${size} />
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
