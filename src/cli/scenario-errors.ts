/**
 * Precise scenario errors: a step is one action, so a step that fails validation is checked again
 * against that action's schema alone, and its issues name the step, the field and the problem
 * (`steps[0].create.size: unknown size suffix "XB"`), or the action is unknown (`steps[0]: unknown
 * action "craete" (did you mean create?)`).
 */
import type { z } from 'zod';
import { nearest } from '../common/edit-distance.ts';

type Issue = { path: PropertyKey[]; message: string };

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
