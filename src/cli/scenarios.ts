/** Built-in scenarios: the files under scenarios/, by name. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BUILTIN_SCENARIOS = ['camera', 'share', 'sdp'] as const;

/** The text of a built-in scenario, or undefined when `name` is not one. */
export function builtinScenario(name: string): string | undefined {
  if (!(BUILTIN_SCENARIOS as readonly string[]).includes(name)) return undefined;
  const path = fileURLToPath(new URL(`../../scenarios/${name}.yaml`, import.meta.url));
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
