// The package's exports for plain Node: each entry loads its TypeScript source through tsx (a
// runtime dependency, README "Why tsx at run time"), in a namespace of its own, so the importing
// process's module loading is left as it was. test/package.test.ts checks that every entry
// exports exactly what its source module does.
import { register } from 'tsx/esm/api';

const api = register({ namespace: 'smaf-ts' });

/** The module at `path` (relative to this folder). */
export function load(path) {
  return api.import(path, import.meta.url);
}
