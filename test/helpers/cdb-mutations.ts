import fc from 'fast-check';
import { UNLIMITED } from '../../src/vmailmgr/uint32';

/**
 * Damage a real cdb table can take, as fast-check values: bit flips and garbage runs, truncation,
 * pointers and lengths out of range, buckets with no empty slot, a bucket spanning the file.
 * Positions are taken modulo the table, so any generated value applies to any table.
 */

const HEADER = 2048;

/** Offsets and lengths worth trying: the edges of the header and of 32 bits, offsets inside the files, anything. */
const u32 = fc.oneof(
  fc.constantFrom(0, 1, 8, HEADER - 1, HEADER, HEADER + 1, 0x7fffffff, 0x80000000, 0xfffffff8, UNLIMITED),
  fc.integer({ min: 0, max: 140000 }),
  fc.integer({ min: 0, max: UNLIMITED }),
);

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'header'; bucket: number; pos: number; slots: number }
  | { kind: 'slot'; bucket: number; index: number; hash: number | null; pos: number }
  | { kind: 'lengths'; bucket: number; index: number; klen: number; dlen: number }
  | { kind: 'loop'; bucket: number }
  | { kind: 'span'; bucket: number };

const bucket = fc.nat(255);
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('overwrite'), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  // Hash tables outside the file, overlapping the header or each other, huge slot counts.
  fc.record({ kind: fc.constant('header'), bucket, pos: u32, slots: u32 }),
  // Record pointers out of range, into the header, into the hash tables; null keeps the stored hash.
  fc.record({ kind: fc.constant('slot'), bucket, index: fc.nat(), hash: fc.option(u32), pos: u32 }),
  // Huge key and value lengths in a record.
  fc.record({ kind: fc.constant('lengths'), bucket, index: fc.nat(), klen: u32, dlen: u32 }),
  // No empty slot left: probe sequences wrap around the bucket and must stop after `slots` probes.
  fc.record({ kind: fc.constant('loop'), bucket }),
  // The finding, small: one bucket claims every byte after the header.
  fc.record({ kind: fc.constant('span'), bucket }),
);

/** A mutated copy of `source`; the mutations apply in order, each to what the last one left. */
export function mutate(source: Buffer, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(source);
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip':
        bytes[m.at % bytes.length] ^= 1 << m.bit;
        break;
      case 'overwrite':
        bytes.set(m.bytes.subarray(0, bytes.length - (m.at % bytes.length)), m.at % bytes.length);
        break;
      // Never below the header: shorter files are refused at open, which the random-bytes property covers.
      case 'truncate':
        bytes = bytes.subarray(0, HEADER + (m.at % (bytes.length - HEADER + 1)));
        break;
      case 'header':
        setBucket(bytes, m.bucket, m.pos, m.slots);
        break;
      case 'span':
        setBucket(bytes, m.bucket, HEADER, Math.floor((bytes.length - HEADER) / 8));
        break;
      default:
        mutateBucket(bytes, m);
    }
  }
  return bytes;
}

function setBucket(bytes: Buffer, bucket: number, pos: number, slots: number): void {
  bytes.writeUInt32LE(pos, bucket * 8);
  bytes.writeUInt32LE(slots, bucket * 8 + 4);
}

/** Mutations of one bucket's slots or the records they point to; slots outside the file are left alone. */
function mutateBucket(bytes: Buffer, m: Extract<Mutation, { kind: 'slot' | 'lengths' | 'loop' }>): void {
  const tablePos = bytes.readUInt32LE(m.bucket * 8);
  const slots = bytes.readUInt32LE(m.bucket * 8 + 4);
  // A mutated header may claim billions of slots: only those inside the file count.
  const inFile = tablePos >= HEADER ? Math.min(slots, Math.floor((bytes.length - tablePos) / 8)) : 0;
  if (inFile <= 0) return;
  const slotAt = (index: number): number => tablePos + (index % inFile) * 8;
  if (m.kind === 'slot') {
    if (m.hash !== null) bytes.writeUInt32LE(m.hash, slotAt(m.index));
    bytes.writeUInt32LE(m.pos, slotAt(m.index) + 4);
  } else if (m.kind === 'lengths') {
    const recordPos = bytes.readUInt32LE(slotAt(m.index) + 4);
    if (recordPos < HEADER || recordPos + 8 > bytes.length) return;
    bytes.writeUInt32LE(m.klen, recordPos);
    bytes.writeUInt32LE(m.dlen, recordPos + 4);
  } else {
    for (let i = 0; i < inFile; i++) if (bytes.readUInt32LE(slotAt(i) + 4) === 0) bytes.writeUInt32LE(HEADER, slotAt(i) + 4);
  }
}
