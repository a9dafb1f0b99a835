import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CdbError, CdbReader } from '../../src/cdb/cdb-reader';
import { hasHighBitByte, signedCharHash, standardHash } from '../../src/cdb/cdb-hash';
import { decodePasswordRecord, encodePasswordRecord, type OldFormatDefaults, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';

/**
 * What the reader and the record codec promise whatever the bytes, as checks the fuzzer and the
 * replay of saved cases share. A check throws (an assertion, or the escaped error itself) when a
 * promise is broken. node:assert rather than jest's expect: a check runs tens of thousands of
 * times, and expect costs a third of a millisecond a call.
 */

const HEADER = 2048;
const SLOTS_PER_BLOCK = 512;
/**
 * Generous: the fuzzed tables are at most 130 KiB, where a bounded lookup takes well under a
 * millisecond. The bound only has to catch loops and blow-ups, not a GC pause on a busy 2-core machine.
 */
const LOOKUP_MS = 1000;

export interface TableInput {
  table: Uint8Array;
  keys: Uint8Array[];
}

/** Open `table` (written to `path`), look up every key, iterate the records: only corrupt errors, bounded cost. */
export function checkTable({ table, keys }: TableInput, path: string): void {
  writeFileSync(path, table);
  const reader = unlessCorrupt(() => CdbReader.open(path));
  if (reader === CORRUPT) return;
  try {
    for (const key of keys) checkLookup(reader, table, key);
    checkRecords(reader);
  } finally {
    reader.close();
  }
}

function checkLookup(reader: CdbReader, table: Uint8Array, key: Uint8Array): void {
  const before = { bytes: reader.bytesRead, reads: reader.reads, at: performance.now() };
  const values = unlessCorrupt(() => reader.getAll(key));
  const ms = performance.now() - before.at;
  const hashes = hashesTried(key);
  // A valid table's probe reads each slot and each record at most once: the file's size per hash tried.
  const bytes = reader.bytesRead - before.bytes;
  const reads = reader.reads - before.reads;
  assert.ok(bytes <= hashes.length * (reader.size + 8), `lookup of ${hex(key)} read ${bytes} bytes of a ${reader.size}-byte file`);
  const mostReads = hashes.reduce((sum, h) => sum + probeReads(table, h), 0);
  assert.ok(reads <= mostReads, `lookup of ${hex(key)} made ${reads} reads, more than ${mostReads}`);
  assert.ok(ms < LOOKUP_MS, `lookup of ${hex(key)} took ${ms.toFixed(0)} ms`);
  if (values === CORRUPT) return;
  assert.ok(
    values.every((v) => Buffer.isBuffer(v)),
    'getAll returned something other than Buffers',
  );
  // get probes a prefix of what getAll probed, so it cannot fail where getAll did not.
  assert.deepEqual(reader.get(key), values[0], `get(${hex(key)}) is not the first of getAll`);
}

/** Records are read in sequence and each takes at least 8 bytes: at most one pass over the file. */
function checkRecords(reader: CdbReader): void {
  const before = { bytes: reader.bytesRead, at: performance.now() };
  const most = (reader.size - HEADER) / 8;
  let count = 0;
  unlessCorrupt(() => {
    for (const _record of reader.records()) if (++count > most) throw new Error(`records() yielded more than the ${most} records that fit in the file`);
  });
  const bytes = reader.bytesRead - before.bytes;
  const ms = performance.now() - before.at;
  assert.ok(bytes <= reader.size, `records() read ${bytes} bytes of a ${reader.size}-byte file`);
  assert.ok(ms < LOOKUP_MS, `records() took ${ms.toFixed(0)} ms`);
}

/** Keys with a byte >= 0x80 are tried with vmailmgr's signed-char hash, then the standard one. */
const hashesTried = (key: Uint8Array): number[] => (hasHighBitByte(key) ? [signedCharHash(key), standardHash(key)] : [standardHash(key)]);

/**
 * The reads one probe sequence for hash `h` may make, counted from the bytes themselves: the header
 * slot; the slots in blocks (a few small ones, then one read per 512 slots); and for each slot that
 * holds `h`, three for its record (lengths, key, value). A slot that does not hold `h` costs nothing more.
 */
function probeReads(table: Uint8Array, h: number): number {
  const bytes = Buffer.from(table.buffer, table.byteOffset, table.length);
  const tablePos = bytes.readUInt32LE((h & 255) * 8);
  const slots = bytes.readUInt32LE((h & 255) * 8 + 4);
  if (tablePos < HEADER || tablePos + slots * 8 > bytes.length) return 1;
  let holding = 0;
  for (let i = 0; i < slots; i++) if (bytes.readUInt32LE(tablePos + i * 8) === h) holding++;
  return 1 + 8 + slots / SLOTS_PER_BLOCK + 3 * holding;
}

const hex = (key: Uint8Array): string => `<${Buffer.from(key).toString('hex')}>`;

const CORRUPT = Symbol('corrupt');

/** The file is there and readable, so the only error the reader may give is CdbError 'corrupt'. */
function unlessCorrupt<T>(fn: () => T): T | typeof CORRUPT {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CdbError && error.kind === 'corrupt') return CORRUPT;
    throw error;
  }
}

export const NOW = 1795317900;
export const DEFAULTS: OldFormatDefaults = { hardquota: 1000000, softquota: 900000, msgsize: UNLIMITED, msgcount: 5000, expiry: 86400 };

/** A valid record (text fields are NUL-free byte strings, forwards non-empty) decodes back to itself. */
export function checkRoundTrip(record: PasswordRecord): void {
  assert.deepEqual(decodePasswordRecord(encodePasswordRecord(record), DEFAULTS, NOW), record);
}

/** Any bytes: decode never throws, asks for the config's defaults only for the old format, and what it accepts is well formed. */
export function checkDecode(value: Uint8Array): void {
  let defaultsAsked = 0;
  const record = decodePasswordRecord(value, () => (defaultsAsked++, DEFAULTS), NOW);
  assert.equal(defaultsAsked, value[0] === 0x3a ? 1 : 0, 'the defaults are for the old format only');
  if (record === undefined) return;
  expectWellFormed(record);
  // Whatever vmailmgr accepts, we can write back: as version 2, with the same fields.
  assert.deepEqual(decodePasswordRecord(encodePasswordRecord(record), DEFAULTS, NOW), { ...record, version: 2 });
}

// eslint-disable-next-line no-control-regex
const BYTE_STRING = /^[\x01-\xff]*$/;

function expectWellFormed(record: PasswordRecord): void {
  assert.ok([0, 1, 2].includes(record.version), `version ${record.version}`);
  for (const text of [record.password, record.directory, record.personal, ...record.forwards]) assert.match(text, BYTE_STRING);
  assert.ok(!record.forwards.includes(''), 'an empty forward');
  for (const n of [record.hardquota, record.softquota, record.msgsize, record.msgcount, record.ctime, record.expiry]) {
    assert.ok(Number.isInteger(n) && n >= 0 && n <= UNLIMITED, `${n} is not a uint32`);
  }
  assert.equal(typeof record.hasMailbox, 'boolean');
  assert.equal(typeof record.mailboxEnabled, 'boolean');
  // decode's own rule: an account without a directory cannot have a mailbox.
  assert.ok(record.directory !== '' || !record.hasMailbox, 'a mailbox without a directory');
}
