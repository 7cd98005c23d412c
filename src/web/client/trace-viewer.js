// The trace viewer of the dashboard: a trace file (smaf trace export, or JSON Lines) opened or
// dropped, replayed here in the browser (src/replay/viewer.ts), with a slider over its operations:
// the memory map, the buffers and the events as they stood at that moment, the timeline with the
// moment marked. An operation whose replayed outcome differs from the recording is red on the
// slider and in the list; one click shows why.
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { hex } from '../../common/units.ts';
import { TraceViewer as Viewer } from '../../replay/viewer.ts';
import { Timeline } from './timeline.js';

const html = htm.bind(h);

const STYLE = `
  .tv-open { display:flex; flex-wrap:wrap; gap:8px; align-items:center; padding:10px; border:1px dashed var(--line); border-radius:6px; }
  .tv-open.over { border-color:var(--accent); background:#16222e; }
  .tv-open input[type=file] { position:absolute; width:1px; height:1px; opacity:0; }
  .tv-slider { display:flex; gap:8px; align-items:center; margin:8px 0 2px; }
  .tv-slider input[type=range] { flex:1 1 auto; }
  .tv-marks { width:100%; height:10px; display:block; }
  .tv-marks rect { fill:var(--bad); cursor:pointer; }
  .tv-grid { display:grid; grid-template-columns:minmax(0,3fr) minmax(0,2fr); gap:12px; margin-top:8px; }
  .tv-diff { color:var(--bad); }
  .tv-diff button { margin-left:6px; }
  .tv-error { color:var(--bad); white-space:pre-wrap; font:12px/1.45 ui-monospace, Menlo, Consolas, monospace; }
  .tv-explain { white-space:pre-wrap; margin:4px 0; font:12px/1.45 ui-monospace, Menlo, Consolas, monospace; border-left:3px solid var(--bad); padding-left:8px; }
  .tv-ok { color:var(--ok); }
  @media (max-width: 900px) { .tv-grid { grid-template-columns:minmax(0,1fr); } }
`;

/** A region's memory at the moment, to scale. */
function RegionMap({ region, colorOf, size }) {
  const scale = (a) => ((a - region.base) / region.size) * 1000;
  return html`<div class="region" data-testid=${`trace-region-${region.name}`}>
    <div class="label"><span><b>${region.name}</b> ${region.kind} · ${hex(region.base)} · ${size(region.size)}</span>
      <span data-testid=${`trace-region-usage-${region.name}`}>${size(region.inUse)} in use · largest free ${size(region.largestFree)}</span></div>
    <svg class="map" viewBox="0 0 1000 30" preserveAspectRatio="none">
      ${region.occupancy.map((o) => html`<rect x=${scale(o.base)} y="3" width=${Math.max(0.8, (o.length / region.size) * 1000)} height="24" fill=${colorOf(o.allocator)}>
        <title>buffer ${o.buffer} · ${size(o.length)} at ${hex(o.base)} · ${o.allocator}${o.secure ? ' · secure' : ''}</title></rect>`)}
    </svg></div>`;
}

function Buffers({ moment, size, colorOf, onExplain }) {
  return html`<div data-testid="trace-buffers"><h2>Buffers then (${moment.buffers.length})</h2>
    ${moment.buffers.length === 0 ? html`<p class="muted">no live buffer</p>` : html`<div class="scroll"><table>
      <tr><th class="num">id</th><th class="num">size</th><th>memory</th><th>attachments</th><th>held by</th></tr>
      ${moment.buffers.map((b) => html`<tr class="clickable" data-testid=${`trace-buffer-${b.buffer}`} tabindex="0" onClick=${() => onExplain(b.buffer)}
        onKeyDown=${(ev) => { if (ev.key === 'Enter') onExplain(b.buffer); }}>
        <td class="num">${b.buffer}${b.label ? html` <span class="tag">${b.label}</span>` : null}</td><td class="num">${size(b.length)}</td>
        <td>${b.allocator ? html`<span class="tag" style=${`border-left:3px solid ${colorOf(b.allocator)}`}>${b.allocator}</span>` : html`<span class="tag deferred">deferred</span>`}${b.secure ? html`<span class="tag secure">secure</span>` : null}</td>
        <td>${b.attachments.map((a) => html`<span class=${`tag${a.mapped ? ' mapped' : ''}`}>${a.device}${a.mapped ? ' ✓' : ''}</span>`)}</td>
        <td class="muted">${b.holders.join(', ') || '-'}</td></tr>`)}
    </table></div>`}</div>`;
}

function Events({ moment }) {
  const list = moment.events.slice(-200).reverse();
  return html`<div data-testid="trace-events"><h2>Events so far</h2><div class="events">
    ${list.length === 0 ? html`<p class="muted">none yet</p>` : list.map((e) => html`<div class=${`ev ${e.kind}`}><span class="t">#${e.op}</span><span class="k">${e.kind}</span> <b>${e.actor}</b> ${e.message} <span class="muted">[${e.clientLabel}]</span></div>`)}
  </div></div>`;
}

/** The red marks of the operations that differ, along the slider: a click goes there. */
function Marks({ viewer, onJump }) {
  const total = Math.max(1, viewer.total);
  return html`<svg class="tv-marks" viewBox="0 0 1000 10" preserveAspectRatio="none" data-testid="trace-marks">
    ${viewer.allDifferences.map((d) => html`<rect x=${(d.index / total) * 1000} y="0" width="3" height="10" onClick=${() => onJump(d)}><title>#${d.seq} ${d.op}: recorded ${d.recorded}, replayed ${d.replayed}</title></rect>`)}
  </svg>`;
}

function Differences({ moment, onJump, explained }) {
  if (moment.differences.length === 0) return html`<p class="tv-ok" data-testid="trace-differences">no difference so far</p>`;
  return html`<div data-testid="trace-differences">${moment.differences.slice(-50).map((d) => html`<div class="tv-diff" data-testid=${`trace-difference-${d.seq}`}>
    #${d.seq} (line ${d.line}) ${d.op} by client ${d.client}${d.buffer !== null ? `, buffer ${d.buffer}` : ''}: recorded ${d.recorded}, replayed ${d.replayed}
    <button class="chip" data-testid=${`trace-explain-${d.seq}`} onClick=${() => onJump(d)}>explain</button>
    ${explained?.seq === d.seq ? html`<div class="tv-explain" data-testid="trace-explain">${explained.text}</div>` : null}</div>`)}</div>`;
}

/** Opening: a file chosen or dropped, read, replayed once whole. */
function useTrace(policy) {
  const [file, setFile] = useState(null);
  const [state, setState] = useState({ viewer: null, error: null });
  useEffect(() => {
    if (!file) return;
    let stale = false;
    file.text().then((text) => {
      if (stale) return;
      try {
        setState({ viewer: new Viewer(text, file.name, policy), error: null });
      } catch (e) {
        setState({ viewer: null, error: e.message });
      }
    });
    return () => { stale = true; };
  }, [file, policy]);
  return { ...state, file, open: setFile };
}

function Opener({ onFile, policy, setPolicy }) {
  const [over, setOver] = useState(false);
  return html`<div class=${`tv-open${over ? ' over' : ''}`} data-testid="trace-drop"
      onDragOver=${(ev) => { ev.preventDefault(); setOver(true); }} onDragLeave=${() => setOver(false)}
      onDrop=${(ev) => { ev.preventDefault(); setOver(false); if (ev.dataTransfer.files[0]) onFile(ev.dataTransfer.files[0]); }}>
    <label class="chip">open a trace...<input type="file" accept=".json,.jsonl,application/json" data-testid="trace-file" onChange=${(ev) => ev.target.files[0] && onFile(ev.target.files[0])} /></label>
    <span class="muted">or drop one here: <code>smaf trace export -o trace.json</code>, or JSON Lines from your own logs</span>
    <label class="muted">policy <select data-testid="trace-policy" value=${policy} onChange=${(ev) => setPolicy(ev.target.value)}>
      <option value="deferred">deferred (SMAF)</option><option value="eager">eager (ION, dma-heaps)</option></select></label>
  </div>`;
}

export function TraceViewer({ colorOf, size }) {
  const [policy, setPolicy] = useState('deferred');
  const { viewer, error, file, open } = useTrace(policy);
  // the moment belongs to its viewer: a new trace starts at its end (no effect to race a first move)
  const [at, setAt] = useState({ viewer: null, position: 0, explained: null });
  const current = at.viewer === viewer ? at : { viewer, position: viewer ? viewer.total : 0, explained: null };
  const { position, explained } = current;
  const setPosition = (p) => setAt({ ...current, position: p });
  const setExplained = (e) => setAt({ ...current, explained: e });
  const moment = useMemo(() => (viewer ? viewer.at(position) : null), [viewer, position]);
  const jump = (d) => {
    const m = viewer.at(d.index + 1);
    const buf = d.buffer !== null ? viewer.replayedBuffer(d.buffer) : null;
    const more = buf !== null ? viewer.explainBuffer(buf) : null;
    setAt({ viewer, position: m.position, explained: { seq: d.seq, text: [d.explain ?? '', more ?? ''].filter(Boolean).join('\n\n') } });
  };
  const explainBuffer = (id) => setExplained({ seq: null, text: viewer.explainBuffer(id) ?? `buffer ${id} is gone` });
  const differs = viewer?.allDifferences.length ?? 0;
  return html`<section class="wide" data-testid="trace-viewer"><style>${STYLE}</style><h2>Trace replay</h2>
    <${Opener} onFile=${open} policy=${policy} setPolicy=${setPolicy} />
    ${error ? html`<div class="tv-error" data-testid="trace-error">${error}</div>` : null}
    ${viewer && moment ? html`
      <p data-testid="trace-summary" class=${differs ? 'tv-diff' : 'tv-ok'}>${viewer.total} operations of ${file.name} on platform "${viewer.spec.name}", policy ${policy}:
        ${differs ? ` ${differs} differ from the recording (red below)` : ' every outcome matches the recording'}</p>
      <div class="tv-slider">
        <button class="chip" aria-label="previous operation" onClick=${() => setPosition(Math.max(0, position - 1))}>◀</button>
        <input type="range" min="0" max=${viewer.total} value=${moment.position} aria-label="moment of the replay" data-testid="trace-slider" onInput=${(ev) => setPosition(Number(ev.target.value))} />
        <button class="chip" aria-label="next operation" onClick=${() => setPosition(Math.min(viewer.total, position + 1))}>▶</button>
      </div>
      <${Marks} viewer=${viewer} onJump=${jump} />
      <p data-testid="trace-position">${moment.op ? html`after operation ${moment.position} of ${moment.total}: <b>#${moment.op.seq} ${moment.op.op}</b> by client ${moment.op.client}${moment.op.errno ? ` (recorded ${moment.op.errno})` : ''} · ${new Date(moment.time).toISOString().slice(11, 23)}` : `before the first of ${moment.total} operations`}</p>
      <${Differences} moment=${moment} onJump=${jump} explained=${explained} />
      ${explained?.seq === null ? html`<div class="tv-explain" data-testid="trace-explain">${explained.text}</div>` : null}
      <div class="tv-grid">
        <div data-testid="trace-memory-map"><h2>Memory then</h2>${moment.regions.map((r) => html`<${RegionMap} region=${r} colorOf=${colorOf} size=${size} />`)}</div>
        <${Buffers} moment=${moment} size=${size} colorOf=${colorOf} onExplain=${explainBuffer} />
      </div>
      <${Events} moment=${moment} />
      <${Timeline} events=${viewer.allEvents} now=${viewer.endTime} colorOf=${colorOf} size=${size} marker=${moment.time} initialSpan=${0} />` : null}
  </section>`;
}
