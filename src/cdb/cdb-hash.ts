/**
 * D. J. Bernstein's cdb hash: h = 5381; h = ((h << 5) + h) ^ c.
 * JavaScript's bitwise operators work on 32-bit integers, which is exactly cdb's uint32 arithmetic.
 */
export type CdbHash = (key: Uint8Array) => number;

export const standardHash: CdbHash = (key) => {
  let h = 5381;
  for (let i = 0; i < key.length; i++) h = ((h << 5) + h) ^ key[i];
  return h >>> 0;
};

/**
 * vmailmgr's variant: its hash takes `char`, which is signed on x86, so bytes >= 0x80 are
 * sign-extended before the XOR. Identical to the standard hash for ASCII keys.
 */
export const signedCharHash: CdbHash = (key) => {
  let h = 5381;
  for (let i = 0; i < key.length; i++) h = ((h << 5) + h) ^ ((key[i] << 24) >> 24);
  return h >>> 0;
};

export const hasHighBitByte = (key: Uint8Array): boolean => key.some((b) => b >= 0x80);
