import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pino } from 'pino';
import { DaemonContext, DEFAULT_LIMITS } from '../daemon/context.ts';
import { createSmafSystem } from '../presets/default.ts';
import { createMetrics, denialKind, METRIC_DOCS } from './metrics.ts';

test('every metric is documented in the README and exported with its HELP and TYPE', async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const { smaf, platform } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const m = createMetrics(ctx);
  const buf = smaf.create(1 << 20);
  buf.map(buf.attach(platform.device('display')), 1);
  const text = await m.registry.metrics();
  for (const doc of METRIC_DOCS) {
    assert.ok(readme.includes(`| \`${doc.name}\` | ${doc.type} |`), `README documents ${doc.name}`);
    assert.match(text, new RegExp(`^# TYPE ${doc.name} ${doc.type}$`, 'm'));
  }
  assert.match(text, /^smaf_allocation_latency_seconds_count\{allocator="smaf-cma",outcome="allocated"\} 1$/m);
  assert.match(text, /^smaf_region_bytes_in_use\{region="cma",kind="cma"\} 1048576$/m);
  assert.match(text, /^smaf_buffers\{state="allocated"\} 1$/m);
  m.close();
});

test('denials are classified by kind', () => {
  assert.equal(denialKind({ actor: 'display', message: 'firewall refused display write of 54 bytes' }), 'firewall');
  assert.equal(denialKind({ actor: 'gpu', message: 'Cannot attach device "gpu" to buffer 3: ...' }), 'attach');
  assert.equal(denialKind({ actor: 'cpu', message: 'Cannot mmap buffer 3 from the CPU: ...' }), 'cpu-map');
  assert.equal(denialKind({ actor: 'vdec', message: 'Cannot map buffer 3 for device "vdec": ...' }), 'grant');
});
