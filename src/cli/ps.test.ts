import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProcessReport } from '../daemon/processes.ts';
import { formatProcesses } from './ps.ts';

test('smaf ps lists the processes that hold buffers, each buffer, and the totals per allocator', () => {
  const report: ProcessReport = {
    processes: [
      { client: 3, pid: 4242, comm: 'camera', totals: { buffers: 2, bytes: 3 * 2 ** 20, cpuMappedBytes: 2 ** 20 }, buffers: [
        { buffer: 7, size: 2 ** 20, name: 'frame-0', allocator: 'smaf-cma', nameHint: 'smaf-cma', secure: false, fds: [3, 5], cpuMapped: true, dmaMapped: true, dmaDevices: ['isp', 'gpu'], sharedBy: 2 },
        { buffer: 8, size: 2 * 2 ** 20, name: null, allocator: null, nameHint: 'system', secure: true, fds: [4], cpuMapped: false, dmaMapped: false, dmaDevices: [], sharedBy: 1 },
      ] },
      { client: 4, pid: null, comm: null, totals: { buffers: 0, bytes: 0, cpuMappedBytes: 0 }, buffers: [] },
    ],
    allocators: [{ allocator: '(deferred)', buffers: 1, bytes: 2 * 2 ** 20 }, { allocator: 'smaf-cma', buffers: 1, bytes: 2 ** 20 }],
    total: { buffers: 2, bytes: 3 * 2 ** 20 },
  };
  const text = formatProcesses(report);
  assert.match(text, /^\s+4242 {2}camera\s+3\s+2\s+3 MiB\s+1 MiB$/m);
  assert.match(text, /^\s+PID\s+COMMAND\s+CLIENT\s+BUFFERS\s+SIZE\s+CPU-MAPPED$/m);
  assert.match(text, /buffer 7 .*1 MiB {2}smaf-cma, CPU-mapped, DMA-mapped by isp, gpu "frame-0"; smafd fd 3,5; shared by 2 processes/);
  assert.match(text, /buffer 8 .*2 MiB {2}deferred \(asks system\), secure; smafd fd 4$/m);
  assert.match(text, /\(1 other client holds nothing\)/);
  assert.match(text, /smaf-cma\s+1 buffers\s+1 MiB/);
  assert.match(text, /total\s+2 buffers\s+3 MiB/);
});
