/**
 * Teardown always completes. Unmapping a device and releasing a buffer call plugins (the secure
 * module's revokeAccess and destroyContext, the allocator's free) that must not fail by contract,
 * yet a real one may (a TEE error). A failure there becomes an `internal-error` event naming the
 * plugin and what failed, and the teardown goes on: the mapping is gone, the buffer is released and
 * scrubbed, its references never go below zero.
 */
import { toSmafError } from '../common/errors.ts';
import type { BufferRef } from './host.ts';

/** Run one teardown step of `buf`; a throw is reported and swallowed. Returns whether it succeeded. */
export function teardownStep(buf: BufferRef, plugin: string, what: string, step: () => void): boolean {
  try {
    step();
    return true;
  } catch (e) {
    const message = `${plugin}: ${what} failed (${toSmafError(e).message}); the teardown of buffer ${buf.id} goes on`;
    buf.core.platform.events.emit({ kind: 'internal-error', actor: plugin, buffer: buf.id, message });
    return false;
  }
}
