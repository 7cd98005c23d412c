/**
 * replay.ops_per_s: replaying a 100,000-operation recording in process (`smaf replay`), in CPU time,
 * against the raw in-process lifecycle measured in the same run: the core's create, attach, map,
 * unmap and release of a 4 KiB buffer called directly (5 operations a cycle). The recording is of
 * that same lifecycle, made by smafd's sessions as a client would drive them, so the two figures do
 * the same work and the ratio is what the replay adds (its op table, fd tables, outcome checks).
 *
 * replay.what_if_64: `smaf what-if` of 64 values over that recording, on worker threads (one per
 * core), wall time: the "under a minute here".
 */
import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import { DaemonContext } from '../src/daemon/context.ts';
import { traceFileOf } from '../src/daemon/operator-ops.ts';
import { operatorScope } from '../src/daemon/scope.ts';
import { ClientSession } from '../src/daemon/session.ts';
import { defaultPlatformSpec } from '../src/platform/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { prepareRecording, Replayer } from '../src/replay/engine.ts';
import { parseVariation } from '../src/replay/vary.ts';
import { whatIf } from '../src/replay/what-if.ts';
import { encodeName, encodeOpRequest, encodeStruct, Op, opRowNamed, parseTraceFile, SMAF_IOC_CREATE, type Request } from '../src/uapi/index.ts';
import { cpuPerOp, lifecycle4k } from './lifecycle.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

/** A recording of `ops` operations: 4 KiB lifecycles (create, attach the display, map, unmap, close) by one client. */
export function lifecycleTrace(ops: number): string {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), undefined, null, ops + 10);
  let id = 1;
  const r = (op: number, fd: number, payload: Uint8Array = new Uint8Array(0)): Request => ({ id: id++, op, fd, payload });
  const s = new ClientSession(1, ctx);
  const create = encodeStruct(SMAF_IOC_CREATE.struct, { length: 4096n, flags: 2 });
  const display = encodeName('display', 64);
  while (ctx.recorder.size + 5 <= ops) {
    const res = s.handle(r(SMAF_IOC_CREATE.number, -1, create));
    const fd = new DataView(res.payload.buffer, res.payload.byteOffset).getInt32(24, true);
    const att = s.handle(r(Op.ATTACH, fd, display)).result;
    s.handle(r(Op.MAP, fd, encodeOpRequest(opRowNamed('MAP'), { attachment: att, direction: 1 })));
    s.handle(r(Op.UNMAP, fd, encodeOpRequest(opRowNamed('UNMAP'), { attachment: att })));
    s.handle(r(Op.CLOSE, fd));
  }
  return traceFileOf(operatorScope(ctx));
}

/** CPU microseconds of one call of `fn`: the median of five rounds after a warm-up one. */
function cpuOnce(fn: () => void): number {
  const rounds: number[] = [];
  for (let r = 0; r < 6; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    if (r > 0) rounds.push(c.user + c.system);
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

export async function benchReplay(ctx: BenchContext): Promise<Metric[]> {
  const ops = ctx.quick ? 20_000 : 100_000;
  const text = lifecycleTrace(ops);
  const recording = prepareRecording(parseTraceFile(text, 'lifecycle.json'));
  const spec = defaultPlatformSpec();
  const replayUs = cpuOnce(() => {
    const r = new Replayer(recording, { spec }).run();
    if (r.differencesTotal !== 0) throw new Error(`the benchmark's recording did not replay: ${r.differencesTotal} differences`);
  });
  const replayOps = recording.records.length / (replayUs / 1e6);
  const { smaf, platform } = createSmafSystem();
  const display = platform.device('display');
  const rawOps = 5 / (cpuPerOp(() => lifecycle4k(smaf, display), ctx.quick ? 4_000 : 20_000) / 1e6);
  const values = ctx.quick ? 16 : 64;
  const variation = parseVariation(`cma.size=1MiB..64MiB:${Math.floor(63 / (values - 1))}MiB`, spec);
  const t0 = performance.now();
  const sweep = await whatIf({ text, source: 'lifecycle.json', base: { spec, preset: {}, policy: 'deferred' }, variation });
  const sweepS = (performance.now() - t0) / 1000;
  if (sweep.rows.length !== variation.values.length) throw new Error('the what-if sweep lost rows');
  return [
    metric('replay.ops_per_s', replayOps, rawOps, 'ops/s', `${recording.records.length} recorded operations (4 KiB lifecycles), CPU time, median of 5 rounds; baseline: the core's create/attach/map/unmap/release called directly`),
    metric(`replay.what_if.${variation.values.length}`, sweepS, null, 's', `${variation.values.length} values of cma.size over ${recording.records.length} operations on ${Math.min(availableParallelism(), variation.values.length)} worker threads, wall time`),
  ];
}
