/** vmailmgr stores limits and times as 32-bit unsigned values; UINT_MAX means unlimited / never. */
export const UNLIMITED = 0xffffffff;

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * vmailmgr's strtou: skip leading whitespace; `-` (and any digits after it) means UINT_MAX;
 * otherwise decimal digits wrapping modulo 2^32. Returns the value and where parsing stopped.
 */
export function strtou(bytes: Uint8Array, start = 0, end = bytes.length): { value: number; next: number; digits: boolean } {
  let i = start;
  while (i < end && isSpace(bytes[i])) i++;
  if (i < end && bytes[i] === 0x2d) {
    i++;
    while (i < end && isDigit(bytes[i])) i++;
    return { value: UNLIMITED, next: i, digits: true };
  }
  let value = 0;
  const first = i;
  while (i < end && isDigit(bytes[i])) value = (Math.imul(value, 10) + (bytes[i++] - 0x30)) >>> 0;
  return { value, next: i, digits: i > first };
}

/** vmailmgr's utoa for stored numbers: UINT_MAX is written as `-`. */
export const formatUint = (value: number): string => (value === UNLIMITED ? '-' : String(value >>> 0));
