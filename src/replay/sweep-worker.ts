/** A what-if worker (what-if.ts): reads the trace once, then replays the values it is given. */
import { parentPort, workerData } from 'node:worker_threads';
import { toSmafError } from '../common/errors.ts';
import { parseTraceFile } from '../uapi/index.ts';
import { prepareRecording, type PreparedRecording } from './engine.ts';
import { sweepRow } from './vary.ts';
import type { FromWorker, SweepJob, ToWorker } from './what-if.ts';

const port = parentPort!;
const job = workerData as SweepJob;
const send = (m: FromWorker): void => port.postMessage(m);

let prepared: PreparedRecording | null = null;
try {
  prepared = prepareRecording(parseTraceFile(job.text, job.source));
  send({ type: 'ready' });
} catch (e) {
  const err = toSmafError(e);
  send({ type: 'error', code: err.code, message: err.message });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'stop' || prepared === null) {
    port.close();
    return;
  }
  try {
    send({ type: 'row', index: m.index, row: sweepRow(prepared, job.base, job.variation, job.variation.values[m.index]!) });
  } catch (e) {
    const err = toSmafError(e);
    send({ type: 'error', code: err.code, message: err.message });
  }
});
