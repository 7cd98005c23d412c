/**
 * Traces recorded from real runs (scripts/record-traces.ts: the built-in scenarios, the SDP demo,
 * the C programs of native/tests under `smaf exec`, the kernel's dma-heap selftest and libsmaf's
 * test program) replay in process with every outcome matching, on the platform they were recorded on.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { replay } from '../src/replay/engine.ts';
import { loadTrace, replayPlatform } from '../src/replay/load.ts';
import { ROOT } from './helpers/daemon.ts';

const DIR = join(ROOT, 'test/fixtures/traces');
const traces = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('the recorded traces are there: scenarios, the SDP demo, C programs, the kernel selftest, libsmaf', () => {
  for (const name of ['camera', 'share', 'sdp', 'demo-sdp', 'c-dma-heap', 'c-smaf-uapi', 'c-share', 'c-threads', 'kernel-dmabuf-heap-selftest', 'libsmaf-test-smaf']) {
    assert.ok(traces.includes(`${name}.json`), name);
  }
});

for (const file of traces) {
  test(`${file}: every outcome matches on the platform it was recorded on`, () => {
    const { recording } = loadTrace(join(DIR, file));
    assert.ok(recording.header?.complete, 'a whole recording');
    assert.ok(recording.records.some((r) => r.op !== 'CONNECT' && r.op !== 'DISCONNECT' && r.op !== 'HELLO'), 'it recorded real work');
    const r = replay(recording, { spec: replayPlatform(recording).spec });
    assert.deepEqual(r.differences.slice(0, 5), [], `${r.differencesTotal} differences`);
    assert.equal(r.internalErrors, 0);
    assert.equal(r.replayed, recording.records.length);
  });
}
