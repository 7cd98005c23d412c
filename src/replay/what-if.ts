/**
 * `smaf what-if`: replay one recording once per value of a variation (vary.ts), the values spread
 * over worker threads (one per core by default). Each worker reads the trace itself, then takes
 * values one at a time until none is left; the rows come back in value order.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SmafError } from '../common/errors.ts';
import { parseTraceFile } from '../uapi/index.ts';
import { prepareRecording } from './engine.ts';
import { smallestOf, sweepRow, type Setting, type SweepRow, type Variation, type VaryValue } from './vary.ts';

export interface SweepJob {
  /** The trace file's text and name. */
  readonly text: string;
  readonly source: string;
  readonly base: Setting;
  readonly variation: Variation;
}

export interface SweepResult {
  readonly key: string;
  readonly rows: readonly SweepRow[];
  readonly smallest: VaryValue | null;
}

/** Messages between the sweep and its workers. */
export type ToWorker = { readonly type: 'run'; readonly index: number } | { readonly type: 'stop' };
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'row'; readonly index: number; readonly row: SweepRow }
  | { readonly type: 'error'; readonly code: string; readonly message: string };

/** The worker's entry: TypeScript through tsx, registered in the worker (a worker starts bare). */
function workerBoot(): string {
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./sweep-worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** Run the values in this thread (tests, one value). */
function sweepHere(job: SweepJob): SweepRow[] {
  const prepared = prepareRecording(parseTraceFile(job.text, job.source));
  return job.variation.values.map((v) => sweepRow(prepared, job.base, job.variation, v));
}

function sweepOnWorkers(job: SweepJob, count: number, onRow: (done: number) => void): Promise<SweepRow[]> {
  const values = job.variation.values;
  const rows: (SweepRow | undefined)[] = new Array(values.length);
  let next = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const workers: Worker[] = [];
    const stopAll = (): void => void Promise.all(workers.map((w) => w.terminate()));
    const give = (w: Worker): void => {
      if (next < values.length) w.postMessage({ type: 'run', index: next++ } satisfies ToWorker);
      else w.postMessage({ type: 'stop' } satisfies ToWorker);
    };
    for (let i = 0; i < count; i++) {
      const w = new Worker(workerBoot(), { eval: true, workerData: job });
      workers.push(w);
      w.on('message', (m: FromWorker) => {
        if (m.type === 'error') {
          stopAll();
          reject(new SmafError(m.code as 'EINVAL', m.message));
          return;
        }
        if (m.type === 'row') {
          rows[m.index] = m.row;
          onRow(++done);
          if (done === values.length) resolve(rows as SweepRow[]);
        }
        give(w);
      });
      w.on('error', (e) => {
        stopAll();
        reject(e);
      });
    }
  });
}

/**
 * The sweep. `workers`: threads to use (default: one per core, at most one per value; 0 runs here).
 * `onRow`: progress, rows done so far.
 */
export async function whatIf(job: SweepJob, options: { workers?: number; onRow?: (done: number) => void } = {}): Promise<SweepResult> {
  const count = Math.min(options.workers ?? availableParallelism(), job.variation.values.length);
  const rows = count <= 0 ? sweepHere(job) : await sweepOnWorkers(job, count, options.onRow ?? (() => undefined));
  return { key: job.variation.key, rows, smallest: smallestOf(job.variation, rows) };
}
