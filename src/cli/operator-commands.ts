/** `smaf events` (the daemon's journal, filtered and paged on the daemon) and `smaf trace export`. */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { parser } from '../daemon/options.ts';
import type { SmafClient } from '../client/client.ts';
import { SmafError } from '../common/errors.ts';
import { parseSince } from '../common/time.ts';
import type { JournalEvent } from '../daemon/journal.ts';
import { EVENT_KINDS, isEventKind, traceFileText, X_EVENTS_MAX_LIMIT, X_RECORDING_MAX_LIMIT, type EventQuery } from '../uapi/index.ts';
import type { EventKind } from '../platform/index.ts';
import { out } from './context.ts';
import { printable } from '../common/printable.ts';

export interface OperatorGlobals {
  readonly json?: boolean;
}

type WithClient = <T>(fn: (c: SmafClient) => Promise<T>) => Promise<T>;

/** A count the user typed: a whole number >= 1, else EINVAL naming the option. */
function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new SmafError('EINVAL', `"${value}" is not a positive whole number`);
  }
  return Number(value);
}

/** A sequence number: a whole number >= 0. */
function parseSeq(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw new SmafError('EINVAL', `"${value}" is not an event sequence number (a whole number, as "next" gives it)`);
  return Number(value);
}

function parseKinds(value: string): EventKind[] {
  const kinds = value.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !isEventKind(k));
  if (bad.length || kinds.length === 0) {
    throw new SmafError('EINVAL', `unknown event kind${bad.length > 1 ? 's' : ''} ${bad.map((k) => `"${k}"`).join(', ') || '""'} (valid: ${EVENT_KINDS.join(', ')})`);
  }
  return kinds as EventKind[];
}

const SINCE = (): Option => new Option('--since <time>', 'only events since then: a duration ago (30s, 5m, 2h) or an ISO date').argParser(parser(parseSince));

/** Events as `smaf events` got them: how many matched, whether more follow, the cursor to go on from. */
interface FetchedEvents {
  readonly events: JournalEvent[];
  readonly matched: number;
  /** Paging forward (`--after`): events after the last one shown remain. */
  readonly more: boolean;
  /** The cursor for `--after`: the last event shown (or the one given). */
  readonly next: number;
}

/**
 * The events matching `query`: the newest `limit`, or with `forward` the first `limit` after
 * `query.after` (then `more` and `next` page on). Fetched from the daemon a page at a time (the
 * daemon filters; a page holds at most X_EVENTS_MAX_LIMIT).
 */
export async function fetchEvents(c: SmafClient, query: Partial<EventQuery>, limit: number, forward = false): Promise<FetchedEvents> {
  if (forward) {
    const all: JournalEvent[] = [];
    let after = query.after ?? 0;
    let matched = -1;
    let more: boolean;
    do {
      const page = await c.events({ ...query, after, limit: Math.min(X_EVENTS_MAX_LIMIT, limit - all.length), newest: false });
      if (matched < 0) matched = page.matched;
      all.push(...page.events);
      after = page.next;
      more = page.more;
    } while (more && all.length < limit);
    return { events: all, matched, more, next: after };
  }
  if (limit <= X_EVENTS_MAX_LIMIT) {
    const page = await c.events({ ...query, limit, newest: true });
    return { events: [...page.events], matched: page.matched, more: false, next: page.events.at(-1)?.seq ?? query.after ?? 0 };
  }
  const all: JournalEvent[] = [];
  let after = query.after ?? 0;
  let matched = 0;
  for (;;) {
    const page = await c.events({ ...query, after, limit: X_EVENTS_MAX_LIMIT, newest: false });
    if (all.length === 0) matched = page.matched;
    all.push(...page.events);
    if (!page.more) break;
    after = page.next;
  }
  const events = all.slice(-limit);
  return { events, matched, more: false, next: events.at(-1)?.seq ?? query.after ?? 0 };
}

function formatEvents(events: readonly JournalEvent[]): string[] {
  const who = (e: JournalEvent): string => printable(e.clientLabel ?? 'smafd', 'line');
  const seqWidth = Math.max(1, ...events.map((e) => String(e.seq).length));
  const whoWidth = Math.max(5, ...events.map((e) => who(e).length));
  const actorWidth = Math.max(5, ...events.map((e) => e.actor.length));
  const kindWidth = Math.max(...EVENT_KINDS.map((k) => k.length));
  return events.map((e) => `  #${String(e.seq).padStart(seqWidth)} ${new Date(e.time).toISOString().slice(11, 23)} ${who(e).padEnd(whoWidth)} ${e.kind.padEnd(kindWidth)} ${e.actor.padEnd(actorWidth)} ${printable(e.message, 'line')}`);
}

/**
 * Print the events matching `query`: the newest `limit`, or with `forward` the first `limit` after
 * `query.after`. With --json, one document: the events, how many matched, and the cursor to page on.
 */
export async function printEvents(c: SmafClient, g: OperatorGlobals, query: Partial<EventQuery>, limit: number, title?: string, forward = false): Promise<void> {
  const { events, matched, more, next } = await fetchEvents(c, query, limit, forward);
  if (g.json) return out(JSON.stringify({ events, matched, more, next }, null, 2));
  if (title) out(`\n${title}`);
  for (const line of formatEvents(events)) out(line);
  if (events.length === 0) out('  (none)');
  else if (more) out(`  (more follow: --after ${next} for the next ${limit})`);
  else if (!forward && matched > events.length) out(`  (the last ${events.length} of ${matched} matching events; -l ${matched} for all, or --after 0 to page from the oldest)`);
}

/**
 * The trace file: the journal's trace (X_TRACE) and the recording (X_RECORDING, a page at a time,
 * up to what it held when the export began: the export's own requests are not chased).
 */
async function exportTrace(c: SmafClient, since: number): Promise<string> {
  const first = await c.recording(0);
  const records = [...first.records];
  const total = first.header.ops;
  while (records.length < total) {
    const page = await c.recording(records.length, Math.min(X_RECORDING_MAX_LIMIT, total - records.length));
    if (page.records.length === 0) break;
    records.push(...page.records);
  }
  const trace = await c.trace(since);
  return traceFileText(trace, { ...first.header, ops: records.length }, records);
}

export function addOperatorCommands(program: Command, g: () => OperatorGlobals, withClient: WithClient): void {
  program
    .command('events')
    .description('the daemon\'s event log (its journal, filtered on the daemon): allocations, maps, grants, revocations, denials; newest last')
    .addOption(new Option('-k, --kind <kinds>', `comma-separated kinds: ${EVENT_KINDS.join(', ')}`).argParser(parser(parseKinds)))
    .addOption(new Option('-l, --limit <n>', 'how many of the newest matching events').default(50).argParser(parser(parseCount)))
    .addOption(SINCE())
    .addOption(new Option('-c, --client <id>', 'only events caused by this client id').argParser(parser(parseCount)))
    .addOption(new Option('-b, --buffer <id>', 'only events of this buffer id').argParser(parser(parseCount)))
    .addOption(new Option('--after <seq>', 'page forward: the first --limit events after this sequence number (0: from the oldest kept; --json gives "next")').argParser(parser(parseSeq)))
    .action(async (o: { kind?: EventKind[]; limit: number; since?: number; client?: number; buffer?: number; after?: number }) => {
      const query: Partial<EventQuery> = {
        ...(o.after !== undefined ? { after: o.after } : {}),
        ...(o.kind !== undefined ? { kinds: o.kind } : {}),
        ...(o.since !== undefined ? { since: o.since } : {}),
        ...(o.client !== undefined ? { client: o.client } : {}),
        ...(o.buffer !== undefined ? { buffer: o.buffer } : {}),
      };
      await withClient((c) => printEvents(c, g(), query, o.limit, undefined, o.after !== undefined));
    });

  const trace = program.command('trace').description('export the daemon\'s journal as a trace');
  trace
    .command('export')
    .description('Chrome trace-event JSON of every buffer\'s life (open it in ui.perfetto.dev), with the recording of every operation that smaf replay and smaf what-if read (docs/trace.md)')
    .addOption(SINCE())
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (o: { since?: number; output?: string }) => {
      const since = o.since ?? 0;
      await withClient(async (c) => {
        const text = `${await exportTrace(c, since)}\n`;
        if (o.output) {
          writeFileSync(o.output, text);
          process.stderr.write(`smaf: trace written to ${o.output} (${Buffer.byteLength(text)} bytes); open it in ui.perfetto.dev\n`);
        } else process.stdout.write(text);
      });
    });
}
