import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCameraPipelineDemo } from './camera-pipeline.ts';

test('the camera pipeline demo runs and tells the story', async () => {
  const lines: string[] = [];
  await runCameraPipelineDemo((l) => lines.push(l));
  const out = lines.join('\n');
  assert.match(out, /allocated by system/);
  assert.match(out, /no-match\s+smaf-cma|allocated\s+system/);
  assert.match(out, /refused \(EBUSY\)/);
  assert.match(out, /now in smaf-cma \(cma\)/);
  assert.match(out, /allocated by smaf-cma at map by isp/);
  assert.match(out, /bytes in use in every pool: 0/);
});

test('a watcher paces the demo: every step waits for it, and the release waits for the hold', async () => {
  const lines: string[] = [];
  const seen: string[] = [];
  await runCameraPipelineDemo((l) => lines.push(l), {
    beforeStep: async (n) => void seen.push(`step ${n} after ${lines.filter((l) => l.startsWith('\n[')).length} printed`),
    beforeRelease: async () => void seen.push(`release after ${lines.filter((l) => l.startsWith('\n[')).length} printed`),
  });
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7].map((n) => `step ${n} after ${n - 1} printed`).concat(['release after 7 printed', 'step 8 after 7 printed']));
});
