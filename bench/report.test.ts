import assert from 'node:assert/strict';
import { test } from 'node:test';
import { docOf } from './goals.ts';
import { metric, pairedMetric } from './metric.ts';
import { judge, performanceDoc, scaleSvg, tableRows } from './report.ts';
import { paired } from './rounds.ts';

test('each figure is judged against its goal, by name or by family, on its ratio or its value', () => {
  const judged = judge([
    metric('core.dma_copy.8m', 160, 100, 'µs'),
    metric('core.lifecycle.4k', 4.2, null, 'µs/op'),
    metric('scale.create_close.10k', 110, 100, 'µs'),
    metric('scale.dashboard.100k', 130, 100, 'µs'),
    metric('memory.overhead.allocated', 2049, 4096, 'B/buffer'),
    metric('deferred.compatibility', 0.99, null, 'share'),
    metric('cma.fit.nofit_ratio', 1, 80, 'µs'),
  ]);
  assert.deepEqual(judged.map((m) => [m.metric, m.goal, m.met]), [
    ['core.dma_copy.8m', '≤ 1.5x', false],
    ['core.lifecycle.4k', '≤ 5 µs/op', true],
    ['scale.create_close.10k', '≤ 1.2x', true],
    ['scale.dashboard.100k', '≤ 1.2x', false],
    ['memory.overhead.allocated', '≤ 2048 B/buffer', false],
    ['deferred.compatibility', '≥ 1 share', false],
    ['cma.fit.nofit_ratio', null, null],
  ]);
  assert.deepEqual(tableRows(judged).map((r) => r[6]), ['MISS', 'ok', 'ok', 'MISS', 'MISS', 'MISS', '']);
  assert.equal(docOf('daemon.bystander.max_added_ms')?.goal?.max, 10, 'the exact name wins over its family');
});

test('the scale plot draws every point, the empty smafd beside it and the goal, from the figures', () => {
  const curve = [{ live: 0, p50Us: 100, emptyUs: 100 }, { live: 50_000, p50Us: 105, emptyUs: 98 }, { live: 100_000, p50Us: 111, emptyUs: 101 }];
  const svg = scaleSvg(curve);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(svg.match(/<circle /g)?.length, 3);
  assert.equal(svg.match(/<polyline /g)?.length, 3, 'the figure, the empty smafd, the goal');
  assert.match(svg, /<title>100000 live: 111 µs \(empty smafd: 101 µs\)<\/title>/);
  assert.notEqual(scaleSvg(curve.map((p) => ({ ...p, p50Us: p.p50Us * 3 }))), svg, 'the plot follows the figures');
});

test('the page lists each figure with what it measures, its baseline, its goal and a miss', () => {
  const judged = judge([metric('core.dma_copy.8m', 160, 100, 'µs')]);
  const page = performanceDoc({ judged, machine: 'test cpu', quick: false, timestamp: 'T', plot: 'performance-scale.svg', notes: '## Notes\n\nwhy' });
  assert.match(page, /\| `core.dma_copy.8m` \| a device behind an IOMMU copies 8 MiB .* \| Buffer.copy of 8 MiB \| ≤ 1.5x \*\*miss\*\* \| 160 µs \| 1.60x \| - \|/);
  assert.match(page, /!\[CREATE\+CLOSE p50 against live buffers\]\(performance-scale.svg\)/);
  assert.match(page, /## Notes\n\nwhy\n$/);
});

test('paired rounds alternate their order, and the ratio is the median of the rounds\' own ratios', async () => {
  const order: string[] = [];
  // the figure costs twice its baseline; the machine's load doubles both sides of some rounds, and
  // hits only the baseline of the last
  const as = [20, 40, 20, 40, 20, 40];
  const bs = [10, 20, 10, 20, 10, 10];
  const p = await paired(6, () => (order.push('a'), as.shift()!), () => (order.push('b'), bs.shift()!));
  assert.deepEqual(order.join(''), 'abbaabbaabba', 'neither side always goes first');
  assert.deepEqual([p.ratio, p.value, p.baseline], [2, 40, 10]);
  assert.deepEqual(p.spread, { rounds: 6, min: 2, p25: 2, p75: 2, max: 4 });
  const judged = judge([pairedMetric('core.dma_copy.8m', { value: 120, baseline: 100, ratio: 1.25, spread: { rounds: 40, min: 0.9, p25: 1.1, p75: 1.3, max: 2 } }, 'µs')]);
  assert.equal(judged[0]!.met, true, 'the paired ratio is judged, not value / baseline');
  assert.equal(tableRows(judged)[0]![4], '1.10-1.30 (0.90-2.00)');
  const page = performanceDoc({ judged, machine: 'm', quick: false, timestamp: 'T', plot: null, notes: '' });
  assert.match(page, /\| 120 µs \| 1.25x \| 1.10-1.30 \(0.90-2.00\), 40 rounds \|/);
});
