/**
 * What each benchmark figure means and the goal it is held to (issue 14). A goal bounds either the
 * ratio to the figure's same-run baseline or the value itself; a family of figures (the scale ones,
 * named by their size) shares one entry.
 */
import type { Metric } from './metric.ts';

export interface Goal {
  /** `ratio`: value / baseline; `value`: the figure itself, in its unit. */
  readonly on: 'ratio' | 'value';
  readonly max?: number;
  readonly min?: number;
}

export interface MetricDoc {
  readonly about: string;
  readonly baseline: string;
  readonly goal?: Goal;
}

/** By metric name, or by prefix (ending in "."). */
export const METRICS: Record<string, MetricDoc> = {
  'cma.fit.': { about: 'finding an aligned 8 MiB range in a 50% fragmented 1 GiB CMA bitmap (word at a time)', baseline: 'a naive bit-by-bit first fit over the same bitmap' },
  'core.lifecycle.4k': { about: 'create, attach, map, unmap, release of a 4 KiB buffer in-process (display, no IOMMU)', baseline: 'none: the kernel\'s dma-heap alloc+close of 4 KiB takes about 15.9 µs with two syscalls', goal: { on: 'value', max: 5 } },
  'core.release.32m_written': { about: 'releasing a 32 MiB buffer whose every page a device wrote: revoke, scrub, return', baseline: 'Buffer.fill(0) of 32 MiB (what a scrub of real bytes costs at least)' },
  'core.dma_copy.8m': { about: 'a device behind an IOMMU copies 8 MiB between two of its buffers, in-process', baseline: 'Buffer.copy of 8 MiB', goal: { on: 'ratio', max: 1.5 } },
  'core.zero_copy.share_release.256m': { about: 'a C program\'s 256 MiB buffer of scattered pages under zero-copy: smafd shares its pages with the buffer\'s file (first mmap) and scrubs and forgets them (last close), in-process CPU time', baseline: 'one memset of 256 MiB (a scrub that writes every page costs at least this)' },
  'deferred.compatibility': { about: 'share of 5,000 random pipelines whose every device could use its buffer (deferred allocation)', baseline: 'none (a share)', goal: { on: 'value', min: 1 } },
  'deferred.compatibility.eager_ion': { about: 'the same pipelines with the heap chosen at create, ION-style', baseline: 'none (a share; for comparison)' },
  'memory.overhead.unallocated': { about: 'heap bytes per live 4 KiB buffer that has no memory yet', baseline: 'a raw 4 KiB Uint8Array', goal: { on: 'value', max: 512 } },
  'memory.overhead.allocated': { about: 'heap bytes per live 4 KiB buffer allocated (CMA) and mapped by one device', baseline: 'a raw 4 KiB Uint8Array', goal: { on: 'value', max: 2048 } },
  'daemon.rtt.': { about: 'CREATE+CLOSE over the socket, one at a time', baseline: 'a Node echo server answering the same two frames' },
  'daemon.ops_per_s.': { about: 'CREATE+CLOSE pairs per second with concurrent clients', baseline: 'echo pairs per second' },
  'daemon.data.write_read_8m': { about: 'WRITE 8 MiB through a CPU mapping, READ it back, over the socket', baseline: 'the echo server receiving and returning the same two frames', goal: { on: 'ratio', max: 1.5 } },
  'daemon.dma_copy.8m': { about: 'DMA_COPY of 8 MiB by a device behind an IOMMU, over the socket', baseline: 'the echo server\'s round trip of the same frame plus Buffer.copy of 8 MiB', goal: { on: 'ratio', max: 1.5 } },
  'daemon.bystander.max_added_ms': { about: 'the worst bystander CREATE+CLOSE under a DMA flood (the attacker leaving included), less the idle p50; wall clock, so the machine\'s load is in it', baseline: 'the 10 ms goal itself', goal: { on: 'value', max: 10 } },
  'daemon.bystander.dma_flood_added_cpu_ms': { about: 'the most CPU smafd\'s event loop ran while one bystander CREATE+CLOSE waited under the DMA flood, less the idle p50: the work smafd did before answering, without the machine\'s load', baseline: 'the 10 ms goal itself', goal: { on: 'value', max: 10 } },
  'daemon.bystander.introspection_added_ms': { about: 'the worst bystander STAT while 16 connections of 1,024 fds pipeline X_EVENTS over a full journal, then leave, less the idle p50; wall clock', baseline: 'the 10 ms goal itself', goal: { on: 'value', max: 10 } },
  'daemon.bystander.introspection_added_cpu_ms': { about: 'the same flood: the most CPU smafd\'s event loop ran while one bystander STAT waited, less the idle p50', baseline: 'the 10 ms goal itself', goal: { on: 'value', max: 10 } },
  'daemon.bystander.introspection_p50': { about: 'a bystander\'s STAT while 16 connections of 1,024 fds pipeline X_EVENTS over a full journal', baseline: 'the same on an idle daemon' },
  'daemon.bystander.huge_map_close_added_ms': { about: 'the worst bystander STAT while a client maps and closes 510 MiB buffers of scattered pages (the first MAP and the last CLOSE), less the idle p50; wall clock', baseline: 'the 10 ms goal itself', goal: { on: 'value', max: 10 } },
  'daemon.bystander.huge_map_close_added_cpu_ms': { about: 'the same cycles: the most CPU smafd\'s event loop ran while one bystander STAT waited, less the idle p50', baseline: 'the 10 ms goal itself', goal: { on: 'value', max: 10 } },
  'daemon.bystander.': { about: 'a bystander\'s CREATE+CLOSE while another client pipelines 500 DMA_COPYs of 128 MiB', baseline: 'the same on an idle daemon' },
  'scale.create_close.': { about: 'CREATE+CLOSE p50 with N live buffers held by 100 clients', baseline: 'the same on an empty smafd, in alternating rounds', goal: { on: 'ratio', max: 1.2 } },
  'scale.dashboard.': { about: 'CREATE+CLOSE p50 at N live buffers with a dashboard viewer connected (state and event sockets)', baseline: 'the same without a viewer, in alternating rounds', goal: { on: 'ratio', max: 1.2 } },
  'replay.ops_per_s': { about: 'replaying a recording of 100,000 operations in process (`smaf replay`): 4 KiB lifecycles recorded by smafd', baseline: 'the raw in-process lifecycle, measured in the same run: the core\'s create, attach, map, unmap, release called directly (5 operations a cycle)', goal: { on: 'ratio', min: 0.5 } },
  'replay.what_if.': { about: '`smaf what-if` of N values of cma.size over the same 100,000-operation recording, on worker threads (one per core), wall time', baseline: 'none (the goal is the time itself)', goal: { on: 'value', max: 60 } },
  'shim.frame_cycle_ratio.system': { about: 'the same frame cycle on a system-heap dma-buf', baseline: 'memset of the frame on plain memory' },
  'shim.frame_cycle_ratio.copying': { about: 'the 1080p frame cycle on smafd --no-zero-copy (each SYNC END copies the frame over the socket)', baseline: 'memset of the frame on plain memory' },
  'shim.frame_cycle_ratio': { about: 'a C program writes a 1080p NV12 frame through a dma-buf mapping under `smaf exec`, SYNC START/END each frame (zero-copy)', baseline: 'memset of the frame on plain memory', goal: { on: 'ratio', max: 2 } },
  'shim.frame_cycle.sync_us': { about: 'the part of a 1080p frame cycle outside its memset: the SYNC START and END of an idle, mapped buffer', baseline: 'the whole frame cycle (a share)' },
  'shim.frame_cycle.4k': { about: 'the frame cycle with a 4K NV12 frame (12 MB)', baseline: 'memset of the frame on plain memory', goal: { on: 'ratio', max: 2 } },
  'shim.frame_read_ratio.copying': { about: 'the reader stage on smafd --no-zero-copy (each SYNC START READ copies the frame back)', baseline: 'the same sum of plain memory' },
  'shim.frame_read_ratio': { about: 'a second process maps the same 1080p buffer and sums the frame between SYNC READ START/END', baseline: 'the same sum of plain memory', goal: { on: 'ratio', max: 2 } },
  'shim.frame_read.4k': { about: 'the reader stage with a 4K frame', baseline: 'the same sum of plain memory', goal: { on: 'ratio', max: 2 } },
};

export function docOf(name: string): MetricDoc | undefined {
  if (METRICS[name]) return METRICS[name];
  const prefixes = Object.keys(METRICS).filter((k) => k.endsWith('.') && name.startsWith(k));
  return prefixes.length ? METRICS[prefixes.sort((a, b) => b.length - a.length)[0]!] : undefined;
}

/** "≤ 1.5x", "≤ 5 µs/op", "≥ 1 share". */
export function goalText(g: Goal, unit: string): string {
  const bound = g.max !== undefined ? `≤ ${g.max}` : `≥ ${g.min}`;
  return g.on === 'ratio' ? `${bound}x` : `${bound} ${unit}`;
}

/** Whether a figure meets its goal: true, false, or null when it has none (or no ratio to judge). */
export function meets(m: Metric, g: Goal | undefined): boolean | null {
  if (!g) return null;
  const x = g.on === 'ratio' ? m.ratio : m.value;
  if (x === null) return null;
  return (g.max === undefined || x <= g.max) && (g.min === undefined || x >= g.min);
}
