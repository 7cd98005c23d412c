// `npx tsx scripts/record-traces.ts [--out DIR] [--only NAMES] [--program NAME=PATH[,ARGS...]]...`
//
// Records the traces the replay tests read (test/fixtures/traces/): each workload runs against a
// fresh smafd of its own (the embedded platform), as a user would run it, then `smaf trace export`
// writes its trace. Re-run it after a change to what smafd records or to what the clients send (a
// new op, the preload library) and commit the traces; the tests check that each still replays
// with every outcome matching.
//
// Workloads: the built-in scenarios (camera, share, sdp), the SDP demo, and the C programs of
// native/tests under `smaf exec`. `--program NAME=PATH[,ARG...]` records any other program under
// `smaf exec` as NAME.json (the kernel's dma-heap selftest, libsmaf's tests: programs fetched and
// built by hand; no test depends on them).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { C_FLAGS, NATIVE_DIR, runCompiler } from '../src/native/build.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const program = new Command('record-traces')
  .option('--out <dir>', 'where the traces go', join(ROOT, 'test/fixtures/traces'))
  .option('--only <names>', 'comma-separated workloads (default: every built-in one)')
  .option('--program <name=path[,args]>', 'also record a program under smaf exec (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
  .parse(process.argv);
const opts = program.opts<{ out: string; only?: string; program?: string[] }>();

const bin = mkdtempSync(join(tmpdir(), 'smaf-record-'));
const exe = (name: string): string => {
  const out = join(bin, name);
  runCompiler([...C_FLAGS, '-pthread', '-o', out, join(NATIVE_DIR, 'tests', `${name}.c`)]);
  return out;
};

/** A workload: the smaf arguments that run it (after --socket). */
type Workload = () => string[];
const WORKLOADS: Record<string, Workload> = {
  camera: () => ['run', 'camera'],
  share: () => ['run', 'share'],
  sdp: () => ['run', 'sdp'],
  'demo-sdp': () => ['demo', 'sdp'],
  'c-smaf-uapi': () => ['exec', '--', exe('smaf-uapi')],
  'c-dma-heap': () => ['exec', '--heaps', 'all', '--', exe('dma-heap'), 'smaf', 'system', 'linux,cma', 'protected,secure-carveout'],
  'c-share': () => ['exec', '--', exe('share'), 'linux,cma'],
  'c-threads': () => ['exec', '--', exe('threads'), 'system'],
};
for (const p of opts.program ?? []) {
  const [name, spec] = p.split('=', 2) as [string, string | undefined];
  if (!spec) throw new Error(`--program ${p}: write NAME=PATH[,ARG...]`);
  const [path, ...args] = spec.split(',');
  WORKLOADS[name] = () => ['exec', '--', path!, ...args];
}

function smaf(socket: string, args: readonly string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', socket, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

async function record(name: string, workload: Workload): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'smafd-record-'));
  const socket = join(dir, 'smaf.sock');
  const d = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--socket', socket, '--no-dashboard'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  d.stdout.on('data', (b) => (log += b));
  d.stderr.on('data', (b) => (log += b));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`smafd did not start:\n${log}`)), 20_000);
    d.stdout.on('data', () => {
      if (/dashboard off/.test(log)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  try {
    const run = smaf(socket, workload());
    if (run.code !== 0) throw new Error(`${name}: the workload failed (exit ${run.code}):\n${run.out}`);
    const file = join(opts.out, `${name}.json`);
    const exp = smaf(socket, ['trace', 'export', '-o', file]);
    if (exp.code !== 0) throw new Error(`${name}: trace export failed:\n${exp.out}`);
    console.log(`${name}: ${file}`);
  } finally {
    d.kill('SIGTERM');
    await new Promise((resolve) => d.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync(opts.out, { recursive: true });
const names = opts.only ? opts.only.split(',') : Object.keys(WORKLOADS);
try {
  for (const n of names) {
    const w = WORKLOADS[n];
    if (!w) throw new Error(`no workload "${n}" (${Object.keys(WORKLOADS).join(', ')})`);
    await record(n, w);
  }
} finally {
  rmSync(bin, { recursive: true, force: true });
}
