/**
 * The dma-heaps that `/dev/dma_heap/` shows under `smaf exec`: views of SMAF's allocators, named
 * as a Linux system would name them (docs/c-programs.md). A heap allocates at DMA_HEAP_IOCTL_ALLOC,
 * as the kernel's do; the late choice of memory is `/dev/smaf`'s (SMAF's point), not a heap's.
 *
 * - one heap per allocator: `system`; `linux,cma` for smaf-cma (the kernel's default CMA heap name);
 *   any other allocator under its own name (`carveout-<region>`).
 * - an allocator that serves only secure buffers is a protected heap, `protected,<allocator>`, as the
 *   kernel names its TEE protected-memory heaps: its buffers are secure and never CPU-mappable.
 */
import type { Allocator, Smaf } from '../core/index.ts';
import type { HeapInfo } from '../uapi/replies.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { HeapInfo } from '../uapi/replies.ts';

const verdict = (v: ReturnType<Allocator['match']>): boolean => (typeof v === 'boolean' ? v : v.match);

/**
 * Whether an allocator serves only secure buffers: it matches a secure buffer with no device attached
 * and refuses the same buffer when it is not secure (asked with a probe that is never allocated).
 */
function secureOnly(a: Allocator, pageSize: number): boolean {
  const probe = { id: 0, length: pageSize, nameHint: a.name, devices: [] };
  try {
    return verdict(a.match({ ...probe, secure: true })) && !verdict(a.match({ ...probe, secure: false }));
  } catch {
    return false;
  }
}

function heapName(allocator: string, secure: boolean): string {
  if (secure) return `protected,${allocator}`;
  return allocator === 'smaf-cma' ? 'linux,cma' : allocator;
}

export function heaps(smaf: Smaf): HeapInfo[] {
  const out: HeapInfo[] = [];
  for (const a of smaf.registry.allocators) {
    const secure = secureOnly(a, smaf.platform.pageSize);
    out.push({ name: heapName(a.name, secure), allocator: a.name, secure, description: a.description ?? '' });
  }
  return out;
}
