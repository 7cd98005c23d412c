// A StrykerJS test runner for our tests (Node's test runner, TypeScript through tsx), in process.
//
// Why not the command or tap runner: both start a process per run (tsx, then our module graph:
// about 1 s of CPU before a test runs), and a survivor reruns every covering file. On a shared
// 2-core machine that is hours for ~2,000 mutants. Here the worker imports every test file once;
// `node:test` resolves to a small recorder (node-test-shim.mjs) that collects `describe`/`test`,
// and each mutant run only switches Stryker's active mutant and calls the covering tests again,
// stopping at the first failure. Per-test coverage comes from Stryker's instrumentation
// (`__stryker__.currentTestId`). Limits: tests use only `describe`, `test`/`it` (optionally with
// options `{ skip, todo }`); test files are imported once, at the first run, so a module-level
// (static) mutant runs in a fresh worker that imports them with the mutant already active.
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
    this.files = [];
    this.tests = [];
    this.loaded = false;
  }

  capabilities() {
    return { reloadEnvironment: false };
  }

  async init() {
    register(new URL('./node-test-shim-hooks.mjs', import.meta.url));
    this.files = [...new Set(this.roots.flatMap(collect))];
  }

  /**
   * Imports every test file once (registering its tests). Deferred to the first run so that a
   * static mutant (module-level code, e.g. a policy table) can be active while the code loads:
   * Stryker starts a fresh worker for each one, as we cannot reload ES modules.
   */
  async load() {
    if (this.loaded) return;
    this.loaded = true;
    const registry = (globalThis.__smafNodeTestRegistry = { tests: [], file: '', stack: [] });
    const ns = namespace();
    ns.currentTestId = undefined; // module-level code is static coverage
    for (const file of this.files) {
      registry.file = file;
      await import(pathToFileURL(resolve(file)).href);
    }
    this.tests = registry.tests;
    this.log.debug(`node-test runner: ${this.tests.length} tests in ${this.files.length} files, in process`);
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
    await this.load();
    const tests = await this.runTests(this.tests, { bail: false, perTest: options.coverageAnalysis === 'perTest' });
    return { status: DryRunStatus.Complete, tests, mutantCoverage: ns.mutantCoverage };
  }

  async mutantRun(options) {
    const ns = namespace();
    ns.hitLimit = options.hitLimit;
    ns.hitCount = options.hitLimit === undefined ? undefined : 0;
    let results;
    try {
      if (options.mutantActivation === 'static') {
        if (this.loaded) throw new Error('a static mutant needs a fresh worker (reloadEnvironment: false)');
        ns.activeMutant = options.activeMutant.id;
      }
      await this.load();
      ns.activeMutant = options.activeMutant.id;
      ns.mutantCoverage = { static: {}, perTest: {} }; // not needed during mutant runs
      const filter = options.testFilter ? new Set(options.testFilter) : null;
      const tests = filter ? this.tests.filter((t) => filter.has(t.id)) : this.tests;
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
