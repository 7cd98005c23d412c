/**
 * Precise scenario errors: a step is one action, so a step that fails validation is checked again
 * against that action's schema alone, and its issues name the step, the field and the problem
 * (`steps[0].create.size: unknown size suffix "XB"`), or the action is unknown (`steps[0]: unknown
 * action "craete" (did you mean create?)`).
 */
import type { z } from 'zod';

type Issue = { path: PropertyKey[]; message: string };

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The closest of `names` to `typed`, when it is close enough to be a typo (2 edits at most). */
export function nearest(typed: string, names: readonly string[]): string | undefined {
  const near = names.map((a) => ({ a, d: distance(typed, a) })).sort((x, y) => x.d - y.d)[0];
  return near && near.d <= 2 ? near.a : undefined;
}

export function stepIssues(step: unknown, index: number, variants: readonly z.ZodType[], actions: readonly string[]): Issue[] {
  const at = (path: PropertyKey[]): PropertyKey[] => ['steps', index, ...path];
  if (typeof step === 'string') return [{ path: at([]), message: `a step is an object with one action (${actions.join(', ')}), not "${step}"` }];
  if (step === null || typeof step !== 'object' || Array.isArray(step)) return [{ path: at([]), message: `a step is an object with one action (${actions.join(', ')})` }];
  const keys = Object.keys(step);
  if (keys.length !== 1) return [{ path: at([]), message: `a step has exactly one action, this one has ${keys.length ? keys.join(', ') : 'none'}` }];
  const action = keys[0]!;
  const i = actions.indexOf(action);
  if (i < 0) {
    const near = nearest(action, actions);
    return [{ path: at([]), message: `unknown action "${action}"${near ? ` (did you mean ${near}?)` : ''} (actions: ${actions.join(', ')})` }];
  }
  const r = variants[i]!.safeParse(step);
  return r.success ? [] : r.error.issues.map((x) => ({ path: at(x.path), message: x.message }));
}
