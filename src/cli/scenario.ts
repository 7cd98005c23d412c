/**
 * Running a pipeline scenario (see scenario-schema.ts for the format) against smafd through
 * SmafClient, possibly from several clients; each step's handler is in scenario-steps.ts. A
 * scenario is checked (scenario-check.ts) before its first step runs.
 */
import { toSmafError } from '../common/errors.ts';
import type { SmafClient } from '../client/client.ts';
import { checkScenario } from './scenario-check.ts';
import type { Scenario, Step } from './scenario-schema.ts';
import { ScenarioRun, STEP_HANDLERS, type Action } from './scenario-steps.ts';
import type { StreamReport } from './scenario-stream.ts';

export { parseScenario } from './scenario-schema.ts';

export interface StepResult {
  /** The step's place in the scenario's list (0-based, `say` lines included). */
  readonly index: number;
  /** Its number as printed: actions count from 1, a `say` has none (0). */
  readonly number: number;
  /** Its line in the scenario file, when known. */
  readonly line?: number;
  readonly action: string;
  readonly client: string;
  /** The buffer (or pool, or copy) the step acts on. */
  readonly buffer?: string;
  /** true when the step did what it should (succeeded, or failed with the expected errno). */
  readonly ok: boolean;
  readonly detail: string;
  readonly errno?: string;
  readonly note?: string;
  /** A stream's measurements: latency per frame, throughput, per stage. */
  readonly stream?: StreamReport;
}

export interface ScenarioResult {
  readonly name: string;
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
  /** With `keepOpen`, the clients still connected (the caller closes them). */
  readonly clients?: ReadonlyMap<string, SmafClient>;
}

export interface RunOptions {
  readonly keepOpen?: boolean;
  readonly beforeStep?: (number: number, action: string) => Promise<void>;
  /** The platform's device names, to refuse an unknown device before anything runs (null: the daemon will). */
  readonly devices?: ReadonlySet<string> | null;
}

/**
 * Run a scenario; `connect(name)` opens a new client connection for the scenario's client `name`.
 * EINVAL before anything runs when the scenario names something it never defined (checkScenario).
 */
export async function runScenario(scenario: Scenario, connect: (name: string) => Promise<SmafClient>, onStep?: (r: StepResult) => void, options: RunOptions = {}): Promise<ScenarioResult> {
  const { targets } = checkScenario(scenario, options.devices ?? null);
  const run = new ScenarioRun(connect);
  const results: StepResult[] = [];
  let number = 0;
  try {
    for (const [index, step] of scenario.steps.entries()) {
      const where = { index, ...(scenario.lines?.[index] ? { line: scenario.lines[index] } : {}) };
      let r: StepResult;
      if ('say' in step) r = { ...where, number: 0, action: 'say', client: '-', ok: true, detail: step.say };
      else {
        number++;
        await options.beforeStep?.(number, Object.keys(step)[0]!);
        r = { ...where, number, ...(targets[index] !== undefined ? { buffer: targets[index] } : {}), ...(await runStep(run, step)) };
      }
      results.push(r);
      onStep?.(r);
      if (!r.ok) break;
    }
  } finally {
    if (!options.keepOpen) for (const c of run.clients.values()) await c.close();
  }
  const ok = results.every((r) => r.ok) && results.length === scenario.steps.length;
  return { name: scenario.name, ok, steps: results, ...(options.keepOpen ? { clients: run.clients } : {}) };
}

type StepOutcome = Pick<StepResult, 'action' | 'client' | 'ok' | 'detail' | 'errno' | 'note' | 'stream'>;

/** One step through its handler: it did what it should when it succeeded, or failed with the errno it expected. */
async function runStep(run: ScenarioRun, step: Exclude<Step, { say: string }>): Promise<StepOutcome> {
  const action = Object.keys(step)[0] as Action;
  const args = (step as Record<Action, { client?: string; expect_error?: string; note?: string }>)[action];
  const who = args.client ?? 'main';
  const handler = STEP_HANDLERS[action] as (a: unknown, who: string, run: ScenarioRun) => ReturnType<(typeof STEP_HANDLERS)[Action]>;
  let detail: string;
  let stream: StreamReport | undefined;
  let errno: string | undefined;
  try {
    const out = await handler(args, who, run);
    if (typeof out === 'string') detail = out;
    else ({ detail, stream } = out);
  } catch (e) {
    const err = toSmafError(e);
    errno = err.code;
    detail = err.message;
  }
  const ok = args.expect_error ? errno === args.expect_error : errno === undefined;
  if (!ok && args.expect_error && errno === undefined) detail = `expected ${args.expect_error} but it succeeded: ${detail}`;
  else if (!ok && args.expect_error) detail = `expected ${args.expect_error}, got ${errno}: ${detail}`;
  return { action, client: who, ok, detail, ...(errno ? { errno } : {}), ...(args.note ? { note: args.note } : {}), ...(stream ? { stream } : {}) };
}
