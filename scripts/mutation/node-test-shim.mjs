// What `node:test` is inside the in-process mutation runner: `describe` runs its body at once to
// collect the tests inside; `test`/`it` record a test with its full name. The runner calls them.
function registry() {
  const r = globalThis.__smafNodeTestRegistry;
  if (!r) throw new Error('node:test shim loaded outside the mutation runner');
  return r;
}

function parse(name, options, fn) {
  if (typeof options === 'function') return { name, options: {}, fn: options };
  return { name, options: options ?? {}, fn };
}

export function describe(name, options, fn) {
  const d = parse(name, options, fn);
  const r = registry();
  r.stack.push(String(d.name));
  try {
    if (!d.options.skip && !d.options.todo) d.fn?.();
  } finally {
    r.stack.pop();
  }
}

export function test(name, options, fn) {
  const t = parse(name, options, fn);
  const r = registry();
  const id = [r.file, ...r.stack, String(t.name)].join(' > ');
  if (r.tests.some((x) => x.id === id)) throw new Error(`duplicate test name: ${id}`);
  r.tests.push({ id, file: r.file, name: String(t.name), fn: t.fn ?? (() => {}), skip: Boolean(t.options.skip || t.options.todo) });
}

export const it = test;
export const suite = describe;
for (const f of [test, describe]) {
  f.skip = (name, options, fn) => f(name, { ...(typeof options === 'object' ? options : {}), skip: true }, typeof options === 'function' ? options : fn);
  f.todo = f.skip;
}
export function before() {
  throw new Error('before/after hooks are not supported by the in-process mutation runner');
}
export const after = before;
export const beforeEach = before;
export const afterEach = before;
export const mock = undefined;
