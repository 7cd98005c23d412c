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

test('smaf ps shows what a process holds in the TEE: buffers held only by TEE shared memory, its sessions and shm', () => {
  const report: ProcessReport = {
    processes: [
      { client: 5, pid: 77, comm: 'tee-sdp', totals: { buffers: 1, bytes: 16384, cpuMappedBytes: 0 }, buffers: [
        { buffer: 9, size: 16384, name: null, allocator: 'smaf-optee', nameHint: 'smaf-optee', secure: true, fds: [], cpuMapped: false, dmaMapped: false, dmaDevices: [], sharedBy: 1, teeShm: [2] },
      ], tee: { contexts: 1, sessions: [{ id: 1, uuid: '12345678-5b69-11e4-9dbb-101f74f00001', ta: 'smaf-sdp-test' }], shm: [{ id: 2, kind: 'dma-buf', size: 16384, buffer: 9 }, { id: 3, kind: 'registered', size: 8, buffer: null }] } },
    ],
    allocators: [{ allocator: 'smaf-optee', buffers: 1, bytes: 16384 }],
    total: { buffers: 1, bytes: 16384 },
  };
  const text = formatProcesses(report);
  assert.match(text, /buffer 9 .*16 KiB {2}smaf-optee, secure; TEE shm 2$/m);
  assert.match(text, /TEE: 1 context open; session 1 to smaf-sdp-test; shm 2 \(dma-buf of buffer 9, 16 KiB\), shm 3 \(registered, 8 B\)$/m);
});
