/** `smaf run` and `smaf demo sdp`: a scenario over smafd, step results printed as they come. */
import { readFileSync } from 'node:fs';
import { SmafClient } from '../client/client.ts';
import { SmafError, type ErrnoName } from '../common/errors.ts';
import type { Cli } from './context.ts';
import { holdUntilInterrupt, stepPrompter, type PaceOptions } from './pace.ts';
import { parseScenario, runScenario, type StepResult } from './scenario.ts';
import { BUILTIN_SCENARIOS, builtinScenario } from './scenarios.ts';

function printStep(out: (s: string) => void, r: StepResult): void {
  const mark = r.ok ? (r.errno ? 'refused as expected' : 'ok') : 'FAILED';
  const head = `${String(r.index + 1).padStart(3)}. ${r.action.padEnd(9)} [${r.client}] ${mark}`;
  out(r.action === 'say' ? `\n  ${r.detail}` : `${head}${r.errno ? ` (${r.errno})` : ''}: ${r.detail.split('\n').join('\n      ')}${r.note ? `\n      note: ${r.note}` : ''}`);
}

/** A built-in scenario by name, else a file; neither is ENOENT naming the built-in ones. */
function scenarioText(file: string): { text: string; source: string } {
  const builtin = builtinScenario(file);
  if (builtin !== undefined) return { text: builtin, source: `built-in scenario "${file}"` };
  try {
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new SmafError('ENOENT', `no scenario file "${file}", and it is not a built-in scenario (built-in: ${BUILTIN_SCENARIOS.join(', ')})`);
  }
}

/** With --hold: the clients (and their buffers) stay until Ctrl-C. */
async function holdClients(clients: ReadonlyMap<string, SmafClient>): Promise<void> {
  await holdUntilInterrupt(`smaf: holding ${clients.size} client${clients.size === 1 ? '' : 's'} and their buffers until Ctrl-C`);
  for (const c of clients.values()) await c.close();
}

export async function runScenarioCommand(cli: Cli, file: string, pace: PaceOptions = {}): Promise<void> {
  const { g, out } = cli;
  const { text, source } = scenarioText(file);
  const scenario = parseScenario(text, source);
  if (!g().json) out(`scenario: ${scenario.name}${scenario.description ? `\n  ${scenario.description.trim().split('\n').join('\n  ')}` : ''}`);
  const connect = async (): Promise<SmafClient> => {
    const c = await SmafClient.connect(g().socket, { timeoutMs: g().timeout });
    await c.hello(); // each client of the scenario says who it is
    return c;
  };
  const stepper = pace.step ? stepPrompter() : null;
  const result = await runScenario(scenario, connect, g().json ? undefined : (r) => printStep(out, r), {
    keepOpen: pace.hold === true,
    ...(stepper ? { beforeStep: stepper.before } : {}),
  });
  stepper?.close();
  if (pace.hold && result.clients) await holdClients(result.clients);
  if (g().json) out(JSON.stringify(result, null, 2));
  else out(result.ok ? `\nscenario passed: ${result.steps.length} steps` : '\nscenario FAILED');
  if (!result.ok) {
    const failed = result.steps.find((s) => !s.ok);
    throw new SmafError((failed?.errno as ErrnoName | undefined) ?? 'EIO', `step ${(failed?.index ?? 0) + 1} (${failed?.action}) failed`);
  }
}
