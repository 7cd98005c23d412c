/** Warnings rate-limited per cause, with the count of what was suppressed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { RateLimitedLog } from './log-limit.ts';

function setup(perWindow = 3, windowMs = 1000) {
  let now = 0;
  const lines: { msg: string; suppressed?: number; level: number; client?: number }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const limited = new RateLimitedLog(log, perWindow, windowMs, () => now);
  return { limited, lines, advance: (ms: number) => (now += ms) };
}

test('a cause is logged a few times per window; the rest are counted and said once when the window ends', () => {
  const { limited, lines, advance } = setup();
  for (let i = 0; i < 1000; i++) limited.warn('malformed frame: closing this connection', { client: i });
  assert.deepEqual(lines.map((l) => l.client), [0, 1, 2], 'three logged, 997 suppressed');
  advance(1000);
  limited.warn('malformed frame: closing this connection', { client: 1000 });
  assert.deepEqual(lines.slice(3).map((l) => [l.msg, l.suppressed]), [
    ['malformed frame: closing this connection: suppressed 997 similar warnings in 1 s', 997],
    ['malformed frame: closing this connection', undefined],
  ]);
});

test('causes are limited apart: a flood of one does not hide another', () => {
  const { limited, lines } = setup();
  for (let i = 0; i < 100; i++) limited.warn('malformed frame: closing this connection', {});
  limited.warn('request left half-sent for 30000 ms (read_timeout): closing this connection', {});
  assert.equal(lines.filter((l) => l.msg.startsWith('request left half-sent')).length, 1);
  assert.equal(lines.length, 4);
});

test('the count is said when the window ends even if the cause never comes back, and at flush; errors stay errors', async () => {
  let now = 0;
  const lines: { msg: string; level: number }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const limited = new RateLimitedLog(log, 1, 20, () => now);
  limited.warn('internal error', {}, 'error');
  limited.warn('internal error', {}, 'error');
  await new Promise((r) => setTimeout(r, 60));
  now = 20;
  assert.deepEqual(lines.map((l) => [l.msg, l.level]), [['internal error', 50], ['internal error: suppressed 1 similar warning in 0.02 s', 50]]);
  limited.warn('x', {});
  limited.warn('x', {});
  limited.flush();
  assert.equal(lines.at(-1)!.msg, 'x: suppressed 1 similar warning in 0.02 s');
});

test('with the real clock: the count comes when the window ends, not before; a window without suppression says nothing', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) });
  const limited = new RateLimitedLog(log, 1, 150);
  limited.warn('flood', {});
  limited.warn('flood', {});
  limited.warn('quiet', {});
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(lines, ['flood', 'quiet'], 'nothing said before the window ends');
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual(lines, ['flood', 'quiet', 'flood: suppressed 1 similar warning in 0.15 s']);
  limited.flush();
  assert.equal(lines.length, 3, 'the quiet cause suppressed nothing: no line');
  limited.warn('flood', {});
  assert.equal(lines.at(-1), 'flood', 'a new window logs again');
});
