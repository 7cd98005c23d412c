/**
 * The dashboard shows every client's buffers: it answers only its token holder, under its own Host
 * and Origin (issue 11 section 3, issue 17), and the token never rides in a cookie (issue 21 item
 * 6: cookies ignore ports, so a cookie of 127.0.0.1 reaches every other server on 127.0.0.1).
 * Checked with plain HTTP requests and in Chromium, where another server on 127.0.0.1 listens for
 * anything the browser would hand it.
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { BrowserContext, Page } from 'playwright-core';
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

type Reply = { status: number; headers: IncomingHttpHeaders; body: string };

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers, method }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

function openWs(headers: Record<string, string>, protocols: string[] = [], path = '/ws'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('the printed URL carries the token in its fragment, which no browser sends to a server', () => {
  assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{32}$/);
  assert.equal(new URL(dash.url).search, '');
});

test('no token: the page loads (it holds no data), every data route is 401; a wrong token 403; the right one as a bearer 200; never a Set-Cookie', async () => {
  const replies: Reply[] = [];
  const r = async (path: string, headers: Record<string, string> = {}): Promise<Reply> => {
    const reply = await get(path, headers);
    replies.push(reply);
    return reply;
  };
  assert.equal((await r('/')).status, 200);
  assert.equal((await r('/app.js')).status, 200);
  for (const path of ['/api/state', '/api/events', '/api/trace.json', '/api/buffers', '/api/explain/1', '/api/access', '/metrics', '/nowhere']) {
    const reply = await r(path);
    assert.equal(reply.status, 401, path);
    assert.match(reply.body, /#token=\.\.\..*Authorization: Bearer/, path);
    assert.equal((await r(path, { authorization: 'Bearer guess' })).status, 403, path);
  }
  const auth = { authorization: `Bearer ${dash.token}` };
  assert.equal((await r('/api/state', auth)).status, 200);
  assert.equal((await r('/api/access', auth)).status, 204);
  const metrics = await r('/metrics', auth);
  assert.equal(metrics.status, 200, 'Prometheus scrapes with "authorization: { credentials: TOKEN }"');
  assert.match(metrics.body, /smaf_region_size_bytes/);
  assert.equal(metrics.headers['referrer-policy'], 'no-referrer');
  assert.deepEqual(replies.filter((x) => x.headers['set-cookie'] !== undefined), [], 'no Set-Cookie, ever');
});

test('the old ?token= URL: a redirect to the fragment form (nothing stored); anywhere else it is refused; the old cookie opens nothing', async () => {
  const old = await get(`/?token=${dash.token}`);
  assert.equal(old.status, 303);
  assert.equal(old.headers.location, `/#token=${dash.token}`);
  assert.equal(old.headers['set-cookie'], undefined);
  assert.equal((await get('/?token=guess')).status, 403);
  const query = await get(`/api/state?token=${dash.token}`);
  assert.equal(query.status, 401);
  assert.match(query.body, /a token in the query string is not accepted here: send "Authorization: Bearer TOKEN"/);
  // what the browser held before: the cookie of the old guard
  for (const name of ['smaf_dashboard_token', 'token']) {
    const cookie = { cookie: `${name}=${dash.token}` };
    assert.equal((await get('/api/state', cookie)).status, 401, `a ${name} cookie`);
    await assert.rejects(openWs({ ...cookie, origin }), /HTTP 401/, `a ${name} cookie on the WebSocket`);
  }
});

test('a request under another Host name (DNS rebinding) or from another Origin is refused even with the token', async () => {
  const auth = { authorization: `Bearer ${dash.token}` };
  const rebind = await get('/api/state', { ...auth, host: `attacker.example:${port}` });
  assert.equal(rebind.status, 403);
  assert.match(rebind.body, /Host/);
  assert.equal((await get('/', { host: `attacker.example:${port}` })).status, 403, 'the page too');
  assert.equal((await get('/api/state', { ...auth, host: `127.0.0.1:${port + 1}` })).status, 403);
  assert.equal((await get('/api/state', { ...auth, host: `localhost:${port}` })).status, 200);
  assert.equal((await get('/api/state', { ...auth, origin: 'http://attacker.example' })).status, 403);
  assert.equal((await get('/api/state', { ...auth, origin: `http://127.0.0.1:${port + 1}` })).status, 403);
  assert.equal((await get('/api/state', { ...auth, origin })).status, 200);
});

test('the WebSocket: refused without the token, with a wrong one, from another Origin; the token as a subprotocol opens it and is not echoed', async () => {
  await assert.rejects(openWs({ origin, authorization: `Bearer ${dash.token}` }, [], '/ws').then((ws) => ws.close()).then(() => openWs({ origin: 'http://attacker.example', authorization: `Bearer ${dash.token}` })), /HTTP 403/);
  await assert.rejects(openWs({ origin }), /HTTP 401/);
  await assert.rejects(openWs({ origin }, ['smaf-dashboard']), /HTTP 401/);
  await assert.rejects(openWs({ origin }, ['smaf-dashboard', 'smaf-token.guess']), /HTTP 403/);
  await assert.rejects(openWs({ origin }, ['smaf-dashboard'], '/ws/events'), /HTTP 401/);
  const ws = await openWs({ origin }, ['smaf-dashboard', `smaf-token.${dash.token}`]);
  assert.equal(ws.protocol, 'smaf-dashboard', 'the answer names the dashboard\'s subprotocol, not the token');
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(Buffer.alloc(64 * 1024));
  assert.equal(await closed, 1009, 'message too big');
  const events = await openWs({ origin }, ['smaf-dashboard', `smaf-token.${dash.token}`], '/ws/events');
  events.close();
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

/** Another server on 127.0.0.1: it records every request the browser sends it, and serves `page` (an attacker's script). */
async function neighbour(page = '<p>neighbour</p>'): Promise<{ server: Server; port: number; seen: { url: string; headers: IncomingHttpHeaders }[] }> {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.setHeader('content-type', 'text/html');
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as { port: number }).port, seen };
}

/** Every Set-Cookie the page's responses carry. */
function watchCookies(page: Page): string[] {
  const setCookies: string[] = [];
  page.on('response', async (r) => {
    const v = (await r.allHeaders())['set-cookie'];
    if (v !== undefined) setCookies.push(`${r.url()}: ${v}`);
  });
  return setCookies;
}

test('in Chromium: the token leaves the address bar, no cookie is set, and another server on 127.0.0.1 receives nothing of it', async () => {
  const browser: BrowserContext = await launchChromium();
  const other = await neighbour();
  try {
    const page = await browser.newPage();
    const setCookies = watchCookies(page);
    await page.goto(dash.url);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    assert.equal(page.url(), `${origin}/`, 'the address bar holds no token after the first load');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { location: { href: string } }).location.href), `${origin}/`);
    // the page works with its token: an explanation, paged buffers, the event stream, the download
    const b = ctx.smaf.create(4096);
    await page.getByTestId(`buffer-row-${b.id}`).click();
    await page.getByTestId('explain').getByText(`buffer ${b.id}`).first().waitFor();
    const download = page.waitForEvent('download');
    await page.getByTestId('download-trace').click();
    assert.match((await download).suggestedFilename(), /^smaf-trace-.*\.json$/);
    b.put();
    // a reload keeps the tab's token (sessionStorage), still with a clean address bar
    await page.reload();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    assert.equal(page.url(), `${origin}/`);
    assert.deepEqual(await browser.cookies(), [], 'the browser holds no cookie at all');
    assert.deepEqual(setCookies, []);

    // the neighbour: navigated to from the dashboard's tab, opened in another, fetched by the page
    await page.evaluate((u) => fetch(u, { credentials: 'include', mode: 'no-cors' }).then(() => undefined), `http://127.0.0.1:${other.port}/fetched`);
    await page.goto(`http://127.0.0.1:${other.port}/navigated`);
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${other.port}/other-tab`);
    assert.ok(other.seen.length >= 3, JSON.stringify(other.seen.map((s) => s.url)));
    for (const s of other.seen) {
      assert.ok(!JSON.stringify(s).includes(dash.token), `the neighbour got the token: ${JSON.stringify(s)}`);
      assert.equal(s.headers.cookie, undefined, `${s.url} came with a cookie`);
    }
  } finally {
    await browser.close();
    other.server.close();
  }
});

test('in Chromium: without the token the page says how to get it; a wrong one is named; the old cookie and a page of another origin read nothing', async () => {
  const browser = await launchChromium();
  const evil = await neighbour(`<script>
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
  try {
    const page = await browser.newPage();
    const r = await page.goto(`${origin}/`);
    assert.equal(r!.status(), 200);
    assert.match(await page.getByTestId('access').innerText(), /needs its access token: open the URL smafd printed at start-up/);
    await page.goto(`${origin}/#token=guess`);
    await page.reload();
    assert.match(await page.getByTestId('access').innerText(), /refused the access token this tab holds/);
    // a browser still holding the old guard's cookie, on the dashboard's own page, gets nothing
    await browser.addCookies([{ name: 'smaf_dashboard_token', value: dash.token, domain: '127.0.0.1', path: '/' }]);
    const fresh = await browser.newPage();
    await fresh.goto(`${origin}/`);
    assert.match(await fresh.getByTestId('access').innerText(), /needs its access token/);
    const sameOrigin = await fresh.evaluate(async (p) => ({
      fetch: (await fetch('/api/state', { credentials: 'include' })).status,
      ws: await new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${p}/ws`, ['smaf-dashboard']);
        ws.onmessage = () => resolve('read the state');
        ws.onerror = () => resolve('refused');
      }),
    }), port);
    assert.deepEqual(sameOrigin, { fetch: 401, ws: 'refused' });
    // and another origin, with the cookie in the jar
    const attacker = await browser.newPage();
    await attacker.goto(`http://127.0.0.1:${evil.port}/`);
    const result = await attacker.evaluate(() => (globalThis as unknown as { result: Promise<Record<string, unknown>> }).result);
    assert.notEqual(result.fetch, 200, JSON.stringify(result));
    assert.equal(result.ws, 'refused');
  } finally {
    await browser.close();
    evil.server.close();
  }
});

test('in Chromium: a buffer name with markup or a bidi override is shown as text, never as markup', async () => {
  const browser = await launchChromium();
  try {
    const b = ctx.smaf.create(4096);
    b.setLabel('<img src=x onerror="window.pwned=1">'); // raw, as no daemon would store it
    const page = await browser.newPage();
    await page.goto(dash.url);
    const name = page.getByTestId(`buffer-name-${b.id}`);
    await name.waitFor();
    assert.equal(await name.innerText(), '<img src=x onerror="window.pwned=1">');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    b.put();
  } finally {
    await browser.close();
  }
});
