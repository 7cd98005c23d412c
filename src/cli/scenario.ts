/**
 * Running a pipeline scenario (see scenario-schema.ts for the format) against smafd through
 * SmafClient, possibly from several clients; each step's handler is in scenario-steps.ts.
 */
import { toSmafError } from '../common/errors.ts';
import type { SmafClient } from '../client/client.ts';
import type { Scenario, Step } from './scenario-schema.ts';
import { ScenarioRun, STEP_HANDLERS, type Action } from './scenario-steps.ts';

export { parseScenario } from './scenario-schema.ts';

export interface StepResult {
  readonly index: number;
  readonly action: string;
  readonly client: string;
  /** true when the step did what it should (succeeded, or failed with the expected errno). */
  readonly ok: boolean;
  readonly detail: string;
  readonly errno?: string;
  readonly note?: string;
}

export interface ScenarioResult {
  readonly name: string;
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
  /** With `keepOpen`, the clients still connected (the caller closes them). */
  readonly clients?: ReadonlyMap<string, SmafClient>;
}

/** Run a scenario; `connect` opens a new client connection (one per client name). */
export async function runScenario(
  scenario: Scenario,
  connect: () => Promise<SmafClient>,
  onStep?: (r: StepResult) => void,
  options: { keepOpen?: boolean; beforeStep?: (index: number, action: string) => Promise<void> } = {},
): Promise<ScenarioResult> {
  const run = new ScenarioRun(connect);
  const results: StepResult[] = [];
  try {
    for (const [index, step] of scenario.steps.entries()) {
      if (!('say' in step)) await options.beforeStep?.(index, Object.keys(step)[0]!);
      const r = 'say' in step ? { index, action: 'say', client: '-', ok: true, detail: step.say } : await runStep(run, index, step);
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

/** One step through its handler: it did what it should when it succeeded, or failed with the errno it expected. */
async function runStep(run: ScenarioRun, index: number, step: Exclude<Step, { say: string }>): Promise<StepResult> {
  const action = Object.keys(step)[0] as Action;
  const args = (step as Record<Action, { client?: string; expect_error?: string; note?: string }>)[action];
  const who = args.client ?? 'main';
  const handler = STEP_HANDLERS[action] as (a: unknown, who: string, run: ScenarioRun) => Promise<string>;
  let detail: string;
  let errno: string | undefined;
  try {
    detail = await handler(args, who, run);
  } catch (e) {
    const err = toSmafError(e);
    errno = err.code;
    detail = err.message;
  }
  const ok = args.expect_error ? errno === args.expect_error : errno === undefined;
  if (!ok && args.expect_error && errno === undefined) detail = `expected ${args.expect_error} but it succeeded: ${detail}`;
  else if (!ok && args.expect_error) detail = `expected ${args.expect_error}, got ${errno}: ${detail}`;
  return { index, action, client: who, ok, detail, ...(errno ? { errno } : {}), ...(args.note ? { note: args.note } : {}) };
}
