/** The fair scheduler, on a fake clock: who runs next, and how long a bystander waits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairScheduler, type Lane } from './scheduler.ts';

let clock = 0;
const log: string[] = [];

/** A lane whose units each take `cost` ms of the fake clock. */
class FakeLane implements Lane {
  closed = false;
  backedUp = false;
  /** When its last unit started. */
  startedAt = -1;
  constructor(readonly name: string, public work: number, readonly cost: number) {}
  get runnable(): boolean {
    return !this.closed && !this.backedUp && this.work > 0;
  }
  unit(): void {
    this.startedAt = clock;
    this.work--;
    clock += this.cost;
    log.push(this.name);
  }
}

function setup() {
  clock = 0;
  log.length = 0;
  return new FairScheduler<FakeLane>(() => clock);
}

test('a bystander that wakes among 16 busy lanes runs after the unit in progress, not after one unit of each', () => {
  const s = setup();
  const busy = Array.from({ length: 16 }, (_, i) => new FakeLane(`busy${i}`, 1_000_000, 5));
  for (const l of busy) s.add(l);
  s.run(2000); // they have been at it for a while
  const bystander = new FakeLane('bystander', 0, 0.1);
  s.add(bystander);
  for (let round = 0; round < 20; round++) {
    s.run(3); // one turn of the event loop
    bystander.work = 1; // a request arrives
    const asked = clock;
    s.wake(bystander);
    log.length = 0;
    s.run(50);
    const served = log.indexOf('bystander');
    assert.equal(served, 0, `round ${round}: served first, after ${log.slice(0, served).join(', ')}`);
    assert.equal(bystander.startedAt, asked, 'it waited for no unit of the busy lanes');
  }
});

test('busy lanes share the time equally, whatever the cost of their units', () => {
  const s = setup();
  const cheap = new FakeLane('cheap', 1_000_000, 1);
  const dear = new FakeLane('dear', 1_000_000, 10);
  s.add(cheap);
  s.add(dear);
  s.run(10_000);
  const served = (n: string) => log.filter((x) => x === n).length;
  const ratio = (served('cheap') * 1) / (served('dear') * 10);
  assert.ok(ratio > 0.95 && ratio < 1.05, `time shares ${served('cheap')} ms and ${served('dear') * 10} ms`);
});

test('an idle lane banks no credit: after a long sleep it gets its share, not the whole daemon', () => {
  const s = setup();
  const a = new FakeLane('a', 1_000_000, 1);
  const sleeper = new FakeLane('sleeper', 0, 1);
  s.add(a);
  s.add(sleeper);
  s.run(10_000); // the sleeper is idle for 10 s
  sleeper.work = 1_000_000;
  s.wake(sleeper);
  log.length = 0;
  s.run(1000);
  const share = log.filter((x) => x === 'sleeper').length / log.length;
  assert.ok(share > 0.45 && share < 0.55, `the sleeper got ${(share * 100).toFixed(0)} % after waking`);
});

test('a lane that cannot run (answers backed up, closed, removed) is skipped until woken again', () => {
  const s = setup();
  const a = new FakeLane('a', 10, 1);
  const b = new FakeLane('b', 10, 1);
  s.add(a);
  s.add(b);
  a.backedUp = true;
  s.run(5);
  assert.deepEqual([...new Set(log)], ['b']);
  a.backedUp = false;
  s.run(100);
  assert.deepEqual(log.filter((x) => x === 'a').length, 0, 'not woken: still out of the heap');
  s.wake(a);
  assert.equal(s.run(100), false, 'all work done');
  assert.equal(log.filter((x) => x === 'a').length, 10);
  const c = new FakeLane('c', 5, 1);
  s.add(c);
  s.remove(c);
  log.length = 0;
  assert.equal(s.run(100), false);
  assert.deepEqual(log, [], 'a removed lane never runs');
});

test('the lane that runs is always one that has had least of the time (the heap keeps its order)', () => {
  const s = setup();
  const lanes = [3, 1, 7, 2, 5, 4, 6].map((cost, i) => new FakeLane(`l${i}`, 1_000_000, cost));
  const served = new Map(lanes.map((l) => [l.name, 0]));
  for (const l of lanes) s.add(l);
  const original = FakeLane.prototype.unit;
  let checked = 0;
  for (const l of lanes) {
    l.unit = function (this: FakeLane) {
      const least = Math.min(...[...served.values()]);
      assert.equal(served.get(this.name), least, `${this.name} ran with ${served.get(this.name)} ms served; another had ${least}`);
      served.set(this.name, served.get(this.name)! + this.cost);
      checked++;
      original.call(this);
    };
  }
  assert.equal(s.run(3000), true, 'work remains when the budget is spent');
  assert.ok(checked > 500);
});

test('waking a lane that already waits, or adding it again, gives it no extra turn', () => {
  const s = setup();
  const a = new FakeLane('a', 1_000_000, 1);
  const b = new FakeLane('b', 1_000_000, 1);
  s.add(a);
  s.add(b);
  s.run(10);
  for (let i = 0; i < 50; i++) {
    s.wake(a);
    s.add(a);
  }
  assert.equal(s.waiting, 2, 'each lane waits once');
  log.length = 0;
  s.run(20);
  assert.deepEqual([log.filter((x) => x === 'a').length, log.filter((x) => x === 'b').length], [10, 10]);
  assert.equal(s.waiting, 2, 'and still once after running');
});

test('with the real clock, a budget of 0 ms runs one unit', () => {
  const s = new FairScheduler<FakeLane>();
  const a = new FakeLane('a', 3, 0);
  s.add(a);
  assert.equal(s.run(0), true);
  assert.equal(a.work, 2);
});

test('a lane added with a credit runs before lanes that woke in the same turn, then takes its share like any other', () => {
  const s = setup();
  const busy = new FakeLane('busy', 1_000_000, 1);
  s.add(busy);
  s.run(500);
  const waking = new FakeLane('waking', 3, 1);
  const teardown = new FakeLane('teardown', 1_000, 1);
  s.add(waking); // a request read in this turn of the event loop
  s.add(teardown, 2); // a client that left in the same turn
  log.length = 0;
  s.run(6);
  assert.equal(log[0], 'teardown', `ran first: ${log.join(', ')}`);
  assert.ok(log.includes('waking'), 'the request is not starved behind the whole teardown');
});

test('a bystander whose one small request was stretched by a pause does not then wait for a unit of every busy lane', () => {
  const s = setup();
  const busy = Array.from({ length: 16 }, (_, i) => new FakeLane(`busy${i}`, 1_000_000, 0.5));
  for (const l of busy) s.add(l);
  s.run(200);
  const bystander = new FakeLane('bystander', 0, 0.05);
  s.add(bystander);
  for (let round = 0; round < 10; round++) {
    // its request meets a garbage collection (or the machine takes smafd's CPU): 5 ms charged to it
    bystander.work = 1;
    s.wake(bystander);
    const cost = round === 3 ? 5 : 0.05;
    Object.assign(bystander, { cost });
    s.run(0.01);
    Object.assign(bystander, { cost: 0.05 });
    s.run(3);
    bystander.work = 1;
    s.wake(bystander);
    log.length = 0;
    s.run(50);
    const waited = log.indexOf('bystander');
    assert.ok(waited <= 1, `round ${round}: after ${log.slice(0, waited).length} units of the busy lanes`);
  }
});
