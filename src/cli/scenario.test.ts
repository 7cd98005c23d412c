import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameLayout } from '../common/pixel-format.ts';
import { checkScenario } from './scenario-check.ts';
import { parseScenario, runScenario } from './scenario.ts';

test('a scenario create takes a frame (with align) and names the bad field otherwise', () => {
  const s = parseScenario('name: f\nsteps:\n  - create: { buffer: a, size: 1366x768:NV12, align: 64 }\n');
  const step = s.steps[0] as { create: { size: number; frame?: string } };
  assert.equal(step.create.size, frameLayout('1366x768:NV12', { align: 64 }).size);
  assert.equal(step.create.frame, '1366x768:NV12');
  assert.throws(() => parseScenario('name: f\nsteps:\n  - create: { buffer: a, size: 1921x1080:NV12 }\n'), /steps\[0\]\.create\.size: NV12 subsamples chroma/);
  assert.throws(() => parseScenario('name: f\nsteps:\n  - create: { buffer: a, size: 4096, align: 64 }\n'), /align applies to a frame size/);
});

test('an invalid step names the step, the field and the problem; an unknown action suggests the nearest', () => {
  const bad = (steps: string) => () => parseScenario(`name: f\nsteps:\n${steps}`);
  assert.throws(bad('  - craete: { buffer: a, size: 4096 }\n'), /steps\[0\]: unknown action "craete" \(did you mean create\?\)/);
  assert.throws(bad('  - say: hi\n  - create: { buffer: a, size: 4XB }\n'), /steps\[1\]\.create\.size: unknown size suffix "XB"/);
  assert.throws(bad('  - map: { attachment: a, direction: sideways }\n'), /steps\[0\]\.map\.direction: /);
  assert.throws(bad('  - { create: { buffer: a, size: 1 }, map: { attachment: a } }\n'), /steps\[0\]: a step has exactly one action, this one has create, map/);
  assert.throws(bad('  - frobnicate: {}\n'), /unknown action "frobnicate" \(actions: create/);
});

test('pools and streams: frames with their layout, stages that read, write or both, and the refusals of a stage that cannot be', () => {
  const s = parseScenario('name: s\nsteps:\n  - pool: { name: frames, count: 3, size: 1280x720:NV12, modifier: allwinner }\n  - stream: { frames: 5, stages: [{ device: isp, from: x, writes: frames }, { device: display, reads: frames, client: ds }] }\n');
  const pool = (s.steps[0] as { pool: { size: number; layout?: { modifier: { name: string } } } }).pool;
  assert.equal(pool.size, frameLayout('1280x720:NV12', { modifier: 'ALLWINNER_TILED' }).size);
  assert.equal(pool.layout!.modifier.name, 'ALLWINNER_TILED');
  assert.deepEqual(s.lines, [3, 4]);
  const bad = (stage: string) => () => parseScenario(`name: s\nsteps:\n  - stream: { frames: 2, stages: [${stage}] }\n`);
  assert.throws(bad('{ device: gpu }'), /a stage reads a pool, writes one, or both/);
  assert.throws(bad('{ device: gpu, from: a, reads: p }'), /reads either a pool \(reads\) or a buffer \(from\), not both/);
  assert.throws(bad('{ device: gpu, reads: p, writes: p, expect_crc_text: x }'), /expect_crc_text applies to a stage that only reads/);
  assert.throws(() => parseScenario('name: s\nsteps:\n  - pool: { name: "a b", count: 2, size: 4096 }\n'), /a pool name is a word/);
  assert.throws(() => parseScenario('name: s\nsteps:\n  - pool: { name: p, count: 0, size: 4096 }\n'), /steps\[0\]\.pool\.count/);
});

test('the check: a step expected to fail defines nothing; a closed buffer, a crashed client and a stream\'s attachments are tracked', () => {
  const scenario = (steps: string) => parseScenario(`name: c\nsteps:\n${steps}`, 'c.yaml');
  // an attach expected to fail defines no attachment
  assert.throws(() => checkScenario(scenario('  - create: { buffer: a, size: 4096, secure: true }\n  - attach: { buffer: a, device: gpu, as: g, expect_error: EPERM }\n  - map: { attachment: g }\n'), null),
    /line 5, steps\[2\]\.map\.attachment: no attachment named "g" is defined before this step/);
  // the buffers of a client that crashed are gone with it; the consumer's stay
  assert.throws(() => checkScenario(scenario('  - create: { buffer: a, size: 4096 }\n  - share: { buffer: a, to: consumer, as: b }\n  - disconnect: { client: main }\n  - stat: { buffer: b }\n  - stat: { buffer: a }\n'), null),
    /line 7, steps\[4\]\.stat\.buffer: no buffer named "a"/);
  assert.throws(() => checkScenario(scenario('  - disconnect: { client: ghost }\n'), null), /no client "ghost" has run a step before this one/);
  // a copy between two clients' attachments cannot run
  assert.throws(() => checkScenario(scenario('  - create: { buffer: a, size: 4096 }\n  - attach: { buffer: a, device: gpu, as: g }\n  - create: { client: other, buffer: b, size: 4096 }\n  - attach: { buffer: b, device: gpu, as: h }\n  - dma_copy: { dst: g, src: h, length: 1 }\n'), null),
    /"h" belongs to client other and "g" to main: a DMA copy runs in one client/);
  // a stream names its attachments BUFFER@DEVICE, in the client driving the device
  const ok = checkScenario(scenario('  - pool: { name: f, count: 2, size: 4096 }\n  - create: { buffer: leak, size: 4096 }\n  - stream: { frames: 2, stages: [{ device: crypto, from: leak, writes: f }] }\n  - dma_crc: { attachment: "f[1]@crypto", length: 4096, expect_error: EACCES }\n'), new Set(['crypto']));
  assert.deepEqual(ok.targets, ['f[0..1]', 'leak', 'f', 'f[1]']);
  assert.throws(() => checkScenario(scenario('  - pool: { name: f, count: 2, size: 4096 }\n  - stream: { frames: 2, stages: [{ device: crypto, writes: f, from: nothing }] }\n'), null), /stages\[0\]\.from: no buffer named "nothing"/);
});

test('a scenario that would fail part-way connects to nothing', async () => {
  let connected = 0;
  const s = parseScenario('name: c\nsteps:\n  - create: { buffer: a, size: 4096 }\n  - close: { buffer: b }\n');
  await assert.rejects(runScenario(s, async () => {
    connected++;
    throw new Error('never');
  }), /would fail part-way: nothing was run/);
  assert.equal(connected, 0);
});
