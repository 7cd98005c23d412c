// `npx tsx scripts/record-traces.ts [--out DIR] [--only NAMES] [--program NAME=PATH[,ARGS...]]...`
//
// Records the traces the replay tests read (test/fixtures/traces/): each workload runs against a
// fresh smafd of its own (the embedded platform), as a user would run it, then `smaf trace export`
// writes its trace. Re-run it after a change to what smafd records or to what the clients send (a
// new op, the preload library) and commit the traces; the tests check that each still replays
// with every outcome matching.
//
// Workloads: the built-in scenarios (camera, share, sdp), the SDP demo, and the C programs of
// native/tests under `smaf exec`: zero-copy (smafd's addon, which needs a C compiler where smafd
// runs: the recording is refused without it), and one of them in copy mode (`--no-zero-copy`). `--program NAME=PATH[,ARG...]` records any other program under
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

/** A workload: the smaf arguments that run it (after --socket), and smafd's own (C programs: zero-copy or not). */
interface Workload {
  readonly run: () => string[];
  readonly mode?: 'zero-copy' | 'copy';
}
const WORKLOADS: Record<string, Workload> = {
  camera: { run: () => ['run', 'camera'] },
  share: { run: () => ['run', 'share'] },
  sdp: { run: () => ['run', 'sdp'] },
  'demo-sdp': { run: () => ['demo', 'sdp'] },
  'c-smaf-uapi': { run: () => ['exec', '--', exe('smaf-uapi')], mode: 'zero-copy' },
  'c-dma-heap': { run: () => ['exec', '--heaps', 'all', '--', exe('dma-heap'), 'system', 'linux,cma', 'protected,secure-carveout'], mode: 'zero-copy' },
  'c-share': { run: () => ['exec', '--', exe('share'), 'linux,cma'], mode: 'zero-copy' },
  'c-threads': { run: () => ['exec', '--', exe('threads'), 'system'], mode: 'zero-copy' },
  'c-share-copy': { run: () => ['exec', '--', exe('share'), 'linux,cma'], mode: 'copy' },
};
for (const p of opts.program ?? []) {
  const [name, spec] = p.split('=', 2) as [string, string | undefined];
  if (!spec) throw new Error(`--program ${p}: write NAME=PATH[,ARG...]`);
  const [path, ...args] = spec.split(',');
  WORKLOADS[name] = { run: () => ['exec', '--', path!, ...args], mode: 'zero-copy' };
}

function smaf(socket: string, args: readonly string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', socket, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

async function record(name: string, workload: Workload): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'smafd-record-'));
  const socket = join(dir, 'smaf.sock');
  const copy = workload.mode === 'copy' ? ['--no-zero-copy'] : [];
  const d = spawn(process.execPath, [join(ROOT, 'bin/smafd.js'), '--socket', socket, '--no-dashboard', ...copy], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    // smafd's banner says how C programs reach it
    if (workload.mode && /C programs \(smaf exec\): .*, zero-copy$/m.test(log) !== (workload.mode === 'zero-copy')) throw new Error(`${name}: smafd is not in ${workload.mode} mode:\n${log}`);
    const run = smaf(socket, workload.run());
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
