/**
 * The package as a user gets it. Always: each export entry (lib/*.js, for plain Node) exports what
 * its source module does. With SMAF_TEST_LONG=1 (npm run test:long), offline from the npm cache:
 * `npm pack` installed with --omit=dev into an empty app runs `smaf --help`, starts smafd, serves a
 * plain-Node client importing `smaf-ts/client`, and type-checks it against the shipped
 * declarations; and a clean copy of the repo runs `npm ci --omit=dev && npm start`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/daemon.ts';

const LONG = process.env.SMAF_TEST_LONG === '1';
const ENTRIES = [['client', '../src/client/client.ts'], ['core', '../src/core/index.ts'], ['system', '../src/presets/default.ts']] as const;

test('every package entry exports exactly what its source module exports', async () => {
  for (const [entry, source] of ENTRIES) {
    const wrapper = Object.keys(await import(`../lib/${entry}.js`)).sort();
    const real = Object.keys(await import(source)).sort();
    assert.deepEqual(wrapper, real, `lib/${entry}.js`);
  }
});

function run(cmd: string, args: readonly string[], options: SpawnSyncOptions): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...options });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${String(r.stderr)}${String(r.stdout)}`);
  return String(r.stdout);
}

/** Start smafd (`cmd args`), wait for its "listening on" line, run `fn`, stop it. */
async function withSmafd(cmd: string, args: readonly string[], cwd: string, fn: (socket: string) => void): Promise<void> {
  const socket = join(mkdtempSync(join(tmpdir(), 'smaf-pkg-')), 's.sock');
  const p = spawn(cmd, [...args, '--socket', socket, '--no-dashboard'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`smafd did not start: ${out}`)), 60_000);
      p.stdout.on('data', () => out.includes('listening on') && (clearTimeout(t), resolve()));
      p.on('exit', (code) => (clearTimeout(t), reject(new Error(`smafd exited ${code}: ${out}`))));
    });
    fn(socket);
  } finally {
    if (p.exitCode === null) process.kill(-p.pid!, 'SIGTERM'); // npm start runs smafd in a child: the whole group
    await new Promise((r) => (p.exitCode === null ? p.once('exit', r) : r(null)));
  }
}

const CONSUMER = `import { SmafClient } from 'smaf-ts/client';
const c = await SmafClient.connect(process.argv[2]);
const fd = await c.create(4096);
const st = await c.stat(fd);
console.log(\`buffer of \${st.size} bytes, allocated: \${st.allocated}\`);
await c.close();
`;

test('npm pack, installed without devDependencies: smaf --help, smafd, smaf-ts/client from plain Node, declarations', { skip: !LONG, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-pack-'));
  try {
    run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    // the tarball's files in an app's node_modules, its dependencies as the lockfile pins them (offline:
    // `npm install` of a tarball would ask the registry for package metadata)
    const app = join(dir, 'app');
    const pkg = join(app, 'node_modules/smaf-ts');
    mkdirSync(dirname(pkg), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    run('tar', ['-xzf', join(dir, tarball), '-C', dir], {});
    cpSync(join(dir, 'package'), pkg, { recursive: true });
    cpSync(join(ROOT, 'package-lock.json'), join(pkg, 'package-lock.json'));
    run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: pkg });
    assert.ok(!existsSync(join(pkg, 'node_modules/typescript')), 'no devDependency installed');
    assert.ok(!existsSync(join(pkg, 'src/testing')) && !existsSync(join(pkg, 'src/core/smaf.test.ts')), 'no tests shipped');
    assert.match(run(process.execPath, [join(pkg, 'bin/smaf.js'), '--help'], { cwd: app }), /Usage: smaf/);
    writeFileSync(join(app, 'consumer.mjs'), CONSUMER);
    writeFileSync(join(app, 'consumer.ts'), CONSUMER);
    await withSmafd(process.execPath, [join(pkg, 'bin/smafd.js')], app, (socket) => {
      assert.match(run(process.execPath, ['consumer.mjs', socket], { cwd: app }), /buffer of 4096 bytes, allocated: false/);
    });
    // the shipped declarations type the client for a TypeScript user (the repo's tsc: the app has none)
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules/@types'), 'consumer.ts'], { cwd: app });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clean copy of the repo: npm ci --omit=dev && npm start serves smafd', { skip: !LONG, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-clone-'));
  try {
    const files = run('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT }).split('\n').filter((f) => f && existsSync(join(ROOT, f)));
    for (const f of files) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(ROOT, f), join(dir, f));
    }
    run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: dir });
    assert.ok(!existsSync(join(dir, 'node_modules/typescript')), 'no devDependency installed');
    await withSmafd('npm', ['start', '--'], dir, () => {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
