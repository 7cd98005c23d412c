import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCameraPipelineDemo } from './camera-pipeline.ts';

test('the camera pipeline demo runs and tells the story', () => {
  const lines: string[] = [];
  runCameraPipelineDemo((l) => lines.push(l));
  const out = lines.join('\n');
  assert.match(out, /allocated by system/);
  assert.match(out, /no-match\s+smaf-cma|allocated\s+system/);
  assert.match(out, /refused \(EBUSY\)/);
  assert.match(out, /now in smaf-cma \(cma\)/);
  assert.match(out, /allocated by smaf-cma at map by isp/);
  assert.match(out, /bytes in use in every pool: 0/);
});
