// Module hook for the in-process mutation runner: `node:test` becomes the recorder in node-test-shim.mjs.
import { URL } from 'node:url';
const shim = new URL('./node-test-shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'node:test' || specifier === 'test') return { url: shim, shortCircuit: true };
  return next(specifier, context);
}
