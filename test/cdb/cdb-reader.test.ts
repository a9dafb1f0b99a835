import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbError, CdbReader } from '../../src/cdb/cdb-reader';
import { signedCharHash, standardHash } from '../../src/cdb/cdb-hash';
import { basicRecords, FIXTURES, scratchDir, VMAILMGR } from '../helpers/fixtures';

const basicTable = join(VMAILMGR, 'basic', 'passwd.cdb');
const largeTable = join(VMAILMGR, 'large', 'passwd.cdb');

describe('cdb hashes', () => {
  test.each([
    ['', 5381],
    ['a', ((5381 * 33) ^ 0x61) >>> 0],
    ['alice', standardHash(Buffer.from('alice'))],
  ])('standard and signed agree on ASCII %p', (key, expected) => {
    expect(standardHash(Buffer.from(key))).toBe(expected);
    expect(signedCharHash(Buffer.from(key))).toBe(expected);
  });

  test('they differ once a byte is >= 0x80', () => {
    const key = Buffer.from('jörg');
    expect(signedCharHash(key)).not.toBe(standardHash(key));
  });
});

describe('reading the real vmailmgr tables', () => {
  const reader = CdbReader.open(basicTable);
  afterAll(() => reader.close());

  test.each(basicRecords().map((r) => [r.key, r]))('%s gives the stored bytes', (_key, record) => {
    expect(reader.get(Buffer.from(record.key_hex, 'hex'))?.toString('hex')).toBe(record.value_hex);
  });

  test('the records file says which hash finds each key; the reader finds them all', () => {
    const jorg = basicRecords().find((r) => r.key === 'jörg')!;
    expect(jorg.found_with_standard_djb_hash).toBe(false);
    expect(reader.get(Buffer.from('jörg'))).toBeDefined();
  });

  test('iteration yields every record in insertion order', () => {
    const keys = [...reader.records()].map((r) => r.key.toString('utf8'));
    expect(keys).toEqual(basicRecords().map((r) => r.key));
  });

  test('absent and upper-case keys are not found', () => {
    expect(reader.get(Buffer.from('nosuchuser'))).toBeUndefined();
    expect(reader.get(Buffer.from('ALICE'))).toBeUndefined();
  });

  test('a lookup in the 11,001-record table reads only a few small chunks', () => {
    const large = CdbReader.open(largeTable);
    try {
      for (const name of ['user00001', 'user05000', 'alias10000', '+', 'nosuchuser']) {
        const before = large.bytesRead;
        large.get(Buffer.from(name));
        expect(large.bytesRead - before).toBeLessThan(512);
      }
      expect(large.size).toBeGreaterThan(1_000_000);
    } finally {
      large.close();
    }
  });

  test('getAll returns every value stored under one key (a table made by tinycdb: fixtures/tinycdb/dupes)', () => {
    expect(readFileSync(join(FIXTURES, 'tinycdb', 'dupes.in'), 'latin1')).toBe('+1,1:k->a\n+1,1:k->b\n+1,1:x->c\n\n');
    const dup = CdbReader.open(join(FIXTURES, 'tinycdb', 'dupes.cdb'));
    expect(dup.getAll(Buffer.from('k')).map(String)).toEqual(['a', 'b']);
    expect(dup.get(Buffer.from('k'))?.toString()).toBe('a');
    expect(dup.getAll(Buffer.from('x')).map(String)).toEqual(['c']);
    dup.close();
  });
});

describe('tinycdb reference tables', () => {
  test.each(['basic-ascii', 'users-3000', 'edge', 'empty'])('%s: every key reads back', (name) => {
    const reader = CdbReader.open(join(FIXTURES, 'tinycdb', `${name}.cdb`));
    const records = [...reader.records()];
    for (const { key, data } of records) expect(reader.get(key)?.equals(data)).toBe(true);
    expect(records.length).toBe(
      readFileSync(join(FIXTURES, 'tinycdb', `${name}.in`), 'latin1')
        .split('\n')
        .filter((l) => l.startsWith('+')).length,
    );
    reader.close();
  });
});

describe('bad tables give a typed error, never a crash or a hang', () => {
  const dir = scratchDir();
  afterAll(() => dir.cleanup());

  test('missing and non-file tables', () => {
    expect(() => CdbReader.open(join(dir.path, 'nope.cdb'))).toThrow(expect.objectContaining({ kind: 'missing' }));
    expect(() => CdbReader.open(dir.path)).toThrow(expect.objectContaining({ kind: 'unreadable' }));
  });

  test.each([0, 1, 2047])('a %d-byte file is corrupt', (size) => {
    const path = join(dir.path, `short${size}.cdb`);
    writeFileSync(path, Buffer.alloc(size));
    expect(() => CdbReader.open(path)).toThrow(expect.objectContaining({ kind: 'corrupt' }));
  });

  test('a header of zeros is an empty table', () => {
    const path = join(dir.path, 'zeros.cdb');
    writeFileSync(path, Buffer.alloc(2048));
    const reader = CdbReader.open(path);
    expect(reader.get(Buffer.from('alice'))).toBeUndefined();
    expect([...reader.records()]).toEqual([]);
    reader.close();
  });

  test('truncated copies of the real table: every lookup either answers or throws CdbError', () => {
    const bytes = readFileSync(basicTable);
    const path = join(dir.path, 'truncated.cdb');
    for (let size = 2048; size < bytes.length; size += 97) {
      writeFileSync(path, bytes.subarray(0, size));
      expectOnlyCdbErrors(path, ['alice', 'jörg', '+', 'nosuchuser']);
    }
  });

  test('thousands of mutated copies (bit flips, garbage runs) never escape as anything but CdbError', () => {
    const sources = [basicTable, join(VMAILMGR, 'legacy', 'passwd.cdb')].map((p) => readFileSync(p));
    const path = join(dir.path, 'mutated.cdb');
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 3000; round++) {
      const bytes = Buffer.from(sources[round % sources.length]);
      const mutations = 1 + random(8);
      for (let m = 0; m < mutations; m++) {
        const at = random(bytes.length);
        if (random(2) === 0) bytes[at] ^= 1 << random(8);
        else bytes.fill(random(256), at, Math.min(bytes.length, at + random(16)));
      }
      writeFileSync(path, bytes);
      expectOnlyCdbErrors(path, ['alice', 'bob', 'jörg', '+', 'nosuchuser']);
    }
  });

  test('random garbage of many sizes', () => {
    const path = join(dir.path, 'garbage.cdb');
    let seed = 99;
    for (let round = 0; round < 300; round++) {
      const size = 2048 + ((round * 7919) % 20000);
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        bytes[i] = seed >>> 24;
      }
      writeFileSync(path, bytes);
      expectOnlyCdbErrors(path, ['alice', '+']);
    }
  });

  test('a copy of the real table still works', () => {
    const path = join(dir.path, 'copy.cdb');
    copyFileSync(basicTable, path);
    expectOnlyCdbErrors(path, ['alice']);
    expect(CdbReader.open(path).get(Buffer.from('alice'))).toBeDefined();
  });
});

function expectOnlyCdbErrors(path: string, keys: string[]): void {
  let reader: CdbReader;
  try {
    reader = CdbReader.open(path);
  } catch (error) {
    expect(error).toBeInstanceOf(CdbError);
    return;
  }
  const attempt = (fn: () => unknown): void => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof CdbError)) throw error;
    }
  };
  for (const key of keys) attempt(() => reader.getAll(Buffer.from(key)));
  attempt(() => {
    let n = 0;
    for (const _record of reader.records()) if (++n > 100000) throw new Error('iteration did not end');
  });
  reader.close();
}
