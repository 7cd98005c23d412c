/**
 * The shared contract every secure module's tests run. It judges the module by its effect on its
 * own world (for optee-sdp: the SDP TA's region table as the firewall enforces it on the bus; for
 * the recording module: its record of held grants), never by the core's grant/revoke events: a
 * module whose grant or revoke does nothing must fail here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSmafError, SmafError } from '../common/errors.ts';
import { DmaDirection, selfCheck, Smaf, type SecureModule, type SmafBuffer } from '../core/index.ts';
import type { Device, Platform } from '../platform/index.ts';

export type BusAccess = 'read' | 'write';

export interface SecureFixture {
  readonly platform: Platform;
  /** A SMAF instance with the module registered and a secure allocator. */
  readonly smaf: Smaf;
  readonly module: SecureModule;
  /** A device the module must grant read access to a secure buffer. */
  readonly reader: Device;
  /** A device the module must grant write access to a secure buffer. */
  readonly writer: Device;
  /** A grant the module must refuse (device and DMA direction). */
  readonly refused: { readonly device: Device; readonly dir: DmaDirection };
  /** Asks the module's world, not the core: may `device` do `access` on the byte at `addr` now? */
  allows(device: Device, addr: number, access: BusAccess): boolean;
  /** Device grants the module's world holds now, over every buffer. */
  grantsHeld(): number;
}

/** What each device may do at `addr`, as the module's world says: "dev:rw", "dev:r-", ... */
function accessAt(f: SecureFixture, addr: number, devices: readonly Device[]): string[] {
  return devices.map((d) => `${d.name}:${f.allows(d, addr, 'read') ? 'r' : '-'}${f.allows(d, addr, 'write') ? 'w' : '-'}`);
}

/** First, last and one-past-the-end byte of each segment of a buffer. */
function edges(b: SmafBuffer): { inside: number[]; outside: number[] } {
  return {
    inside: b.segments.flatMap((s) => [s.phys, s.phys + s.length - 1]),
    outside: b.segments.map((s) => s.phys + s.length),
  };
}

/**
 * A secure module that fails at one hook: it delegates to a real module except that the named hook
 * throws, as a TEE error would, before the real one runs (while `failing()` says so). For the tests
 * that teardown completes whatever a plugin does (src/core/teardown.ts).
 */
export type SecureHook = 'createContext' | 'destroyContext' | 'grantAccess' | 'revokeAccess' | 'checkCpuAccess';

export const SECURE_HOOKS: readonly SecureHook[] = ['createContext', 'destroyContext', 'grantAccess', 'revokeAccess', 'checkCpuAccess'];

/** `inner`, but `hook` throws (ENOENT, as optee-sdp's revoke of a region it lost does) while `failing()` says so. */
export function failingAt<C>(inner: SecureModule<C>, hook: SecureHook, failing: () => boolean = () => true): SecureModule<C> {
  const at = (h: SecureHook): void => {
    if (h === hook && failing()) throw new SmafError('ENOENT', `${inner.name}: injected failure of ${hook}`);
  };
  return {
    name: inner.name,
    description: inner.description,
    createContext(b) {
      at('createContext');
      return inner.createContext(b);
    },
    destroyContext(ctx) {
      at('destroyContext');
      inner.destroyContext(ctx);
    },
    grantAccess(ctx, d, addr, size, dir) {
      at('grantAccess');
      inner.grantAccess(ctx, d, addr, size, dir);
    },
    revokeAccess(ctx, d, addr, size, dir) {
      at('revokeAccess');
      inner.revokeAccess(ctx, d, addr, size, dir);
    },
    checkCpuAccess(ctx, b, kind, mode) {
      at('checkCpuAccess');
      inner.checkCpuAccess(ctx, b, kind, mode);
    },
  };
}

export function secureModuleContract(label: string, make: () => SecureFixture): void {
  describe(`secure module contract: ${label}`, () => {
    test('a device may touch a secure buffer exactly while it holds a grant, with the access its direction needs', () => {
      const f = make();
      const devs = [f.reader, f.writer];
      const b = f.smaf.create(16 * 1024);
      b.setSecure(true);
      const r = b.attach(f.reader);
      const w = b.attach(f.writer);
      b.map(w, DmaDirection.FROM_DEVICE);
      const { inside, outside } = edges(b);
      for (const a of inside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:--`, `${f.writer.name}:-w`], `writer granted, reader not yet (0x${a.toString(16)})`);
      b.map(r, DmaDirection.TO_DEVICE);
      for (const a of inside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:r-`, `${f.writer.name}:-w`], 'both granted');
      for (const a of outside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:--`, `${f.writer.name}:--`], 'nothing past the buffer');
      b.unmap(r);
      for (const a of inside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:--`, `${f.writer.name}:-w`], 'the reader is revoked, the writer keeps its grant');
      b.unmap(w);
      for (const a of inside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:--`, `${f.writer.name}:--`], 'nobody after both unmaps');
      assert.equal(f.grantsHeld(), 0);
      b.map(r, DmaDirection.TO_DEVICE);
      for (const a of inside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:r-`, `${f.writer.name}:--`], 'a second map grants again');
      b.put();
      for (const a of inside) assert.deepEqual(accessAt(f, a, devs), [`${f.reader.name}:--`, `${f.writer.name}:--`], 'release revokes');
      assert.equal(f.grantsHeld(), 0);
    });

    test('a grant on one buffer gives nothing on another', () => {
      const f = make();
      const a = f.smaf.create(8192);
      const b = f.smaf.create(8192);
      a.setSecure(true);
      b.setSecure(true);
      const wa = a.attach(f.writer);
      const wb = b.attach(f.writer);
      a.map(wa, DmaDirection.FROM_DEVICE);
      b.map(wb, DmaDirection.FROM_DEVICE);
      a.map(a.attach(f.reader), DmaDirection.TO_DEVICE);
      for (const addr of edges(b).inside) assert.equal(f.allows(f.reader, addr, 'read'), false, 'the reader holds a grant on a only');
      for (const addr of edges(a).inside) assert.equal(f.allows(f.reader, addr, 'read'), true);
      b.unmap(wb);
      for (const addr of edges(a).inside) assert.equal(f.allows(f.writer, addr, 'write'), true, 'unmapping b leaves the grant on a');
      a.put();
      b.put();
      assert.equal(f.grantsHeld(), 0);
    });

    test('a refused grant fails the map and leaves the world as it was', () => {
      const f = make();
      const devs = [f.reader, f.writer, f.refused.device];
      const b = f.smaf.create(8192);
      b.setSecure(true);
      b.map(b.attach(f.writer), DmaDirection.FROM_DEVICE);
      const { inside } = edges(b);
      const before = inside.map((a) => accessAt(f, a, devs));
      const held = f.grantsHeld();
      const att = b.attach(f.refused.device);
      assert.throws(() => b.map(att, f.refused.dir), (e) => isSmafError(e));
      assert.equal(att.mapped, false);
      assert.deepEqual(inside.map((a) => accessAt(f, a, devs)), before, 'no access was left behind and none was taken away');
      assert.equal(f.grantsHeld(), held);
      b.put();
      assert.equal(f.grantsHeld(), 0);
    });

    test('refuses every CPU access to a secure buffer and allows it to a normal one', () => {
      const f = make();
      const ctx = f.module.createContext({ id: 99, length: 4096, secure: true, nameHint: undefined, devices: [] });
      for (const kind of ['mmap', 'vmap', 'begin_cpu_access'] as const) {
        assert.throws(() => f.module.checkCpuAccess(ctx, { id: 99, length: 4096, secure: true, nameHint: undefined, devices: [] }, kind, 'read'), (e) => isSmafError(e));
      }
      f.module.checkCpuAccess(null, { id: 98, length: 4096, secure: false, nameHint: undefined, devices: [] }, 'mmap', 'read-write');
      f.module.destroyContext(ctx);
    });

    test('release leaves no grant behind; memory is scrubbed', () => {
      const f = make();
      const before = f.platform.bytesInUse;
      for (let i = 0; i < 5; i++) {
        const b = f.smaf.create(8192);
        b.setSecure(true);
        b.map(b.attach(f.writer), DmaDirection.FROM_DEVICE);
        b.map(b.attach(f.reader), DmaDirection.TO_DEVICE);
        const s = b.segments[0]!;
        b.put();
        assert.ok(f.platform.memory.isZero(s.phys, s.length));
        assert.deepEqual(accessAt(f, s.phys, [f.reader, f.writer]), [`${f.reader.name}:--`, `${f.writer.name}:--`]);
      }
      assert.equal(f.platform.bytesInUse, before);
      assert.equal(f.grantsHeld(), 0);
    });

    test('teardown completes when the module fails to revoke: unmapped, released, scrubbed, reported; its destroy clears what the revoke left', () => {
      const f = make();
      let failing = false;
      const name = f.module.name;
      f.smaf.unregisterSecureModule(name);
      f.smaf.registerSecureModule(failingAt(f.module, 'revokeAccess', () => failing));
      const before = f.platform.bytesInUse;
      const b = f.smaf.create(8192);
      b.setSecure(true);
      const r = b.attach(f.reader);
      b.map(r, DmaDirection.TO_DEVICE);
      b.map(b.attach(f.writer), DmaDirection.FROM_DEVICE);
      const { inside } = edges(b);
      failing = true;
      b.unmap(r);
      assert.equal(r.mapped, false, 'the unmap completed');
      b.put();
      failing = false;
      assert.deepEqual([b.released, b.refCount], [true, 0]);
      for (const a of inside) assert.ok(f.platform.memory.isZero(a, 1), 'scrubbed');
      assert.ok(f.platform.events.list({ kinds: ['internal-error'] }).some((e) => e.buffer === b.id && e.actor === name), 'reported');
      assert.equal(f.smaf.quarantinedBackings.length, 0, 'the context was destroyed: the memory went back');
      assert.equal(f.platform.bytesInUse, before);
      assert.deepEqual(selfCheck(f.smaf).checks.filter((c) => !c.ok && c.name !== 'secure world is consistent').map((c) => c.name), []);
    });

    test('teardown completes when the module fails to destroy a context: released, scrubbed, and the memory never handed out again', () => {
      const f = make();
      const name = f.module.name;
      f.smaf.unregisterSecureModule(name);
      f.smaf.registerSecureModule(failingAt(f.module, 'destroyContext'));
      const b = f.smaf.create(8192);
      b.setSecure(true);
      b.map(b.attach(f.writer), DmaDirection.FROM_DEVICE);
      const seg = b.segments[0]!;
      b.put();
      assert.deepEqual([b.released, b.refCount], [true, 0]);
      assert.ok(f.platform.memory.isZero(seg.phys, seg.length), 'scrubbed');
      assert.equal(f.smaf.quarantinedBackings.length, 1);
      assert.deepEqual(f.smaf.quarantinedBackings[0]!.backing.segments, [seg]);
      for (let i = 0; i < 3; i++) {
        const again = f.smaf.create(8192);
        again.setSecure(true);
        try {
          again.map(again.attach(f.writer), DmaDirection.FROM_DEVICE);
          assert.ok(again.segments.every((s) => s.phys + s.length <= seg.phys || s.phys >= seg.phys + seg.length), 'the quarantined memory is not handed out');
        } catch (e) {
          assert.ok(isSmafError(e), String(e));
        }
      }
    });

    test('setting the flag and clearing it before allocation creates and destroys a context cleanly', () => {
      const f = make();
      const b = f.smaf.create(4096);
      b.setSecure(true);
      b.setSecure(false);
      assert.equal(b.secure, false);
      b.put();
    });
  });
}
