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

function parseKinds(value: string): EventKind[] {
  const kinds = value.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !isEventKind(k));
  if (bad.length || kinds.length === 0) {
    throw new SmafError('EINVAL', `unknown event kind${bad.length > 1 ? 's' : ''} ${bad.map((k) => `"${k}"`).join(', ') || '""'} (valid: ${EVENT_KINDS.join(', ')})`);
  }
  return kinds as EventKind[];
}

const SINCE = (): Option => new Option('--since <time>', 'only events since then: a duration ago (30s, 5m, 2h) or an ISO date').argParser(parser(parseSince));

/**
 * The newest `limit` events matching `query`, fetched from the daemon a page at a time (the
 * daemon filters; a page holds at most X_EVENTS_MAX_LIMIT).
 */
async function fetchEvents(c: SmafClient, query: Partial<EventQuery>, limit: number): Promise<{ events: JournalEvent[]; matched: number }> {
  if (limit <= X_EVENTS_MAX_LIMIT) {
    const page = await c.events({ ...query, limit, newest: true });
    return { events: [...page.events], matched: page.matched };
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
  return { events: all.slice(-limit), matched };
}

function formatEvents(events: readonly JournalEvent[]): string[] {
  const who = (e: JournalEvent): string => printable(e.clientLabel ?? 'smafd', 'line');
  const seqWidth = Math.max(1, ...events.map((e) => String(e.seq).length));
  const whoWidth = Math.max(5, ...events.map((e) => who(e).length));
  const actorWidth = Math.max(5, ...events.map((e) => e.actor.length));
  const kindWidth = Math.max(...EVENT_KINDS.map((k) => k.length));
  return events.map((e) => `  #${String(e.seq).padStart(seqWidth)} ${new Date(e.time).toISOString().slice(11, 23)} ${who(e).padEnd(whoWidth)} ${e.kind.padEnd(kindWidth)} ${e.actor.padEnd(actorWidth)} ${printable(e.message, 'line')}`);
}

export async function printEvents(c: SmafClient, g: OperatorGlobals, query: Partial<EventQuery>, limit: number, title?: string): Promise<void> {
  const { events, matched } = await fetchEvents(c, query, limit);
  if (g.json) return out(JSON.stringify(events, null, 2));
  if (title) out(`\n${title}`);
  for (const line of formatEvents(events)) out(line);
  if (events.length === 0) out('  (none)');
  else if (matched > events.length) out(`  (the last ${events.length} of ${matched} matching events; -l ${matched} for all)`);
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
    .action(async (o: { kind?: EventKind[]; limit: number; since?: number; client?: number; buffer?: number }) => {
      const query: Partial<EventQuery> = {
        ...(o.kind !== undefined ? { kinds: o.kind } : {}),
        ...(o.since !== undefined ? { since: o.since } : {}),
        ...(o.client !== undefined ? { client: o.client } : {}),
        ...(o.buffer !== undefined ? { buffer: o.buffer } : {}),
      };
      await withClient((c) => printEvents(c, g(), query, o.limit));
    });

  const trace = program.command('trace').description('export the daemon\'s journal as a trace');
  trace
    .command('export')
    .description('Chrome trace-event JSON of every buffer\'s life (open it in ui.perfetto.dev or chrome://tracing), with the recording of every operation that smaf replay and smaf what-if read (docs/trace.md)')
    .addOption(SINCE())
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (o: { since?: number; output?: string }) => {
      const since = o.since ?? 0;
      await withClient(async (c) => {
        const text = await exportTrace(c, since);
        if (o.output) {
          writeFileSync(o.output, `${text}\n`);
          process.stderr.write(`smaf: trace written to ${o.output} (${text.length} bytes); open it in ui.perfetto.dev\n`);
        } else process.stdout.write(text);
      });
    });
}
