/**
 * The content key: the secret with which the crypto engine decrypts protected content (DMA_COPY's
 * transform 1). It belongs to the secure world, as a DRM key lives in the TEE: it is made at random
 * when the platform is built (one per smafd start) unless a test provisions one, and nothing reads
 * it back, so no client ever holds it. What it decrypts is the secure world's data (provenance.ts):
 * no CRC, no TA DUMP, nothing the normal world observes depends on it.
 *
 * The cipher is an emulation, not a reviewed design: a keystream of 64-byte blocks, each the
 * ChaCha permutation (8 rounds) of the key and the block's number, XORed onto the bytes. Position
 * `p` of the content stream is byte `p % 64` of block `p / 64`.
 */

const CONTENT_KEY_BYTES = 32;
const BLOCK = 64;

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

function quarter(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 16);
  s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 12);
  s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 8);
  s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 7);
}

export class ContentKey {
  /** The key as 8 little-endian words; private (not enumerable, not serialised). */
  readonly #words: Uint32Array;

  /** `key`: 32 bytes; by default random (Web Crypto's getRandomValues, as in any JS runtime). */
  constructor(key: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(CONTENT_KEY_BYTES))) {
    if (key.length !== CONTENT_KEY_BYTES) throw new RangeError(`a content key is ${CONTENT_KEY_BYTES} bytes, got ${key.length}`);
    const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
    this.#words = Uint32Array.from({ length: 8 }, (_, i) => v.getUint32(i * 4, true));
  }

  /** Keystream block `n` (64 bytes). */
  #block(n: number): Uint8Array {
    const init = new Uint32Array(16);
    init.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
    init.set(this.#words, 4);
    init[12] = n >>> 0;
    init[13] = Math.floor(n / 2 ** 32) >>> 0;
    const s = Uint32Array.from(init);
    for (let i = 0; i < 4; i++) {
      quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13); quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15);
      quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12); quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14);
    }
    const out = new Uint8Array(BLOCK);
    const v = new DataView(out.buffer);
    for (let i = 0; i < 16; i++) v.setUint32(i * 4, (s[i]! + init[i]!) >>> 0, true);
    return out;
  }

  /** Decrypt (or encrypt: the same) `bytes` in place, as the bytes at `position` of the content stream. */
  apply(bytes: Uint8Array, position: number): void {
    let i = 0;
    while (i < bytes.length) {
      const p = position + i;
      const block = this.#block(Math.floor(p / BLOCK));
      for (let k = p % BLOCK; k < BLOCK && i < bytes.length; k++, i++) bytes[i]! ^= block[k]!;
    }
  }
}
