// A StrykerJS test runner for our tests (Node's test runner, TypeScript through tsx), in process.
//
// Why not the command or tap runner: both start a process per run (tsx, then our module graph:
// about 1 s of CPU before a test runs), and a survivor reruns every covering file. On a shared
// 2-core machine that is hours for ~2,000 mutants. Here the worker imports every test file once;
// `node:test` resolves to a small recorder (node-test-shim.mjs) that collects `describe`/`test`,
// and each mutant run only switches Stryker's active mutant and calls the covering tests again,
// stopping at the first failure. Per-test coverage comes from Stryker's instrumentation
// (`__stryker__.currentTestId`). Limits: tests use only `describe`, `test`/`it` (optionally with
// options `{ skip, todo }`); test files run once at import, so module-level (static) mutants are
// reported as static and run in a fresh worker (reloadEnvironment: false).
import { readdirSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { register } from 'node:module';
import { join, resolve } from 'node:path';
import { URL, pathToFileURL } from 'node:url';
import { commonTokens, declareClassPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { DryRunStatus, TestStatus, determineHitLimitReached, toMutantRunResult } from '@stryker-mutator/api/test-runner';

export const strykerValidationSchema = {
  $schema: 'http://json-schema.org/draft-07/schema',
  type: 'object',
  properties: {
    nodeTest: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        testFiles: { description: 'Files or folders (searched for *.test.ts), in run order.', type: 'array', items: { type: 'string' }, default: ['src'] },
      },
    },
  },
};

function collect(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true })
    .map((f) => join(path, String(f)))
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
}

function namespace() {
  globalThis.__stryker__ ??= {};
  return globalThis.__stryker__;
}

function message(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 2000);
  return String(e);
}

class NodeTestInProcessRunner {
  static inject = tokens(commonTokens.options, commonTokens.logger);

  constructor(options, log) {
    this.log = log;
    this.roots = options.nodeTest?.testFiles ?? ['src'];
    this.tests = [];
  }

  capabilities() {
    return { reloadEnvironment: false };
  }

  async init() {
    register(new URL('./node-test-shim-hooks.mjs', import.meta.url));
    const files = [...new Set(this.roots.flatMap(collect))];
    const registry = (globalThis.__smafNodeTestRegistry = { tests: [], file: '', stack: [] });
    const ns = namespace();
    const savedTestId = ns.currentTestId;
    ns.currentTestId = undefined; // module-level code is static coverage
    for (const file of files) {
      registry.file = file;
      await import(pathToFileURL(resolve(file)).href);
    }
    ns.currentTestId = savedTestId;
    this.tests = registry.tests;
    this.log.info(`node-test runner: ${this.tests.length} tests in ${files.length} files, in process`);
  }

  async runTests(tests, { bail, perTest }) {
    const ns = namespace();
    const results = [];
    for (const t of tests) {
      if (t.skip) {
        results.push({ id: t.id, name: t.id, fileName: t.file, timeSpentMs: 0, status: TestStatus.Skipped });
        continue;
      }
      ns.currentTestId = perTest ? t.id : undefined;
      const start = performance.now();
      let failure;
      try {
        await t.fn({ name: t.name, diagnostic() {}, skip() {}, todo() {} });
      } catch (e) {
        failure = e;
      }
      ns.currentTestId = undefined;
      const timeSpentMs = Math.round(performance.now() - start);
      if (failure === undefined) {
        results.push({ id: t.id, name: t.id, fileName: t.file, timeSpentMs, status: TestStatus.Success });
      } else {
        results.push({ id: t.id, name: t.id, fileName: t.file, timeSpentMs, status: TestStatus.Failed, failureMessage: message(failure) });
        if (bail) break;
      }
    }
    return results;
  }

  async dryRun(options) {
    const ns = namespace();
    ns.activeMutant = undefined;
    ns.hitCount = undefined;
    ns.hitLimit = undefined;
    const tests = await this.runTests(this.tests, { bail: false, perTest: options.coverageAnalysis === 'perTest' });
    return { status: DryRunStatus.Complete, tests, mutantCoverage: ns.mutantCoverage };
  }

  async mutantRun(options) {
    const ns = namespace();
    const filter = options.testFilter ? new Set(options.testFilter) : null;
    const tests = filter ? this.tests.filter((t) => filter.has(t.id)) : this.tests;
    ns.activeMutant = options.activeMutant.id;
    ns.hitLimit = options.hitLimit;
    ns.hitCount = options.hitLimit === undefined ? undefined : 0;
    ns.mutantCoverage = { static: {}, perTest: {} }; // not needed during mutant runs
    let results;
    try {
      results = await this.runTests(tests, { bail: !options.disableBail, perTest: false });
    } finally {
      ns.activeMutant = undefined;
    }
    const timeout = determineHitLimitReached(ns.hitCount, ns.hitLimit);
    ns.hitCount = undefined;
    ns.hitLimit = undefined;
    if (timeout) return toMutantRunResult(timeout);
    return toMutantRunResult({ status: DryRunStatus.Complete, tests: results });
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.TestRunner, 'node-test-inprocess', NodeTestInProcessRunner)];
