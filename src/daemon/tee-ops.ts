/**
 * The handlers of the TEE ops (0x40-0x4f of the op table): each decodes what the kernel's ioctl
 * would have copied in, acts through the client's TeeClient, and answers what it copies out.
 */
import { SmafError } from '../common/errors.ts';
import { decodeTeeParams, DEVICE_FD, encodeTeeCallReply } from '../uapi/index.ts';
import type { OpHandlers } from './op-types.ts';
import type { TeeCallOutcome, TeeShm } from './tee-client.ts';

const shmOut = (shm: TeeShm) => ({ result: shm.id, payload: { size: BigInt(shm.size), flags: shm.flags, id: shm.id } });

const callReply = (r: TeeCallOutcome) => {
  const payload = encodeTeeCallReply(r, r.out);
  return { result: payload.length, payload };
};

export const teeOps = {
  TEE_OPEN: ({ session: s }) => ({ result: s.tee.open() }),
  TEE_VERSION: ({ session: s, value }) => ({ result: 0, payload: s.tee.version(value.ctx) }),
  TEE_CLOSE: ({ session: s, value }) => {
    s.tee.close(value.ctx);
    return { result: 0 };
  },
  TEE_SHM_ALLOC: ({ session: s, value: v }) => shmOut(s.tee.shmAlloc(v.ctx, v.flags, v.size)),
  TEE_SHM_REGISTER: ({ session: s, value: v }) => shmOut(s.tee.shmRegister(v.ctx, v.flags, v.addr, v.length)),
  TEE_SHM_REGISTER_FD: ({ session: s, fd, value: v }) => {
    // the kernel answers EINVAL for anything that is not a dma-buf, a bad fd included
    if (fd === DEVICE_FD) throw new SmafError('EINVAL', 'TEE_SHM_REGISTER_FD: fd -1 is not a dma-buf');
    let entry;
    try {
      entry = s.entry(fd);
    } catch (e) {
      throw new SmafError('EINVAL', `TEE_SHM_REGISTER_FD: ${(e as Error).message}: not a dma-buf`);
    }
    return shmOut(s.tee.shmRegisterFd(v.ctx, v.flags, entry.buffer));
  },
  TEE_SHM_RELEASE: ({ session: s, value }) => {
    s.tee.shmRelease(value.shm);
    return { result: 0 };
  },
  TEE_OPEN_SESSION: ({ session: s, value: v }) => {
    const { params, data } = decodeTeeParams(v.data, v.num_params, 'TEE_OPEN_SESSION');
    return callReply(s.tee.openSession({ ctx: v.ctx, uuid: v.uuid, login: v.clnt_login, params, data }));
  },
  TEE_INVOKE: ({ session: s, value: v }) => {
    const { params, data } = decodeTeeParams(v.data, v.num_params, 'TEE_INVOKE');
    return callReply(s.tee.invoke({ ctx: v.ctx, session: v.session, func: v.func, params, data }));
  },
  TEE_CLOSE_SESSION: ({ session: s, value }) => {
    s.tee.closeSession(value.ctx, value.session);
    return { result: 0 };
  },
  TEE_CANCEL: ({ session: s, value }) => {
    s.tee.cancel(value.ctx, value.session);
    return { result: 0 };
  },
} satisfies Pick<OpHandlers, 'TEE_OPEN' | 'TEE_VERSION' | 'TEE_CLOSE' | 'TEE_SHM_ALLOC' | 'TEE_SHM_REGISTER' | 'TEE_SHM_REGISTER_FD' | 'TEE_SHM_RELEASE'
  | 'TEE_OPEN_SESSION' | 'TEE_INVOKE' | 'TEE_CLOSE_SESSION' | 'TEE_CANCEL'>;
