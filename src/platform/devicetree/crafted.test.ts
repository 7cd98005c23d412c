/**
 * Crafted device trees (issue 21 item 7): blobs built in memory to make a naive reader quadratic or
 * hungry. Each is refused with a precise error before the work its limit bounds, or read with a
 * cost (counted steps, bytes decoded: never a timing) linear in its size.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FDT_LIMITS, FDT_MAGIC, parseFdt } from './fdt.ts';
import { Memblock } from './memblock.ts';
import { DtError, platformFromDeviceTree } from './to-platform.ts';

/** A blob writer that scales: the structure block as 32-bit words, the strings block as bytes. */
class Blob {
  private words = new Uint32Array(1024);
  private n = 0;
  strings: Uint8Array = new Uint8Array(0);
  reservations: [bigint, bigint][] = [];

  private word(w: number): void {
    if (this.n === this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2);
      bigger.set(this.words);
      this.words = bigger;
    }
    this.words[this.n++] = w >>> 0;
  }

  private bytes(b: Uint8Array): void {
    for (let i = 0; i < b.length; i += 4) this.word(((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0));
  }

  begin(name: string): this {
    this.word(1);
    this.bytes(new TextEncoder().encode(`${name}\0`));
    return this;
  }

  end(): this {
    this.word(2);
    return this;
  }

  /** A property whose name is at `nameoff` of the strings block. */
  prop(nameoff: number, value: number[] = []): this {
    this.word(3);
    this.word(value.length * 4);
    this.word(nameoff);
    for (const v of value) this.word(v);
    return this;
  }

  /** A property of raw bytes (its length is theirs; padded to a word). */
  propBytes(nameoff: number, value: Uint8Array): this {
    this.word(3);
    this.word(value.length);
    this.word(nameoff);
    this.bytes(value);
    return this;
  }

  /** Append a NUL-terminated string to the strings block; its offset. */
  string(s: string | Uint8Array): number {
    const bytes = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    const off = this.strings.length;
    const next = new Uint8Array(off + bytes.length + 1);
    next.set(this.strings);
    next.set(bytes, off);
    this.strings = next;
    return off;
  }

  build(): Uint8Array {
    this.word(9);
    const rsv = 40;
    const struct = rsv + (this.reservations.length + 1) * 16;
    const str = struct + this.n * 4;
    const total = str + this.strings.length;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    [FDT_MAGIC, total, struct, str, rsv, 17, 16, 0, this.strings.length, this.n * 4].forEach((x, i) => v.setUint32(i * 4, x));
    this.reservations.forEach(([a, s], i) => {
      v.setBigUint64(rsv + i * 16, a);
      v.setBigUint64(rsv + i * 16 + 8, s);
    });
    for (let i = 0; i < this.n; i++) v.setUint32(struct + i * 4, this.words[i]!);
    out.set(this.strings, str);
    return out;
  }
}

/** A root with the cell counts and a /memory node, children added by `fill`. */
function tree(fill: (b: Blob, names: { reg: number; addressCells: number; sizeCells: number }) => void, reservations: [bigint, bigint][] = []): Uint8Array {
  const b = new Blob();
  b.reservations = reservations;
  const addressCells = b.string('#address-cells');
  const sizeCells = b.string('#size-cells');
  const reg = b.string('reg');
  const deviceType = b.string('device_type');
  b.begin('').prop(addressCells, [1]).prop(sizeCells, [1]);
  b.begin('memory@40000000');
  b.prop(deviceType, [0x6d656d6f, 0x72790000]); // "memory\0\0"
  b.prop(reg, [0x40000000, 0x10000000]).end();
  fill(b, { reg, addressCells, sizeCells });
  b.end();
  return b.build();
}

const malformed = (re: RegExp) => (e: unknown): boolean => e instanceof RangeError && /^malformed device tree blob: /.test(e.message) && re.test(e.message);

test('80,000 sibling nodes are read in steps linear in the blob (a duplicate name is found by a set, not by comparing siblings)', () => {
  const siblings = (count: number, duplicate = false): Uint8Array => tree((b) => {
    for (let i = 0; i < count; i++) b.begin(`n${i}`).end();
    if (duplicate) b.begin('n0').end();
  });
  const blob = siblings(80_000);
  const fdt = parseFdt(blob);
  assert.equal(fdt.root.children.length, 80_001);
  // about 5 steps per 16-byte sibling (two tokens, the name scanned and decoded, one set lookup); a
  // reader comparing each new sibling with the others would need 80,000 * 80,000 / 2
  assert.ok(fdt.cost.steps <= blob.length, `${fdt.cost.steps} steps for ${blob.length} bytes`);
  const half = parseFdt(siblings(40_000));
  assert.ok(fdt.cost.steps <= 2.1 * half.cost.steps, 'twice the siblings, twice the steps');
  assert.throws(() => parseFdt(siblings(80_000, true)), malformed(/duplicate node \/n0$/));
});

test('a 1 MiB property name is refused at its first use, before it is decoded; a long name used 10,000 times is decoded once', () => {
  const huge = new Uint8Array(1024 * 1024).fill(0x61);
  const blob = tree((b) => {
    const off = b.string(huge);
    for (let i = 0; i < 200; i++) b.begin(`n${i}`).prop(off).end();
  });
  // the structure block starts at 0x38 (header, one reservation slot); the root (2 words, 2
  // properties of 4), /memory@40000000 (5 words of name, 2 properties of 5, END) take 26 words;
  // n0's BEGIN and name 2 more: its property, the first use of the name, is at 0x38 + 28 * 4 = 0xa8
  assert.throws(() => parseFdt(blob), malformed(/property name at strings offset 0x2b \(property at 0xa8\) is longer than 256 bytes/));

  const long = 'x'.repeat(FDT_LIMITS.maxNameLength);
  const reused = tree((b) => {
    const off = b.string(long);
    for (let i = 0; i < 10_000; i++) b.begin(`n${i}`).prop(off).end();
  });
  const fdt = parseFdt(reused);
  assert.equal(fdt.root.children[10_000]!.props.has(long), true);
  const namesOfTree = '#address-cells#size-cellsregdevice_type'.length;
  assert.equal(fdt.cost.propertyNameBytes, namesOfTree + long.length, 'each name decoded once, not once per property');
  assert.ok(fdt.cost.steps <= reused.length, `${fdt.cost.steps} steps for ${reused.length} bytes`);
});

test('30,000 /memreserve/ entries: refused at entry 1,025, before the rest are read or any is placed', () => {
  const entries: [bigint, bigint][] = Array.from({ length: 30_000 }, (_, i) => [0x40000000n + BigInt(i) * 0x2000n, 0x1000n]);
  assert.throws(() => parseFdt(tree(() => {}, entries)), malformed(/more than 1024 \/memreserve\/ entries \(entry 1025 at 0x4028\)/));
  // at the reader's limit, the platform's region limit still holds: refused before memblock places any
  const fdt = parseFdt(tree(() => {}, entries.slice(0, 1024)));
  assert.throws(() => platformFromDeviceTree(fdt), (e) => e instanceof DtError && /\/memreserve\/: the tree asks for more than 1024 memory regions/.test(e.message));
});

test('reserved-memory ranges and DRAM banks count against the region limit from the property length, before any is decoded or placed', () => {
  const manyRanges = tree((b, { reg, addressCells, sizeCells }) => {
    const ranges = b.string('ranges');
    b.begin('reserved-memory').prop(addressCells, [1]).prop(sizeCells, [1]).prop(ranges);
    const pairs: number[] = [];
    for (let i = 0; i < 2000; i++) pairs.push(0x41000000 + i * 0x1000, 0x1000);
    b.begin('fw@41000000').prop(reg, pairs).end();
    b.end();
  });
  assert.throws(() => platformFromDeviceTree(parseFdt(manyRanges)), (e) => e instanceof DtError && /\/reserved-memory\/fw@41000000: the tree asks for more than 1024 memory regions/.test(e.message));
  const manyBanks = tree((b, { reg }) => {
    const deviceType = b.string('device_type');
    const pairs: number[] = [];
    for (let i = 0; i < 1100; i++) pairs.push(0x80000000 + i * 0x100000, 0x100000);
    b.begin('memory@80000000').prop(deviceType, [0x6d656d6f, 0x72790000]).prop(reg, pairs).end();
  });
  assert.throws(() => platformFromDeviceTree(parseFdt(manyBanks)), (e) => e instanceof DtError && /\/memory@80000000 reg: the tree asks for more than 1024 memory regions/.test(e.message));
});

test('more nodes, deeper paths or a bigger blob than the limits: refused where the limit is crossed', () => {
  const nodes = tree((b) => {
    for (let i = 0; i < FDT_LIMITS.maxNodes; i++) b.begin(`n${i}`).end();
  });
  assert.throws(() => parseFdt(nodes), malformed(/more than 100000 nodes \(node 100001 at 0x/));
  const deep = tree((b) => {
    for (let i = 0; i < 20; i++) b.begin(`${'d'.repeat(60)}@${i}`);
    for (let i = 0; i < 20; i++) b.end();
  });
  assert.throws(() => parseFdt(deep), malformed(/is longer than 1024 characters/));
  const long = tree((b) => void b.begin('x'.repeat(300)).end());
  assert.throws(() => parseFdt(long), malformed(/node name at 0x[0-9a-f]+ under \/ is longer than 256 bytes/));
  assert.throws(() => parseFdt(new Uint8Array(FDT_LIMITS.maxBlobSize + 1)), malformed(/4194305 bytes is over the 4194304-byte limit/));
});

test('DMA masters past the platform\'s device limit are refused while the tree is walked; notes of a crafted tree are capped', () => {
  const masters = tree((b) => {
    const iommus = b.string('iommus');
    for (let i = 0; i < 4097; i++) b.begin(`dma@${i.toString(16)}`).prop(iommus, [1]).end();
  });
  assert.throws(() => platformFromDeviceTree(parseFdt(masters)), (e) => e instanceof DtError && /node \/dma@1000: more than 4096 DMA masters/.test(e.message));
  const idle = tree((b, { addressCells, sizeCells }) => {
    const ranges = b.string('ranges');
    b.begin('reserved-memory').prop(addressCells, [1]).prop(sizeCells, [1]).prop(ranges);
    for (let i = 0; i < 5000; i++) b.begin(`nothing@${i}`).end();
    b.end();
  });
  const { report } = platformFromDeviceTree(parseFdt(idle));
  assert.equal(report.notes.length, 201);
  assert.match(report.notes.at(-1)!, /^\(4800 more notes not shown\)$/);
});

test('the platform name from a tree\'s model is checked like any text shown to clients: a control character is refused', () => {
  const model = (text: string): Uint8Array => {
    const b = new Blob();
    const addressCells = b.string('#address-cells');
    const sizeCells = b.string('#size-cells');
    const modelName = b.string('model');
    b.begin('').prop(addressCells, [1]).prop(sizeCells, [1]).propBytes(modelName, new TextEncoder().encode(`${text}\0`)).end();
    return b.build();
  };
  assert.equal(platformFromDeviceTree(parseFdt(model('Khadas VIM3'))).spec.name, 'Khadas VIM3');
  for (const [text, cp] of [['evl\x1b]0;owned\x07', 'U\\+001B'], ['csi\u009b2J', 'U\\+009B'], ['rlo\u202etxt', 'U\\+202E']] as const) {
    assert.throws(() => platformFromDeviceTree(parseFdt(model(text))), (e) => e instanceof DtError && new RegExp(`name \\(the platform's name: the tree's model.*holds ${cp} at character 3`).test(e.message), text);
  }
});

test('memblock keeps its reserved list sorted by inserting in place: allocations never land on a reservation', () => {
  const m = new Memblock([{ base: 0, size: 1 << 30 }], 4096);
  // 500 reservations of 4 KiB, 64 KiB apart, inserted in a scrambled order
  const bases = Array.from({ length: 500 }, (_, i) => ((i * 7919) % 500) * 0x10000 + 0x100000);
  for (const b of bases) m.reserve(b, 0x1000);
  const top = 0x100000 + 500 * 0x10000;
  // each gap holds 60 KiB: top-down, the highest gaps first, one after the other
  for (let k = 499; k >= 490; k--) assert.equal(m.allocate(0xf000, 0, 0x100000, top), 0x100000 + k * 0x10000 + 0x1000);
  assert.equal(m.allocate(0x10000, 0, 0x100000, top), null, 'no gap holds 64 KiB');
});
