import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const FIXTURES = join(ROOT, 'fixtures');
export const VMAILMGR = join(FIXTURES, 'vmailmgr');

export interface BasicRecord {
  key: string;
  key_hex: string;
  value_hex: string;
  version: number;
  password: string;
  directory: string;
  forwards: string[];
  personal: string;
  hardquota: number | null;
  softquota: number | null;
  msgsize: number | null;
  msgcount: number | null;
  ctime: number | null;
  expiry: number | null;
  has_mailbox: boolean;
  mailbox_enabled: boolean;
  found_with_signed_char_hash: boolean;
  found_with_standard_djb_hash: boolean;
}

export const basicRecords = (): BasicRecord[] => JSON.parse(readFileSync(join(VMAILMGR, 'basic', 'records.json'), 'utf8')).records;

export interface LegacyRecord {
  key: string;
  value_hex: string;
  real_dumpvuser_exit: number;
  real_dumpvuser_output: string;
}
export const legacyRecords = (): LegacyRecord[] => JSON.parse(readFileSync(join(VMAILMGR, 'legacy', 'records.json'), 'utf8')).records;

/** A scratch directory removed after the test file finishes. */
export function scratchDir(prefix = 'vdeliver-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** tinycdb's references, made once by scripts/make-tinycdb-fixtures.sh (see fixtures/tinycdb/README.md). */
export const TINYCDB = join(FIXTURES, 'tinycdb');

/** Records in cdbmake format, exactly as `cdb -d` prints them: one `+klen,dlen:key->data` line each, then an empty line. */
export const cdbmakeText = (records: Iterable<[Buffer, Buffer]>): Buffer =>
  Buffer.concat([
    ...Array.from(records, ([key, data]) => Buffer.concat([Buffer.from(`+${key.length},${data.length}:`), key, Buffer.from('->'), data, Buffer.from('\n')])),
    Buffer.from('\n'),
  ]);

/** `cdb -q` exit statuses recorded in fixtures/tinycdb/lookups.tsv, by `table<TAB>key`. */
export function tinycdbLookups(): Map<string, number> {
  const lines = readFileSync(join(TINYCDB, 'lookups.tsv'), 'utf8').trim().split('\n');
  return new Map(lines.map((line) => [line.slice(0, line.lastIndexOf('\t')), Number(line.slice(line.lastIndexOf('\t') + 1))]));
}

/** Parse cdbmake input (`+klen,dlen:key->data\n`, as tinycdb reads and `cdb -d` prints) into records. */
export function parseCdbmake(input: Buffer): Array<[Buffer, Buffer]> {
  const records: Array<[Buffer, Buffer]> = [];
  let pos = 0;
  while (input[pos] === 0x2b) {
    const colon = input.indexOf(':', pos);
    const [klen, dlen] = input
      .toString('latin1', pos + 1, colon)
      .split(',')
      .map(Number);
    const key = input.subarray(colon + 1, colon + 1 + klen);
    const data = input.subarray(colon + 3 + klen, colon + 3 + klen + dlen);
    records.push([key, data]);
    pos = colon + 3 + klen + dlen + 1;
  }
  return records;
}

/** A tiny /bin/sh program `name` in `dir` with `body` as its script, one behaviour each (a test double). */
export function shellScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
