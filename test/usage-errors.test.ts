/**
 * Every bad option value of smafd and smaf is commander's usage error naming the option and what it
 * expects (the tools turn it into exit 22, EINVAL: test/cli-usage.e2e.test.ts), never an internal error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Command, CommanderError } from 'commander';
import { buildProgram } from '../src/cli/main.ts';
import { smafdProgram } from '../src/daemon/options.ts';

/** Options whose value is a free string (a path, a host, a name): any text is a value. */
const FREE = new Set(['--socket', '--admin-socket', '--native-socket', '--platform', '--dashboard-host', '--name', '--attach', '--direction', '--output', '--heaps']);

function usageError(program: Command, argv: readonly string[]): CommanderError {
  const quiet = (c: Command): void => {
    c.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    c.commands.forEach(quiet);
  };
  quiet(program);
  try {
    program.parse(['node', program.name(), ...argv]);
  } catch (e) {
    if (e instanceof CommanderError) return e;
    throw e;
  }
  assert.fail(`${program.name()} ${argv.join(' ')} was accepted`);
}

test('smafd: each option that takes a value refuses "abc" with a usage error naming it and what it expects', () => {
  const checked = smafdProgram().options.filter((o) => o.required && !FREE.has(o.long!));
  assert.ok(checked.length >= 13, checked.map((o) => o.long).join(' '));
  for (const o of checked) {
    const e = usageError(smafdProgram(), [o.long!, 'abc']);
    assert.equal(e.code, 'commander.invalidArgument', `${o.long}: ${e.message}`);
    assert.match(e.message, new RegExp(`option '${o.flags.replace(/[[\]]/g, '\\$&')}' argument 'abc' is invalid\\. .*"?abc"? (is not|does not)`), o.long);
  }
  assert.equal(usageError(smafdProgram(), ['--bogus']).code, 'commander.unknownOption');
});

test('smaf: bad global and command option values are usage errors naming the option', () => {
  for (const argv of [
    ['--timeout', 'abc'], ['--timeout', '0'], ['create', '1920x1080:NV12', '--align', 'abc'], ['create', '4096', '--bogus'], ['events', '--limit', '0'],
    ['events', '--kind', 'bogus'], ['events', '--since', 'yesterday'], ['events', '--client', 'x'], ['trace', 'export', '--since', 'x'], ['platform', 'show', 'a.dts', '--cma', 'lots'],
  ]) {
    const e = usageError(buildProgram(), argv);
    assert.match(e.code, /^commander\.(invalidArgument|unknownOption)$/, argv.join(' '));
    assert.match(e.message, new RegExp(argv.find((a) => a.startsWith('--'))!), e.message);
  }
});
