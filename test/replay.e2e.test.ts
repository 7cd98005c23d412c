/**
 * `smaf replay` and `smaf what-if` as a user runs them: a pipeline run on a real smafd, its trace
 * exported, replayed with no daemon; exit codes 0, 1, 22; the JSON documents; the smallest CMA a
 * what-if finds, checked against direct runs on smafd at that size and one step below.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Errno } from '../src/common/errors.ts';
import { checkChromeTrace } from '../src/daemon/trace-check.ts';
import { C_FLAGS, NATIVE_DIR, runCompiler } from '../src/native/build.ts';
import { defaultPlatformSpec, platformDocument } from '../src/platform/index.ts';
import { parseVariation, settingOf } from '../src/replay/vary.ts';
import { runBin } from './helpers/cli.ts';
import { startDaemon } from './helpers/daemon.ts';

const dir = mkdtempSync(join(tmpdir(), 'smaf-replay-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Run a workload (smaf arguments) against a fresh smafd on `platform` (default: the embedded one); its exit code and, when asked, its trace. */
async function onSmafd(args: readonly string[], opts: { platform?: string; trace?: string; daemonArgs?: string[] } = {}): Promise<number | null> {
  const d = await startDaemon(['--no-dashboard', ...(opts.platform ? ['--platform', opts.platform] : []), ...(opts.daemonArgs ?? [])]);
  try {
    const r = await runBin('smaf', ['--socket', d.socket, ...args], 120_000);
    if (opts.trace) {
      const e = await runBin('smaf', ['--socket', d.socket, 'trace', 'export', '-o', opts.trace]);
      assert.equal(e.code, 0, e.stderr);
    }
    return r.code;
  } finally {
    await d.stop();
  }
}

/** The embedded platform with CMA of `bytes`, as a platform file (what what-if replayed on). */
function platformWithCma(bytes: number): string {
  const spec = defaultPlatformSpec();
  const s = settingOf({ spec, preset: {}, policy: 'deferred' }, parseVariation(`cma.size=${bytes}`, spec), bytes);
  const file = join(dir, `cma-${bytes}.json`);
  writeFileSync(file, JSON.stringify(platformDocument(s.spec)));
  return file;
}

const camera = join(dir, 'camera.json');
before(async () => {
  assert.equal(await onSmafd(['run', 'camera'], { trace: camera }), 0);
});

test('a camera run on smafd, exported, replays in process: exit 0, every outcome matches, a valid Perfetto trace', async () => {
  assert.deepEqual(checkChromeTrace(JSON.parse(readFileSync(camera, 'utf8'))), []);
  const r = await runBin('smaf', ['replay', camera]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^replayed \d+ operations of .*camera\.json on platform "media-soc" \(the platform it was recorded on\), policy deferred\nevery outcome matches the recording\n/);
  assert.match(r.stdout, /^ {2}cma +3040 KiB of 64 MiB +largest free +61 MiB/m);
  assert.match(r.stdout, /first failure: none/);
  const j = await runBin('smaf', ['--json', 'replay', camera]);
  const doc = JSON.parse(j.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['replayed', 'differences', 'peak', 'firstFailure']);
  assert.deepEqual({ ...doc, replayed: 0 }, { replayed: 0, differences: [], peak: { dram: 0, cma: 3112960, sdp: 0 }, firstFailure: null });
});

test('replayed on a smaller CMA: exit 1, each operation that differs with the explain of the decision', async () => {
  const small = platformWithCma(2 << 20);
  const r = await runBin('smaf', ['replay', camera, '--platform', small]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /on platform "media-soc" \(.*cma-2097152\.json\)/);
  assert.match(r.stdout, /\d+ operations differ from the recording \(\d+ that succeeded there fail here\):\n {2}#\d+ \(line \d+\) MAP by client \d+ \(smaf\.js\), buffer 1: recorded ok, replayed ENODEV\n {6}no memory for buffer 1 \(3040 KiB, for isp, gpu, display\): .*smaf-cma: region cma \(2 MiB\) is smaller than the buffer/);
  const doc = JSON.parse((await runBin('smaf', ['--json', 'replay', camera, '-p', small])).stdout) as { differences: Record<string, unknown>[]; firstFailure: Record<string, unknown> };
  assert.deepEqual(Object.keys(doc.differences[0]!), ['seq', 'op', 'client', 'buffer', 'recorded', 'replayed', 'explain']);
  assert.deepEqual({ op: doc.firstFailure.op, buffer: doc.firstFailure.buffer, recorded: doc.firstFailure.recorded, replayed: doc.firstFailure.replayed }, { op: 'MAP', buffer: 1, recorded: 'ok', replayed: 'ENODEV' });
});

test('--compare eager: both policies side by side; bad traces and platforms are 22 with the line and field, a missing one 2', async () => {
  const r = await runBin('smaf', ['replay', camera, '--compare', 'eager']);
  assert.equal(r.code, 0, 'the deferred replay matches');
  assert.match(r.stdout, /compared with eager:\n +deferred {2}eager\noperations that fail \(succeeded in the recording\) +0 {2}[1-9]/);
  assert.match(r.stdout, /eager's first failure: #\d+ ATTACH \(line \d+\): Cannot attach device "display" to buffer 1: the backing \(system\)/);
  const both = JSON.parse((await runBin('smaf', ['--json', 'replay', camera, '--compare', 'eager'])).stdout) as Record<string, { firstFailure: unknown }>;
  assert.deepEqual(Object.keys(both), ['deferred', 'eager']);
  assert.notEqual(both.eager!.firstFailure, null);

  const text = readFileSync(camera, 'utf8');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, text.replace('"op":"MAP"', '"op":"MAPP"'));
  const b = await runBin('smaf', ['replay', bad]);
  assert.equal(b.code, Errno.EINVAL);
  assert.match(b.stderr, /bad\.json is not a valid trace:\n {2}.*bad\.json:\d+: op: unknown operation "MAPP" \(did you mean MAP\?\)/);
  writeFileSync(bad, text.slice(0, Math.floor(text.length * 0.7)));
  assert.match((await runBin('smaf', ['replay', bad])).stderr, /bad\.json:\d+:\d+: the text ends .*\(the file is truncated\?\)/);
  const j = await runBin('smaf', ['--json', 'replay', bad]);
  assert.equal(JSON.parse(j.stdout).error.code, 'EINVAL');
  assert.equal((await runBin('smaf', ['replay', join(dir, 'none.json')])).code, Errno.ENOENT);
  writeFileSync(join(dir, 'p.yaml'), 'memory: []\n');
  const p = await runBin('smaf', ['replay', camera, '--platform', join(dir, 'p.yaml')]);
  assert.equal(p.code, Errno.EINVAL);
  assert.match(p.stderr, /p\.yaml is not a valid platform/);
  assert.equal((await runBin('smaf', ['replay', camera, '--policy', 'lazy'])).code, Errno.EINVAL);
});

test('a recording smafd could not keep whole is refused, saying how much it kept; --partial replays what it holds', async () => {
  const partial = join(dir, 'partial.json');
  assert.equal(await onSmafd(['run', 'camera'], { trace: partial, daemonArgs: ['--max-recorded-ops', '6'] }), 0);
  const r = await runBin('smaf', ['replay', partial]);
  assert.equal(r.code, Errno.EINVAL);
  assert.match(r.stderr, /the recording is incomplete: smafd kept its first 6 operations \(--max-recorded-ops\) and left out \d+ after them.*--partial replays it anyway/);
  const p = await runBin('smaf', ['replay', partial, '--partial']);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /replayed 6 operations .*PARTIAL: the recording holds only the first operations of the run/);
});

/**
 * The smallest CMA a what-if finds over a run's trace runs the workload on smafd directly; one step
 * below does not.
 */
async function smallestChecked(name: string, workload: readonly string[], range: string, step: number): Promise<number> {
  const trace = join(dir, `${name}.json`);
  assert.equal(await onSmafd(workload, { trace }), 0);
  const svg = join(dir, `${name}.svg`);
  const r = await runBin('smaf', ['--json', 'what-if', trace, '--vary', `cma.size=${range}`, '-o', svg], 180_000);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { key: string; rows: { value: number; failed: number; firstFailure: unknown; peak: Record<string, number> }[]; smallest: number };
  assert.deepEqual(Object.keys(doc), ['key', 'rows', 'smallest']);
  assert.deepEqual(Object.keys(doc.rows[0]!), ['value', 'failed', 'firstFailure', 'peak']);
  assert.equal(doc.key, 'cma.size');
  assert.ok(doc.rows.some((x) => x.failed > 0), `${name}: some sizes fail`);
  assert.match(readFileSync(svg, 'utf8'), /^<svg [^>]*>[\s\S]*smallest: /);
  const smallest = doc.smallest;
  assert.equal(await onSmafd(workload, { platform: platformWithCma(smallest) }), 0, `${name} runs on smafd with cma ${smallest}`);
  assert.notEqual(await onSmafd(workload, { platform: platformWithCma(smallest - step) }), 0, `${name} does not run with cma ${smallest - step}`);
  return smallest;
}

test('what-if over cma.size: the smallest CMA that runs the camera pipeline, checked by running it there', async () => {
  const text = await runBin('smaf', ['what-if', camera, '--vary', 'cma.size=1MiB..4MiB:1MiB']);
  assert.match(text.stdout, /^value +failed +peak cma +free cma +first failure\n1 MiB +8 +0 B +1 MiB +#\d+ MAP ENODEV$/m);
  assert.match(text.stdout, /smallest cma\.size that runs this recording: 3 MiB$/m);
  assert.equal(await smallestChecked('camera-run', ['run', 'camera'], '1MiB..4MiB:1MiB', 1 << 20), 3 << 20);
});

test('what-if over cma.size: the SDP demo\'s smallest CMA, checked by running it there', async () => {
  const smallest = await smallestChecked('demo-sdp', ['demo', 'sdp'], '64KiB..256KiB:64KiB', 64 << 10);
  assert.equal(smallest, 128 << 10);
});

test('what-if over cma.size: a C program under smaf exec (dma-heap, as the kernel\'s selftest exercises heaps), checked by running it there', async () => {
  const exe = join(dir, 'dma-heap');
  runCompiler([...C_FLAGS, '-o', exe, join(NATIVE_DIR, 'tests', 'dma-heap.c')]);
  const smallest = await smallestChecked('c-dma-heap', ['exec', '--heaps', 'all', '--', exe, 'system', 'linux,cma', 'protected,secure-carveout'], '16MiB..40MiB:8MiB', 8 << 20);
  assert.equal(smallest, 32 << 20);
});

test('what-if refuses a second --vary and a key that names nothing', async () => {
  const two = await runBin('smaf', ['what-if', camera, '--vary', 'cma.size=1MiB', '--vary', 'gpu.iommu=on']);
  assert.equal(two.code, Errno.EINVAL);
  assert.match(two.stderr, /--vary: one setting at a time/);
  const none = await runBin('smaf', ['what-if', camera, '--vary', 'npu.iommu=on']);
  assert.equal(none.code, Errno.EINVAL);
  assert.match(none.stderr, /no device "npu"/);
  assert.equal((await runBin('smaf', ['what-if', camera])).code, Errno.EINVAL, '--vary is required');
});
