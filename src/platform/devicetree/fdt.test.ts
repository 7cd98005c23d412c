import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cells, FDT_MAGIC, MAX_DEPTH, parseFdt, stringProp } from './fdt.ts';

/** A tiny .dtb writer for tests: nodes as nested objects, properties as u32 arrays or strings. */
type Props = Record<string, number[] | string | true>;
interface TNode { name: string; props?: Props; children?: TNode[] }

function build(root: TNode, reservations: [bigint, bigint][] = []): Uint8Array {
  const strings: string[] = [];
  const strOff = (s: string): number => {
    let off = 0;
    for (const x of strings) {
      if (x === s) return off;
      off += x.length + 1;
    }
    strings.push(s);
    return off;
  };
  const words: number[] = [];
  const bytesOf = (s: string): number[] => [...new TextEncoder().encode(s), 0];
  const pushBytes = (b: number[]): void => {
    const padded = [...b];
    while (padded.length % 4) padded.push(0);
    for (let i = 0; i < padded.length; i += 4) words.push(((padded[i]! << 24) | (padded[i + 1]! << 16) | (padded[i + 2]! << 8) | padded[i + 3]!) >>> 0);
  };
  const emit = (n: TNode): void => {
    words.push(1);
    pushBytes(bytesOf(n.name));
    for (const [k, v] of Object.entries(n.props ?? {})) {
      const data = v === true ? [] : typeof v === 'string' ? bytesOf(v) : v.flatMap((x) => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
      words.push(3, data.length, strOff(k));
      pushBytes(data);
    }
    for (const c of n.children ?? []) emit(c);
    words.push(2);
  };
  emit(root);
  words.push(9);
  const strBytes = strings.flatMap(bytesOf);
  const rsv = 40;
  const struct = rsv + (reservations.length + 1) * 16;
  const str = struct + words.length * 4;
  const total = str + strBytes.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  [FDT_MAGIC, total, struct, str, rsv, 17, 16, 0, strBytes.length, words.length * 4].forEach((x, i) => v.setUint32(i * 4, x));
  reservations.forEach(([a, s], i) => {
    v.setBigUint64(rsv + i * 16, a);
    v.setBigUint64(rsv + i * 16 + 8, s);
  });
  words.forEach((w, i) => v.setUint32(struct + i * 4, w));
  out.set(strBytes, str);
  return out;
}

const sample = (): Uint8Array => build({
  name: '',
  props: { '#address-cells': [1], '#size-cells': [1], model: 'tiny' },
  children: [
    { name: 'memory@0', props: { device_type: 'memory', reg: [0, 0x1000000] } },
    { name: 'soc', props: { 'dma-coherent': true }, children: [{ name: 'dev@10', props: { compatible: 'x,y' } }] },
  ],
}, [[0x1000n, 0x2000n]]);

const malformed = (bytes: Uint8Array, re: RegExp): void => {
  assert.throws(() => parseFdt(bytes), (e) => e instanceof RangeError && /^malformed device tree blob: /.test(e.message) && re.test(e.message), `expected ${re}`);
};

test('a well-formed blob parses into nodes, paths, properties and reservations', () => {
  const f = parseFdt(sample());
  assert.equal(f.version, 17);
  assert.equal(stringProp(f.root, 'model'), 'tiny');
  assert.deepEqual(f.root.children.map((c) => c.path), ['/memory@0', '/soc']);
  assert.equal(f.root.children[1]!.children[0]!.path, '/soc/dev@10');
  assert.deepEqual(cells(f.root.children[0]!, 'reg'), [0, 0x1000000]);
  assert.deepEqual(f.reservations, [{ address: 0x1000n, size: 0x2000n }]);
});

test('bad magic, truncation and out-of-range offsets are clear errors', () => {
  const good = sample();
  const bad = good.slice();
  new DataView(bad.buffer).setUint32(0, 0x12345678);
  malformed(bad, /bad magic 0x12345678/);
  malformed(good.subarray(0, 20), /shorter than the 40-byte header/);
  malformed(good.subarray(0, good.length - 8), /truncated/);
  const patch = (off: number, value: number): Uint8Array => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(off, value);
    return b;
  };
  malformed(patch(8, 0xfffffff0), /structure block .* lies outside the blob/);
  malformed(patch(12, good.length + 100), /strings block .* lies outside/);
  malformed(patch(36, 0x7fffffff), /structure block .* lies outside/);
  malformed(patch(20, 3), /version 3 is older than 16/);
  malformed(patch(16, Math.floor((good.length - 8) / 8) * 8), /no terminating entry/);
  malformed(patch(16, 44), /not 8-byte aligned/);
});

test('corrupted structure blocks: unknown tokens, huge properties, bad name offsets, nesting bombs', () => {
  const good = sample();
  const v = new DataView(good.buffer);
  const struct = v.getUint32(8);
  const at = (off: number, value: number): Uint8Array => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(off, value);
    return b;
  };
  malformed(at(struct, 7), /unknown token 0x7/);
  // the first property of the root: token, len, nameoff (root name is one padded word)
  malformed(at(struct + 12, 0xffffff00), /claims \d+ bytes, past the end/);
  malformed(at(struct + 16, 0xffff), /property name offset 0xffff .* outside the strings block/);
  // a structure block that never closes the root: END replaced by NOP
  const words = v.getUint32(36) / 4;
  malformed(at(struct + (words - 1) * 4, 4), /truncated/);
  // nodes nested deeper than MAX_DEPTH
  let deep: { name: string; children?: { name: string }[] } = { name: 'n' };
  for (let i = 0; i < MAX_DEPTH + 2; i++) deep = { name: 'n', children: [deep] };
  malformed(build({ name: '', children: [deep] }), /nested deeper than 64/);
});

test('random corruption never crashes, hangs or throws anything but a RangeError', () => {
  const good = sample();
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let failures = 0;
  for (let i = 0; i < 3000; i++) {
    const b = good.slice();
    for (let k = 0; k <= rnd(4); k++) b[rnd(b.length)] = rnd(256);
    const cut = rnd(10) === 0 ? b.subarray(0, rnd(b.length)) : b;
    try {
      parseFdt(cut);
    } catch (e) {
      assert.ok(e instanceof RangeError, `not a RangeError: ${String(e)}`);
      failures++;
    }
  }
  assert.ok(failures > 100, 'the corruptions were detected');
});
