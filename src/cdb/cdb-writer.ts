import { writeFileAtomic } from '../system/files';
import { type CdbHash, signedCharHash, standardHash } from './cdb-hash';

export interface CdbWriteOptions {
  /** `signed` is vmailmgr's x86 hash; use it for tables vmailmgr's own tools must read. */
  hash?: 'standard' | 'signed';
}

/**
 * Lay out a complete cdb: the 2048-byte header, the records in insertion order, then 256 hash
 * tables of twice as many slots as entries, filled by linear probing in insertion order
 * (the same layout as djb's cdbmake and tinycdb, so ASCII tables come out byte-identical).
 */
export function buildCdb(records: Iterable<[Uint8Array, Uint8Array]>, options: CdbWriteOptions = {}): Buffer[] {
  const hash: CdbHash = options.hash === 'signed' ? signedCharHash : standardHash;
  const chunks: Buffer[] = [Buffer.alloc(2048)];
  const buckets: Array<Array<[number, number]>> = Array.from({ length: 256 }, () => []);
  let pos = 2048;
  for (const [key, data] of records) {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(key.length, 0);
    head.writeUInt32LE(data.length, 4);
    chunks.push(head, Buffer.from(key), Buffer.from(data));
    const h = hash(key);
    buckets[h & 255].push([h, pos]);
    pos += 8 + key.length + data.length;
    if (pos > 0xffffffff) throw new Error('cdb: table larger than 4 GiB');
  }
  const header = chunks[0];
  buckets.forEach((entries, i) => {
    const slots = entries.length * 2;
    header.writeUInt32LE(pos, i * 8);
    header.writeUInt32LE(slots, i * 8 + 4);
    if (slots === 0) return;
    const table = Buffer.alloc(slots * 8);
    for (const [h, recordPos] of entries) {
      let slot = (h >>> 8) % slots;
      while (table.readUInt32LE(slot * 8 + 4) !== 0) slot = (slot + 1) % slots;
      table.writeUInt32LE(h, slot * 8);
      table.writeUInt32LE(recordPos, slot * 8 + 4);
    }
    chunks.push(table);
    pos += table.length;
  });
  return chunks;
}

/** Write a complete table to `path` (a byte string, src/system/bytes.ts) atomically (temporary file, fsync, rename). */
export function writeCdb(path: string, records: Iterable<[Uint8Array, Uint8Array]>, options: CdbWriteOptions = {}): void {
  writeFileAtomic(path, buildCdb(records, options));
}
