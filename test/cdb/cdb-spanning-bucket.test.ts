import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { standardHash } from '../../src/cdb/cdb-hash';
import { scratchDir } from '../helpers/fixtures';

// Finding: a corrupt table whose hash bucket spans the whole file made one lookup do one 8-byte
// read per slot (8 million reads, 14 s for a 65 MiB table).

const HEADER = 2048;
const SLOTS = 2 * 1024 * 1024; // 16 MiB of slots
const SLOTS_PER_BLOCK = 512;

/** Every bucket of the header claims the whole file after it; `fill` writes each slot. */
function spanningTable(path: string, fill: (slots: Buffer) => void): number {
  const bytes = Buffer.alloc(HEADER + SLOTS * 8);
  for (let i = 0; i < 256; i++) {
    bytes.writeUInt32LE(HEADER, i * 8);
    bytes.writeUInt32LE(SLOTS, i * 8 + 4);
  }
  fill(bytes.subarray(HEADER));
  writeFileSync(path, bytes);
  return bytes.length;
}

describe('a corrupt bucket spanning the whole file', () => {
  const dir = scratchDir();
  afterAll(() => dir.cleanup());

  test('a 16 MiB bucket with no empty slot is read in blocks: a few thousand reads, not one per slot', () => {
    const path = join(dir.path, 'spanning.cdb');
    // No slot is empty, so every probe sequence wraps through all of them; none holds a key's hash (0 is
    // no key's here), so no record is read.
    const size = spanningTable(path, (slots) => {
      for (let i = 0; i < SLOTS; i++) slots.writeUInt32LE(HEADER, i * 8 + 4);
    });
    const reader = CdbReader.open(path);
    try {
      for (const key of ['alice', 'nosuchuser', 'jörg']) {
        const before = { bytes: reader.bytesRead, reads: reader.reads };
        // Not an error: a full bucket without the key is a miss, as it always was.
        expect(reader.get(Buffer.from(key))).toBeUndefined();
        // 'jörg' is tried with both hashes: two probe sequences over the same bucket.
        const sequences = key === 'jörg' ? 2 : 1;
        // Per sequence: the header slot, a handful of small first blocks, then one read per 512 slots.
        expect(reader.reads - before.reads).toBeLessThanOrEqual(sequences * (1 + 8 + SLOTS / SLOTS_PER_BLOCK));
        // Each slot is read once per sequence.
        expect(reader.bytesRead - before.bytes).toBeLessThanOrEqual(sequences * size);
      }
    } finally {
      reader.close();
    }
  });
});

describe('slots that all point at the same record', () => {
  const dir = scratchDir();
  afterAll(() => dir.cleanup());

  test('getAll stops with a corrupt error once it has read as much as the file holds; get still answers', () => {
    const key = Buffer.from('alice');
    const data = Buffer.alloc(4096, 0x61);
    const size = 1024 * 1024;
    const bytes = Buffer.alloc(size);
    bytes.writeUInt32LE(key.length, HEADER);
    bytes.writeUInt32LE(data.length, HEADER + 4);
    key.copy(bytes, HEADER + 8);
    data.copy(bytes, HEADER + 8 + key.length);
    // The key's bucket spans the rest of the file, and every slot names the one record.
    const tablePos = HEADER + 8 + key.length + data.length;
    const slots = Math.floor((size - tablePos) / 8);
    const h = standardHash(key);
    bytes.writeUInt32LE(tablePos, (h & 255) * 8);
    bytes.writeUInt32LE(slots, (h & 255) * 8 + 4);
    for (let i = 0; i < slots; i++) {
      bytes.writeUInt32LE(h, tablePos + i * 8);
      bytes.writeUInt32LE(HEADER, tablePos + i * 8 + 4);
    }
    const path = join(dir.path, 'same-record.cdb');
    writeFileSync(path, bytes);
    const reader = CdbReader.open(path);
    try {
      // Before the limit, this returned one copy per slot: about 130,000 values, 500 times the file.
      expect(() => reader.getAll(key)).toThrow(expect.objectContaining({ name: 'CdbError', kind: 'corrupt' }));
      expect(reader.bytesRead).toBeLessThanOrEqual(size + 8);
      expect(reader.get(key)?.equals(data)).toBe(true);
    } finally {
      reader.close();
    }
  });
});
