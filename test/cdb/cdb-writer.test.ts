import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildCdb, writeCdb } from '../../src/cdb/cdb-writer';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { FIXTURES, parseCdbmake, scratchDir, VMAILMGR } from '../helpers/fixtures';

describe('cdb writer', () => {
  test.each(['basic-ascii', 'users-3000', 'edge', 'empty', 'dupes'])('%s is byte-identical to tinycdb', (name) => {
    const records = parseCdbmake(readFileSync(join(FIXTURES, 'tinycdb', `${name}.in`)));
    const expected = readFileSync(join(FIXTURES, 'tinycdb', `${name}.cdb`));
    expect(Buffer.concat(buildCdb(records)).equals(expected)).toBe(true);
  });

  test('re-writing the real vmailmgr table with the signed-char hash gives its exact bytes', () => {
    const original = readFileSync(join(VMAILMGR, 'basic', 'passwd.cdb'));
    const reader = CdbReader.open(join(VMAILMGR, 'basic', 'passwd.cdb'));
    const records = [...reader.records()].map((r): [Buffer, Buffer] => [r.key, r.data]);
    reader.close();
    expect(Buffer.concat(buildCdb(records, { hash: 'signed' })).equals(original)).toBe(true);
    // With the standard hash only the non-ASCII key lands elsewhere.
    expect(Buffer.concat(buildCdb(records)).equals(original)).toBe(false);
  });

  test('the same holds for the 11,001-record table', () => {
    const path = join(VMAILMGR, 'large', 'passwd.cdb');
    const reader = CdbReader.open(path);
    const records = [...reader.records()].map((r): [Buffer, Buffer] => [r.key, r.data]);
    reader.close();
    expect(records.length).toBe(11001);
    expect(Buffer.concat(buildCdb(records, { hash: 'signed' })).equals(readFileSync(path))).toBe(true);
  });

  test('writeCdb replaces the file atomically and leaves no temporary file', () => {
    const dir = scratchDir();
    try {
      const path = join(dir.path, 'passwd.cdb');
      writeCdb(path, [[Buffer.from('a'), Buffer.from('1')]]);
      writeCdb(path, [[Buffer.from('jörg'), Buffer.from('2')]], { hash: 'signed' });
      expect(readdirSync(dir.path)).toEqual(['passwd.cdb']);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const reader = CdbReader.open(path);
      expect(reader.get(Buffer.from('jörg'))?.toString()).toBe('2');
      expect(reader.get(Buffer.from('a'))).toBeUndefined();
      reader.close();
    } finally {
      dir.cleanup();
    }
  });
});
