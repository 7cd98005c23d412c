/**
 * The shared contract every secure module's tests run: contexts, grant/revoke, rollback through
 * the core, CPU access refused for secure buffers and allowed for others, cleanup at release.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { DmaDirection, Smaf, type SecureModule } from '../core/index.ts';
import type { Device, Platform } from '../platform/index.ts';

export interface SecureFixture {
  readonly platform: Platform;
  /** A SMAF instance with the module registered and a secure allocator. */
  readonly smaf: Smaf;
  readonly module: SecureModule;
  /** A device the module must grant read access to a secure buffer. */
  readonly reader: Device;
  /** A device the module must grant write access to a secure buffer. */
  readonly writer: Device;
}

export function secureModuleContract(label: string, make: () => SecureFixture): void {
  describe(`secure module contract: ${label}`, () => {
    test('grants at map, revokes at unmap, and a second map works again', () => {
      const f = make();
      const b = f.smaf.create(16 * 1024);
      b.setSecure(true);
      const r = b.attach(f.reader);
      const w = b.attach(f.writer);
      b.map(w, DmaDirection.FROM_DEVICE);
      b.map(r, DmaDirection.TO_DEVICE);
      const grants = f.platform.events.list({ kinds: ['grant'] });
      assert.ok(grants.some((g) => g.actor === f.reader.name) && grants.some((g) => g.actor === f.writer.name));
      b.unmap(r);
      b.unmap(w);
      assert.equal(f.platform.events.list({ kinds: ['revoke'] }).length, grants.length);
      b.map(r, DmaDirection.TO_DEVICE);
      b.put();
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

    test('release leaves no context and no grant behind; memory is scrubbed', () => {
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
      }
      assert.equal(f.platform.bytesInUse, before);
      const grants = f.platform.events.list({ kinds: ['grant'] }).length;
      assert.equal(f.platform.events.list({ kinds: ['revoke'] }).length, grants);
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
