import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameLayout } from '../common/pixel-format.ts';
import { parseScenario } from './scenario.ts';

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
