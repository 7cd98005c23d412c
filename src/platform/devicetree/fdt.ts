/**
 * A strict reader of flattened device tree blobs (the `.dtb` format of the devicetree
 * specification, v0.4 chapter 5): header, memory reservation block, structure block, strings.
 *
 * Every offset and length is checked against the blob before it is used, so a truncated or
 * corrupted blob gives a RangeError that says what is wrong and where, never an out-of-range read,
 * a crash or a hang. A crafted blob cannot make the reader slow or hungry either: every limit below
 * is checked before the work it bounds, and every step is linear in the blob's size. The structure
 * block is read in one forward pass (each token advances the cursor by at least 4 bytes); a
 * duplicate child name is found with a set, not by comparing siblings; a property name is decoded
 * once per strings-block offset however many properties name it; the reservation block stops at
 * its limit; a node's path is built when asked for, not kept for every node.
 */

export const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;
const HEADER_SIZE = 40;

/**
 * Bounds no real tree reaches (the largest boards' blobs are a few hundred KiB, with a few thousand
 * nodes, names under 64 bytes, paths under 200 and a handful of /memreserve/ entries).
 */
export const FDT_LIMITS = {
  /** Bytes of a blob (and of a platform file on disk). */
  maxBlobSize: 4 * 1024 * 1024,
  /** Nodes in a tree. */
  maxNodes: 100_000,
  /** Bytes of a node name (with its unit address) or a property name. */
  maxNameLength: 256,
  /** Characters of a node's full path. */
  maxPathLength: 1024,
  /** Nesting depth: dtc rejects deeper trees long before; a bound keeps a hostile blob from exhausting the stack. */
  maxDepth: 64,
  /** Entries of the memory reservation block (as many as a platform has regions). */
  maxReservations: 1024,
} as const;

export const MAX_DEPTH = FDT_LIMITS.maxDepth;

export interface FdtNode {
  /** Node name with its unit address (`video-codec@aa00000`); "" for the root. */
  readonly name: string;
  /** Full path (`/soc@0/video-codec@aa00000`); "/" for the root. */
  readonly path: string;
  readonly parent: FdtNode | null;
  readonly props: ReadonlyMap<string, Uint8Array>;
  readonly children: readonly FdtNode[];
}

export interface FdtReservation {
  readonly address: bigint;
  readonly size: bigint;
}

/** What reading the blob cost, in steps that do not depend on the machine (tests bound them). */
export interface FdtCost {
  /** Tokens and header fields read, name bytes scanned and decoded, name lookups. */
  readonly steps: number;
  /** Bytes of property names decoded (each strings-block offset once). */
  readonly propertyNameBytes: number;
}

export interface Fdt {
  readonly version: number;
  readonly bootCpu: number;
  readonly root: FdtNode;
  /** The memory reservation block (`/memreserve/` in a .dts). */
  readonly reservations: readonly FdtReservation[];
  readonly cost: FdtCost;
}

/** A node as the parser builds it; its path is made from its parents when first asked for. */
class ParsedNode implements FdtNode {
  readonly props = new Map<string, Uint8Array>();
  readonly children: ParsedNode[] = [];
  /** Names of the children, for the duplicate check (made with the second child). */
  childNames: Set<string> | null = null;
  private pathText: string | null = null;

  constructor(readonly name: string, readonly parent: ParsedNode | null, readonly pathLength: number) {}

  get path(): string {
    if (this.pathText === null) this.pathText = this.parent === null ? '/' : this.parent.parent === null ? `/${this.name}` : `${this.parent.path}/${this.name}`;
    return this.pathText;
  }

  /** Whether a child of this name exists; records it. One set lookup, whatever the number of siblings. */
  addChildName(name: string): boolean {
    if (this.children.length === 0) return true;
    if (this.childNames === null) this.childNames = new Set(this.children.map((c) => c.name));
    if (this.childNames.has(name)) return false;
    this.childNames.add(name);
    return true;
  }
}

function fail(message: string): never {
  throw new RangeError(`malformed device tree blob: ${message}`);
}

const hexOff = (n: number): string => `0x${n.toString(16)}`;

/** The header fields the parser uses. */
interface Header {
  readonly totalSize: number;
  readonly offStruct: number;
  readonly offStrings: number;
  readonly offRsvmap: number;
  readonly version: number;
  readonly bootCpu: number;
  readonly sizeStrings: number;
  readonly sizeStruct: number;
}

/** Parse a .dtb. Throws RangeError("malformed device tree blob: ...") on any inconsistency or exceeded limit. */
export function parseFdt(bytes: Uint8Array): Fdt {
  if (bytes.length > FDT_LIMITS.maxBlobSize) fail(`${bytes.length} bytes is over the ${FDT_LIMITS.maxBlobSize}-byte limit (real boards' blobs are a few hundred KiB)`);
  if (bytes.length < HEADER_SIZE) fail(`${bytes.length} bytes is shorter than the ${HEADER_SIZE}-byte header (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(bytes, view);
  const reservations = readReservations(view, header);
  const parser = new StructParser(bytes, view, header);
  const root = parser.parse();
  return { version: header.version, bootCpu: header.bootCpu, root, reservations, cost: { steps: parser.steps + reservations.length + 1, propertyNameBytes: parser.propertyNameBytes } };
}

function readHeader(bytes: Uint8Array, view: DataView): Header {
  const magic = view.getUint32(0);
  if (magic !== FDT_MAGIC) fail(`bad magic ${hexOff(magic)} (expected 0xd00dfeed): not a .dtb`);
  const totalSize = view.getUint32(4);
  const offStruct = view.getUint32(8);
  const offStrings = view.getUint32(12);
  const offRsvmap = view.getUint32(16);
  const version = view.getUint32(20);
  const lastCompVersion = view.getUint32(24);
  const bootCpu = view.getUint32(28);
  const sizeStrings = view.getUint32(32);
  if (version < 16) fail(`version ${version} is older than 16, the oldest this reader supports`);
  if (lastCompVersion > 17) fail(`last compatible version ${lastCompVersion} is newer than 17`);
  if (totalSize > bytes.length) fail(`header says ${totalSize} bytes but the file has ${bytes.length} (truncated)`);
  if (totalSize < HEADER_SIZE) fail(`total size ${totalSize} is smaller than the header`);
  const sizeStruct = version >= 17 ? view.getUint32(36) : totalSize - offStruct;
  const block = (what: string, off: number, size: number): void => {
    if (off < HEADER_SIZE || off > totalSize || size > totalSize - off) fail(`${what} block ${hexOff(off)}+${hexOff(size)} lies outside the blob (${totalSize} bytes)`);
  };
  block('structure', offStruct, sizeStruct);
  block('strings', offStrings, sizeStrings);
  block('memory reservation', offRsvmap, 0);
  if (offStruct % 4 !== 0) fail(`structure block offset ${hexOff(offStruct)} is not 4-byte aligned`);
  if (offRsvmap % 8 !== 0) fail(`memory reservation block offset ${hexOff(offRsvmap)} is not 8-byte aligned`);
  return { totalSize, offStruct, offStrings, offRsvmap, version, bootCpu, sizeStrings, sizeStruct };
}

/** The memory reservation block: (u64 address, u64 size) pairs up to a (0, 0) terminator, at most maxReservations. */
function readReservations(view: DataView, h: Header): FdtReservation[] {
  const reservations: FdtReservation[] = [];
  for (let off = h.offRsvmap; ; off += 16) {
    if (off + 16 > h.totalSize) fail(`memory reservation block at ${hexOff(h.offRsvmap)} has no terminating entry`);
    const address = view.getBigUint64(off);
    const size = view.getBigUint64(off + 8);
    if (address === 0n && size === 0n) break;
    if (reservations.length === FDT_LIMITS.maxReservations) {
      fail(`more than ${FDT_LIMITS.maxReservations} /memreserve/ entries (entry ${reservations.length + 1} at ${hexOff(off)}): a platform has at most ${FDT_LIMITS.maxReservations} regions`);
    }
    reservations.push({ address, size });
  }
  return reservations;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** The structure block, token by token, into a node tree. */
class StructParser {
  /** Work done, counted (see FdtCost). */
  steps = 0;
  propertyNameBytes = 0;
  private readonly end: number;
  private pos: number;
  private root: ParsedNode | null = null;
  private current: ParsedNode | null = null;
  private depth = 0;
  private nodes = 0;
  private finished = false;
  /** Property names by strings-block offset: each decoded once, however many properties use it. */
  private readonly names = new Map<number, string>();
  private readonly tokens: Readonly<Record<number, (at: number) => void>> = {
    [FDT_BEGIN_NODE]: (at) => this.beginNode(at),
    [FDT_END_NODE]: (at) => this.endNode(at),
    [FDT_PROP]: (at) => this.prop(at),
    [FDT_NOP]: () => {},
    [FDT_END]: () => this.endTree(),
  };

  constructor(private readonly bytes: Uint8Array, private readonly view: DataView, private readonly h: Header) {
    this.end = h.offStruct + h.sizeStruct;
    this.pos = h.offStruct;
  }

  parse(): FdtNode {
    while (!this.finished) {
      const at = this.pos;
      const token = this.u32();
      const handle = this.tokens[token];
      if (!handle) fail(`unknown token ${hexOff(token)} at ${hexOff(at)}`);
      handle(at);
    }
    return this.root as FdtNode;
  }

  private u32(): number {
    if (this.pos + 4 > this.end) fail(`structure block ends in the middle of a token at ${hexOff(this.pos)} (truncated)`);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    this.steps++;
    return v;
  }

  /**
   * The NUL-terminated name at `start`, ending before `limit`: at most maxNameLength bytes are
   * looked at (a longer name fails before it is decoded), then decoded as printable ASCII.
   */
  private name(start: number, limit: number, what: () => string): string {
    const window = this.bytes.subarray(start, Math.min(limit, start + FDT_LIMITS.maxNameLength + 1));
    const nul = window.indexOf(0);
    this.steps += nul < 0 ? window.length : nul + 1;
    if (nul < 0) {
      if (window.length > FDT_LIMITS.maxNameLength) fail(`${what()} is longer than ${FDT_LIMITS.maxNameLength} bytes (the limit; real trees use under 64)`);
      return fail(`${what()} is not NUL-terminated inside its block`);
    }
    this.steps += nul;
    return decodeAscii(window.subarray(0, nul), what);
  }

  private propertyName(nameoff: number, where: number): string {
    this.steps++;
    const known = this.names.get(nameoff);
    if (known !== undefined) return known;
    const { offStrings, sizeStrings } = this.h;
    if (nameoff >= sizeStrings) fail(`property name offset ${hexOff(nameoff)} at ${hexOff(where)} is outside the strings block (${sizeStrings} bytes)`);
    const name = this.name(offStrings + nameoff, offStrings + sizeStrings, () => `property name at strings offset ${hexOff(nameoff)} (property at ${hexOff(where)})`);
    this.propertyNameBytes += name.length;
    this.names.set(nameoff, name);
    return name;
  }

  private beginNode(at: number): void {
    const { current, pos, end } = this;
    if (this.root && !current) fail(`a second root node at ${hexOff(at)}`);
    if (++this.nodes > FDT_LIMITS.maxNodes) fail(`more than ${FDT_LIMITS.maxNodes} nodes (node ${this.nodes} at ${hexOff(at)})`);
    if (++this.depth > FDT_LIMITS.maxDepth) fail(`nodes nested deeper than ${FDT_LIMITS.maxDepth} levels at ${hexOff(at)}`);
    const name = this.name(pos, end, () => `node name at ${hexOff(pos)}${current ? ` under ${current.path}` : ''}`);
    if (!current && name !== '') fail(`the root node has a name ("${name}")`);
    if (current && name === '') fail(`an unnamed node under ${current.path} at ${hexOff(at)}`);
    if (current && name.includes('/')) fail(`node name "${name}" under ${current.path} contains "/"`);
    this.pos = align4(pos + name.length + 1);
    if (this.pos > end) fail(`node "${name}" runs past the structure block`);
    const pathLength = current ? (current.parent ? current.pathLength + 1 : 1) + name.length : 1;
    if (pathLength > FDT_LIMITS.maxPathLength) fail(`the path of node "${name}" under ${current!.path} is longer than ${FDT_LIMITS.maxPathLength} characters`);
    const node = new ParsedNode(name, current, pathLength);
    if (current) {
      this.steps++;
      if (!current.addChildName(name)) fail(`duplicate node ${node.path}`);
      current.children.push(node);
    } else this.root = node;
    this.current = node;
  }

  private endNode(at: number): void {
    if (!this.current) fail(`END_NODE without a node at ${hexOff(at)}`);
    this.current.childNames = null; // only open nodes take children
    this.current = this.current.parent;
    this.depth--;
  }

  private prop(at: number): void {
    const current = this.current;
    if (!current) fail(`property outside any node at ${hexOff(at)}`);
    const len = this.u32();
    const nameoff = this.u32();
    if (len > this.end - this.pos) fail(`property at ${hexOff(at)} in ${current.path} claims ${len} bytes, past the end of the structure block`);
    const name = this.propertyName(nameoff, at);
    if (current.props.has(name)) fail(`duplicate property "${name}" in ${current.path}`);
    current.props.set(name, this.bytes.slice(this.pos, this.pos + len));
    this.pos = align4(this.pos + len);
    if (this.pos > this.end) fail(`property "${name}" in ${current.path} runs past the structure block`);
  }

  private endTree(): void {
    if (!this.root) fail('the structure block has no root node');
    if (this.current) fail(`END before node ${this.current.path} was closed (truncated?)`);
    this.finished = true;
  }
}

/** Printable ASCII only (names of nodes and properties), decoded in one call. */
function decodeAscii(b: Uint8Array, what: () => string): string {
  for (const c of b) if (c < 0x20 || c > 0x7e) fail(`${what()} holds a non-printable byte 0x${c.toString(16)}`);
  return LATIN1.decode(b);
}

const LATIN1 = new TextDecoder('latin1');

// ---- property readers (big-endian cells, strings, phandles) ----

/** The property as u32 cells; RangeError when its length is not a multiple of 4. */
export function cells(node: FdtNode, prop: string): number[] | undefined {
  const v = node.props.get(prop);
  if (v === undefined) return undefined;
  if (v.length % 4 !== 0) throw new RangeError(`${node.path}: property "${prop}" is ${v.length} bytes, not a whole number of cells`);
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(view.getUint32(i));
  return out;
}

function u32Prop(node: FdtNode, prop: string): number | undefined {
  const c = cells(node, prop);
  if (c === undefined) return undefined;
  if (c.length !== 1) throw new RangeError(`${node.path}: property "${prop}" should be one cell, is ${c.length}`);
  return c[0];
}

/** A NUL-separated string list (`compatible`, `status`). */
export function strings(node: FdtNode, prop: string): string[] | undefined {
  const v = node.props.get(prop);
  if (v === undefined) return undefined;
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) {
      parts.push(new TextDecoder().decode(v.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < v.length) parts.push(new TextDecoder().decode(v.subarray(start)));
  return parts;
}

export function stringProp(node: FdtNode, prop: string): string | undefined {
  return strings(node, prop)?.[0];
}

export function hasProp(node: FdtNode, prop: string): boolean {
  return node.props.has(prop);
}

/** Join `n` cells (1 or 2, as #address-cells/#size-cells say) into a bigint. */
export function joinCells(c: readonly number[], at: number, n: number): bigint {
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 32n) | BigInt(c[at + i] ?? 0);
  return v;
}

/** `#address-cells` / `#size-cells` that a node gives its children (defaults 2 and 1, as the spec says). */
export function childCells(node: FdtNode): { address: number; size: number } {
  const address = u32Prop(node, '#address-cells') ?? 2;
  const size = u32Prop(node, '#size-cells') ?? 1;
  if (address > 3) throw new RangeError(`${node.path}: #address-cells = <${address}> is more than 3`);
  if (size > 2) throw new RangeError(`${node.path}: #size-cells = <${size}> is more than 2`);
  return { address, size };
}

/** (address, size) pairs of a `reg`-like property, read with the parent's cell counts. */
export function regPairs(node: FdtNode, prop: string, addressCells: number, sizeCells: number): { address: bigint; size: bigint }[] | undefined {
  const c = cells(node, prop);
  if (c === undefined) return undefined;
  const stride = addressCells + sizeCells;
  if (stride === 0 || c.length % stride !== 0) {
    throw new RangeError(`${node.path}: "${prop}" has ${c.length} cells, not a multiple of #address-cells + #size-cells = ${addressCells} + ${sizeCells}`);
  }
  const out = [];
  for (let i = 0; i < c.length; i += stride) out.push({ address: joinCells(c, i, addressCells), size: joinCells(c, i + addressCells, sizeCells) });
  return out;
}

/** Available as the kernel's of_device_is_available: no status, "okay" or "ok". */
export function isEnabled(node: FdtNode): boolean {
  const s = stringProp(node, 'status');
  return s === undefined || s === 'okay' || s === 'ok';
}

/** Every node of the tree, depth first, parents before children. */
export function* walk(node: FdtNode): Generator<FdtNode> {
  yield node;
  for (const c of node.children) yield* walk(c);
}

/** Map of phandle -> node (`phandle` or the legacy `linux,phandle`). */
export function phandles(root: FdtNode): Map<number, FdtNode> {
  const map = new Map<number, FdtNode>();
  for (const n of walk(root)) {
    const p = u32Prop(n, 'phandle') ?? u32Prop(n, 'linux,phandle');
    if (p !== undefined && p !== 0 && p !== 0xffffffff) map.set(p, n);
  }
  return map;
}

export function findPath(root: FdtNode, path: string): FdtNode | undefined {
  if (path === '/') return root;
  let n: FdtNode | undefined = root;
  for (const part of path.split('/').filter(Boolean)) {
    n = n.children.find((c) => c.name === part) ?? n.children.find((c) => c.name.split('@')[0] === part && !part.includes('@'));
    if (!n) return undefined;
  }
  return n;
}
