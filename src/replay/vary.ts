/**
 * What a what-if sweep varies: `--vary KEY=VALUES`. Keys:
 *
 * - `<region>.size` (`cma.size`, `sdp.size`): a region's size. The region keeps its end and grows
 *   or shrinks at its base, as the kernel places reserved memory top-down; a size that makes the
 *   platform invalid (an overlap, outside its DRAM) is refused before anything runs.
 * - `<device>.dma_mask`: a device's DMA mask (and coherent mask), in bits.
 * - `<device>.iommu`: whether a device sits behind an IOMMU (`on`, `off`).
 * - `<allocator>.ranking`: an allocator's ranking; `<allocator>.present`: whether it is registered.
 * - `policy`: `deferred` or `eager`.
 *
 * VALUES: `FROM..TO[:STEP]` (numbers or sizes; without a step, 16 values from FROM to TO), or a list
 * `A,B,C` (also `on|off`).
 */
import { SmafError } from '../common/errors.ts';
import { formatSize, parseSize } from '../common/units.ts';
import { platformDocument, validatePlatform, type PlatformSpec } from '../platform/index.ts';
import { createSmafSystem, type PresetOptions } from '../presets/default.ts';
import { replay, type Difference, type PreparedRecording } from './engine.ts';
import { POLICIES, type PolicyName } from './policy.ts';

export type VaryProperty = 'size' | 'dma_mask' | 'iommu' | 'ranking' | 'present' | 'policy';
export type VaryValue = number | boolean | PolicyName;

export interface Variation {
  /** As the user wrote it: `cma.size`. */
  readonly key: string;
  /** The region, device or allocator (none for `policy`). */
  readonly target: string;
  readonly property: VaryProperty;
  readonly values: readonly VaryValue[];
}

/** One value's setting: the platform, the preset, the policy. */
export interface Setting {
  readonly spec: PlatformSpec;
  readonly preset: PresetOptions;
  readonly policy: PolicyName;
}

const DEVICE_PROPS = ['dma_mask', 'iommu'];
const ALLOCATOR_PROPS = ['ranking', 'present'];
/** Values a sweep runs at most. */
const MAX_VALUES = 1024;
const DEFAULT_STEPS = 16;

function fail(message: string): never {
  throw new SmafError('EINVAL', `--vary ${message}`);
}

function onOff(key: string, v: string): boolean {
  if (v === 'on' || v === 'true' || v === 'yes') return true;
  if (v === 'off' || v === 'false' || v === 'no') return false;
  return fail(`${key}: "${v}" is not on or off`);
}

/** FROM..TO[:STEP] or a list, as numbers (sizes when `sizes`). */
function numbers(key: string, text: string, sizes: boolean, page: number): number[] {
  const parse = (s: string): number => {
    try {
      return sizes ? parseSize(s) : parseSize(s.replace(/^-/, '')) * (s.startsWith('-') ? -1 : 1);
    } catch (e) {
      return fail(`${key}: ${(e as Error).message}`);
    }
  };
  const range = /^([^.]+)\.\.([^:]+)(?::(.+))?$/.exec(text);
  if (!range) return text.split(/[,|]/).map((s) => parse(s.trim()));
  const from = parse(range[1]!);
  const to = parse(range[2]!);
  if (to < from) fail(`${key}: the range ${text} goes down (write FROM..TO with FROM <= TO)`);
  let step = range[3] !== undefined ? parse(range[3]) : Math.max(sizes ? page : 1, (to - from) / (DEFAULT_STEPS - 1));
  if (sizes) step = Math.max(page, Math.round(step / page) * page);
  else if (range[3] === undefined) step = Math.max(1, Math.round(step));
  if (step <= 0) fail(`${key}: the step must be more than 0`);
  if ((to - from) / step + 1 > MAX_VALUES) fail(`${key}: ${text} is more than ${MAX_VALUES} values: take a larger step`);
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  if (out.at(-1) !== to) out.push(to);
  return out;
}

/** Parse `KEY=VALUES` against a platform (the names must exist there). EINVAL naming what does not. */
export function parseVariation(text: string, spec: PlatformSpec): Variation {
  const eq = text.indexOf('=');
  if (eq <= 0) fail(`"${text}": write KEY=FROM..TO[:STEP] or KEY=A,B,C (keys: <region>.size, <device>.dma_mask, <device>.iommu, <allocator>.ranking, <allocator>.present, policy)`);
  const key = text.slice(0, eq).trim();
  const rhs = text.slice(eq + 1).trim();
  if (key === 'policy') {
    const values = rhs.split(/[,|]/).map((v) => v.trim());
    for (const v of values) if (!POLICIES.includes(v as PolicyName)) fail(`policy: "${v}" is not a policy (${POLICIES.join(', ')})`);
    return { key, target: '', property: 'policy', values: values as PolicyName[] };
  }
  const dot = key.lastIndexOf('.');
  const target = key.slice(0, dot);
  const property = key.slice(dot + 1);
  if (dot <= 0) fail(`"${key}": a key is <name>.<property> or policy`);
  const list = (s: string): string[] => (/\.\./.test(s) ? s.split('..') : s.split(/[,|]/)).map((v) => v.trim());
  if (property === 'size') {
    const r = spec.memory.find((m) => m.name === target);
    if (!r || r.kind === 'system' || r.kind === 'reserved') fail(`${key}: no region "${target}" to resize (regions: ${spec.memory.filter((m) => m.kind !== 'system' && m.kind !== 'reserved').map((m) => m.name).join(', ')})`);
    return { key, target, property, values: numbers(key, rhs, true, spec.pageSize) };
  }
  if (DEVICE_PROPS.includes(property)) {
    if (!spec.devices.some((d) => d.name === target)) fail(`${key}: no device "${target}" (devices: ${spec.devices.map((d) => d.name).join(', ')})`);
    if (property === 'iommu') return { key, target, property, values: list(rhs).map((v) => onOff(key, v)) };
    const masks = numbers(key, rhs, false, 1);
    for (const m of masks) if (!Number.isInteger(m) || m < 12 || m > 64) fail(`${key}: ${m} is not a DMA mask in bits (12..64)`);
    return { key, target, property: 'dma_mask', values: masks };
  }
  if (ALLOCATOR_PROPS.includes(property)) {
    const names = createSmafSystem(spec).smaf.registry.allocators.map((a) => a.name);
    if (!names.includes(target)) fail(`${key}: no allocator "${target}" on this platform (allocators: ${names.join(', ')})`);
    if (property === 'present') return { key, target, property, values: list(rhs).map((v) => onOff(key, v)) };
    return { key, target, property: 'ranking', values: numbers(key, rhs, false, 1) };
  }
  return fail(`${key}: unknown property "${property}" (size of a region; dma_mask, iommu of a device; ranking, present of an allocator; or the key policy)`);
}

/** A region resized in place, keeping its end (reserved memory is placed top-down). */
function resized(spec: PlatformSpec, region: string, size: number): PlatformSpec {
  return {
    ...spec,
    memory: spec.memory.map((m) => {
      if (m.name !== region) return m;
      const end = m.base + m.size;
      if (size <= 0 || size % spec.pageSize !== 0) fail(`${region}.size: ${size} is not a whole number of pages`);
      if (size > end) fail(`${region}.size: ${formatSize(size)} does not fit below its end (0x${end.toString(16)})`);
      return { ...m, base: end - size, size };
    }),
  };
}

/** The setting of one value (EINVAL when it makes the platform invalid). */
export function settingOf(base: Setting, v: Variation, value: VaryValue): Setting {
  switch (v.property) {
    case 'policy': return { ...base, policy: value as PolicyName };
    case 'ranking': return { ...base, preset: { ...base.preset, rankings: { ...base.preset.rankings, [v.target]: value as number } } };
    case 'present': return value ? base : { ...base, preset: { ...base.preset, without: [...(base.preset.without ?? []), v.target] } };
    case 'dma_mask':
    case 'iommu': {
      const devices = base.spec.devices.map((d) => (d.name !== v.target ? d : v.property === 'iommu' ? { ...d, iommu: value as boolean } : { ...d, dmaMask: value as number, coherentDmaMask: value as number }));
      return { ...base, spec: checkedSpec({ ...base.spec, devices }, v, value) };
    }
    case 'size': return { ...base, spec: checkedSpec(resized(base.spec, v.target, value as number), v, value) };
  }
}

function checkedSpec(spec: PlatformSpec, v: Variation, value: VaryValue): PlatformSpec {
  try {
    return validatePlatform(platformDocument(spec), `the platform with ${v.key}=${showValue(v, value)}`);
  } catch (e) {
    return fail(`${v.key}=${showValue(v, value)}: ${(e as Error).message}`);
  }
}

/** A value as the table shows it: a size, on/off, a number, a policy. */
export function showValue(v: Pick<Variation, 'property'>, value: VaryValue): string {
  if (v.property === 'size') return formatSize(value as number);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}

/** One value's replay, as the what-if table shows it. */
export interface SweepRow {
  readonly value: VaryValue;
  /** Operations that succeeded in the recording and fail with this value. */
  readonly failed: number;
  readonly firstFailure: Difference | null;
  /** Peak use per region, in bytes. */
  readonly peak: Readonly<Record<string, number>>;
  /** The largest free range of each region when it was fullest. */
  readonly largestFree: Readonly<Record<string, number>>;
}

/** Replay a recording with one value of a variation. */
export function sweepRow(recording: PreparedRecording, base: Setting, v: Variation, value: VaryValue): SweepRow {
  const s = settingOf(base, v, value);
  const r = replay(recording, { spec: s.spec, preset: s.preset, policy: s.policy, keepDifferences: 0 });
  return {
    value,
    failed: r.failed,
    firstFailure: r.firstFailure,
    peak: Object.fromEntries(r.regions.map((g) => [g.name, g.peak])),
    largestFree: Object.fromEntries(r.regions.map((g) => [g.name, g.largestFree])),
  };
}

/** The least value (the first listed, for on/off and policies) with which nothing fails; null when none. */
export function smallestOf(v: Pick<Variation, 'property'>, rows: readonly SweepRow[]): VaryValue | null {
  const ok = rows.filter((r) => r.failed === 0).map((r) => r.value);
  if (ok.length === 0) return null;
  return typeof ok[0] === 'number' ? Math.min(...(ok as number[])) : ok[0]!;
}
