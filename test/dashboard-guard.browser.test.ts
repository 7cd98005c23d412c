/**
 * The dashboard shows every client's buffers: it answers only its token holder, under its own Host
 * and Origin (issue 11 section 3, issue 17). Checked with plain HTTP requests and in Chromium, where a
 * page of another origin on the same machine tries to read it.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import { DaemonContext } from '../src/daemon/context.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { startDashboard, type Dashboard } from '../src/web/server.ts';
import { launchChromium } from './helpers/browser.ts';

let dash: Dashboard;
let ctx: DaemonContext;
let origin: string;
let port: number;

before(async () => {
  const { smaf } = createSmafSystem();
  ctx = new DaemonContext(smaf, pino({ level: 'silent' }));
  dash = await startDashboard({ context: ctx, port: 0, throttleMs: 5, slowViewerBytes: 64 * 1024, slowViewerMs: 300 });
  origin = new URL(dash.url).origin;
  port = Number(new URL(dash.url).port);
});
after(async () => {
  await dash.close();
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('no token: 401; a wrong token: 403; the right one in the URL: a strict HttpOnly cookie and a redirect that drops it', async () => {
  assert.equal((await get('/')).status, 401);
  assert.equal((await get('/api/state')).status, 401);
  assert.equal((await get('/?token=guess')).status, 403);
  assert.equal((await get('/api/state', { authorization: 'Bearer guess' })).status, 403);
  const first = await get(`/?token=${dash.token}`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, '/');
  const cookie = String(first.headers['set-cookie']);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const page = await get('/', { cookie: cookie.split(';')[0]! });
  assert.equal(page.status, 200);
  assert.match(page.body, /<html/i);
  assert.equal((await get('/api/state', { authorization: `Bearer ${dash.token}` })).status, 200);
});

test('a request under another Host name (DNS rebinding) or from another Origin is refused even with the token', async () => {
  const auth = { authorization: `Bearer ${dash.token}` };
  const rebind = await get('/api/state', { ...auth, host: `attacker.example:${port}` });
  assert.equal(rebind.status, 403);
  assert.match(rebind.body, /Host/);
  assert.equal((await get('/api/state', { ...auth, host: `127.0.0.1:${port + 1}` })).status, 403);
  assert.equal((await get('/api/state', { ...auth, host: `localhost:${port}` })).status, 200);
  assert.equal((await get('/api/state', { ...auth, origin: 'http://attacker.example' })).status, 403);
  assert.equal((await get('/api/state', { ...auth, origin: `http://127.0.0.1:${port + 1}` })).status, 403);
  assert.equal((await get('/api/state', { ...auth, origin })).status, 200);
});

function openWs(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('the WebSocket: refused from another Origin or without the token; a message over 4 KiB closes it', async () => {
  await assert.rejects(openWs({ origin: 'http://attacker.example', authorization: `Bearer ${dash.token}` }), /HTTP 403/);
  await assert.rejects(openWs({ origin }), /HTTP 401/);
  const ws = await openWs({ origin, authorization: `Bearer ${dash.token}` });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(Buffer.alloc(64 * 1024));
  assert.equal(await closed, 1009, 'message too big');
});

test('a viewer that never reads gets no more updates and is dropped; the others keep theirs', { timeout: 60_000 }, async () => {
  const auth = { origin, authorization: `Bearer ${dash.token}` };
  const slow = await openWs(auth);
  const fast = await openWs(auth);
  let fastMessages = 0;
  fast.on('message', () => fastMessages++);
  (slow as unknown as { _socket: { pause(): void } })._socket.pause();
  const viewers = dash.viewers();
  assert.equal(viewers, 2);
  const end = Date.now() + 30_000;
  let i = 0;
  while (dash.viewers() === 2 && Date.now() < end) {
    const b = ctx.smaf.create(4096);
    b.put();
    if (++i % 20 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(dash.viewers(), 1, 'the slow viewer was dropped');
  const before = fastMessages;
  ctx.smaf.create(4096).put();
  // pushes are spaced by what they cost (at most MAX_PUSH_GAP_MS apart): wait up to that, and more
  for (const end = Date.now() + 5000; fastMessages === before && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
  assert.ok(fastMessages > before, 'the reading viewer still gets updates');
  fast.close();
  slow.terminate();
});

test('in Chromium: without the token the page says 401; a page of another origin cannot read the dashboard, even with its cookie', async () => {
  const browser = await launchChromium();
  let evil: Server | null = null;
  try {
    const page = await browser.newPage();
    const r = await page.goto(`${origin}/`);
    assert.equal(r!.status(), 401);
    assert.match(await page.innerText('body'), /access token/);
    await page.goto(dash.url); // now the browser holds the cookie
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<script>
        window.result = (async () => {
          const out = {};
          try { out.fetch = (await fetch('${origin}/api/state', { credentials: 'include' })).status; } catch (e) { out.fetch = 'error'; }
          out.ws = await new Promise((resolve) => {
            const ws = new WebSocket('ws://127.0.0.1:${port}/ws');
            ws.onmessage = () => resolve('read the state');
            ws.onerror = () => resolve('refused');
            ws.onclose = () => resolve('refused');
          });
          return out;
        })();
      </script>`);
    });
    await new Promise<void>((resolve) => evil!.listen(0, '127.0.0.1', () => resolve()));
    const evilPort = (evil.address() as { port: number }).port;
    const attacker = await browser.newPage();
    await attacker.goto(`http://127.0.0.1:${evilPort}/`);
    const result = await attacker.evaluate(() => (globalThis as unknown as { result: Promise<Record<string, unknown>> }).result);
    assert.notEqual(result.fetch, 200, JSON.stringify(result));
    assert.equal(result.ws, 'refused');
  } finally {
    await browser.close();
    evil?.close();
  }
});
