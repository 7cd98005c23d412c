/** `smaf run` and `smaf demo sdp`: a scenario over smafd, step results printed as they come. */
import { readFileSync } from 'node:fs';
import { SmafClient } from '../client/client.ts';
import { SmafError, toSmafError, type ErrnoName } from '../common/errors.ts';
import { jsonError, PrintedError } from './cli-support.ts';
import type { Cli } from './context.ts';
import { holdUntilInterrupt, stepPrompter, type PaceOptions } from './pace.ts';
import { parseScenario, runScenario, type ScenarioResult, type StepResult } from './scenario.ts';
import { nearest } from '../common/edit-distance.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from './scenarios.ts';

function printStep(out: (s: string) => void, r: StepResult): void {
  if (r.action === 'say') return out(`\n  ${r.detail}`);
  const mark = r.ok ? (r.errno ? 'refused as expected' : 'ok') : 'FAILED';
  const head = `${String(r.number).padStart(3)}. ${r.action.padEnd(9)}${r.buffer ? `${r.buffer} ` : ''}[${r.client}] ${mark}`;
  out(`${head}${r.errno ? ` (${r.errno})` : ''}: ${r.detail.split('\n').join('\n      ')}${r.note ? `\n      note: ${r.note}` : ''}`);
}

/** A built-in scenario by name, else a file; neither is ENOENT naming the built-in ones (and the nearest). */
function scenarioText(file: string): { text: string; source: string } {
  const builtin = builtinScenario(file);
  if (builtin !== undefined) return { text: builtin, source: `built-in scenario "${file}"` };
  try {
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const near = nearest(file, BUILTIN_SCENARIOS);
    throw new SmafError('ENOENT', `no scenario file "${file}", and it is not a built-in scenario${near ? ` (did you mean ${near}?)` : ''} (built-in: ${BUILTIN_SCENARIOS.join(', ')})`);
  }
}

/** The platform's device names (and device-tree paths), so that the check refuses an unknown one before anything runs. */
async function platformDevices(cli: Cli): Promise<Set<string>> {
  return cli.withClient(async (c) => new Set((await c.devices()).devices.flatMap((d) => [d.name, ...(d.node ? [d.node] : [])])));
}

/** What the failure of a run is: the first step that did not do what it should. */
function failureOf(result: ScenarioResult): SmafError {
  const failed = result.steps.find((s) => !s.ok);
  const where = failed ? `step ${failed.number} (${failed.action}${failed.buffer ? ` ${failed.buffer}` : ''}${failed.line ? `, line ${failed.line}` : ''})` : 'the scenario';
  return new SmafError((failed?.errno as ErrnoName | undefined) ?? 'EIO', `${where} failed${failed ? `: ${failed.detail.split('\n')[0]}` : ''}`);
}

/**
 * Run a scenario (a file, or a built-in one by name). With --hold the clients stay until Ctrl-C
 * (or until smafd goes away: ECONNRESET). With --json, one document: the result, what `more` adds,
 * and the error if it failed. Returns the result (its clients closed).
 */
export async function runScenarioCommand(cli: Cli, file: string, pace: PaceOptions = {}, more?: () => Promise<Record<string, unknown>>): Promise<ScenarioResult> {
  const { g, out } = cli;
  const { text, source } = scenarioText(file);
  const scenario = parseScenario(text, source);
  const devices = await platformDevices(cli);
  if (!g().json) out(`scenario: ${scenario.name}${scenario.description ? `\n  ${scenario.description.trim().split('\n').join('\n  ')}` : ''}`);
  const connect = async (name: string): Promise<SmafClient> => {
    const c = await SmafClient.connect(g().socket, { timeoutMs: g().timeout });
    await c.hello(process.pid, name); // each client goes by the scenario's name for it (main, consumer, thief...)
    return c;
  };
  const stepper = pace.step ? stepPrompter() : null;
  let result: ScenarioResult;
  try {
    result = await runScenario(scenario, connect, g().json ? undefined : (r) => printStep(out, r), {
      keepOpen: pace.hold === true,
      devices,
      ...(stepper ? { beforeStep: (n: number, action: string) => stepper.before(n - 1, action) } : {}),
    });
  } finally {
    stepper?.close();
  }
  let error: SmafError | null = result.ok ? null : failureOf(result);
  if (pace.hold && result.clients) {
    const clients = [...result.clients.values()];
    try {
      await holdUntilInterrupt(`smaf: holding ${clients.length} client${clients.length === 1 ? '' : 's'} and their buffers until Ctrl-C`, clients, 'the scenario\'s buffers');
    } catch (e) {
      error ??= toSmafError(e);
    } finally {
      for (const c of clients) await c.close();
    }
  }
  const { clients: _clients, ...plain } = result;
  if (g().json) {
    out(JSON.stringify({ ...plain, ...(more ? await more() : {}), ...(error ? { error: JSON.parse(jsonError(error)).error } : {}) }, null, 2));
    if (error) throw new PrintedError(error);
    return plain;
  }
  out(result.ok ? `\nscenario passed: ${result.steps.filter((s) => s.action !== 'say').length} steps` : '\nscenario FAILED');
  if (error) throw error;
  return plain;
}
