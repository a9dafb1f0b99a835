import { createHash, randomBytes } from 'node:crypto';

/** The crypt(3) alphabet, in the order its base-64 digits use. */
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const MAGIC = '$1$';

const md5 = (...parts: Uint8Array[]): Uint8Array => {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/**
 * Poul-Henning Kamp's MD5-crypt (FreeBSD, glibc `$1$`), what vmailmgr's pwcrypt() stores.
 * The salt may carry the `$1$` prefix and ends at the first `$` or after 8 characters, as in glibc.
 * The password is hashed as its UTF-8 bytes.
 */
export function md5Crypt(password: string, salt: string): string {
  let s = salt.startsWith(MAGIC) ? salt.slice(MAGIC.length) : salt;
  const dollar = s.indexOf('$');
  s = (dollar < 0 ? s : s.slice(0, dollar)).slice(0, 8);
  if (/[^\x21-\x7e]/.test(s)) throw new RangeError('md5Crypt: the salt must be printable ASCII');
  const pw = Buffer.from(password, 'utf8');
  const saltBytes = Buffer.from(s, 'latin1');
  const magic = Buffer.from(MAGIC, 'latin1');

  const alternate = md5(pw, saltBytes, pw);
  const first = createHash('md5').update(pw).update(magic).update(saltBytes);
  for (let left = pw.length; left > 0; left -= 16) first.update(alternate.subarray(0, Math.min(left, 16)));
  // The original reads a bit of the length and adds either a NUL or the password's first byte.
  for (let bits = pw.length; bits > 0; bits >>>= 1) first.update(bits & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
  let digest: Uint8Array = first.digest();

  // 1000 rounds, there only to make guessing slower.
  for (let round = 0; round < 1000; round++) {
    const parts: Uint8Array[] = [round & 1 ? pw : digest];
    if (round % 3) parts.push(saltBytes);
    if (round % 7) parts.push(pw);
    parts.push(round & 1 ? digest : pw);
    digest = md5(...parts);
  }

  const groups: Array<[number, number, number]> = [
    [0, 6, 12],
    [1, 7, 13],
    [2, 8, 14],
    [3, 9, 15],
    [4, 10, 5],
  ];
  let encoded = '';
  for (const [a, b, c] of groups) encoded += to64((digest[a] << 16) | (digest[b] << 8) | digest[c], 4);
  encoded += to64(digest[11], 2);
  return `${MAGIC}${s}$${encoded}`;
}

function to64(value: number, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++, value >>>= 6) out += ITOA64[value & 0x3f];
  return out;
}

/** Eight random salt characters; 64 letters, so a byte's low 6 bits pick one without bias. */
export function newSalt(): string {
  return Array.from(randomBytes(8), (byte) => ITOA64[byte & 0x3f]).join('');
}
