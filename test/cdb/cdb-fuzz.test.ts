import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { encodePasswordRecord, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { toBytes } from '../../src/system/bytes';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { checkDecode, checkRoundTrip, checkTable, type TableInput } from '../helpers/cdb-invariants';
import { type Mutation, mutate, mutation } from '../helpers/cdb-mutations';
import { FIXTURES, scratchDir, VMAILMGR } from '../helpers/fixtures';
import { counterexampleFiles, type FuzzProperty, fuzzRuns, loadCounterexample, runProperty } from '../helpers/fuzz';

const dir = scratchDir('vdeliver-fuzz-');
afterAll(() => dir.cleanup());
const tablePath = join(dir.path, 'fuzzed.cdb');

// ---- tables: the real ones, mutated --------------------------------------------------------------

const HEADER = 2048;
/** Keys every table is asked for: a hit in the vmailmgr tables, a key with bytes >= 0x80 (both hashes), a miss, the empty key. */
const PROBE_KEYS = ['alice', 'jörg', 'nosuchuser', ''].map((k) => Buffer.from(k));

// Smallest first: fast-check shrinks towards the first, so a saved failure is as small as it can be.
const SOURCES = [
  join(VMAILMGR, 'basic', 'passwd.cdb'),
  join(VMAILMGR, 'legacy', 'passwd.cdb'),
  ...readdirSync(join(FIXTURES, 'tinycdb'))
    .filter((f) => f.endsWith('.cdb'))
    .map((f) => join(FIXTURES, 'tinycdb', f)),
]
  .map((path) => ({ bytes: readFileSync(path), keys: storedKeys(path) }))
  .sort((a, b) => a.bytes.length - b.bytes.length);

function storedKeys(path: string): Buffer[] {
  const reader = CdbReader.open(path);
  try {
    return Array.from(reader.records(), (r) => r.key);
  } finally {
    reader.close();
  }
}

/**
 * Which table to mutate. The 3,000-record table (full buckets, probes that wrap) costs 20 ms a case,
 * mostly for records(), against about 1 ms for the others, so it gets a smaller share.
 */
const sourceIndex = fc.oneof(
  { withCrossShrink: true },
  ...SOURCES.map((source, i) => ({ arbitrary: fc.constant(i), weight: source.keys.length > 1000 ? 1 : 8 })),
);

const mutatedTable: FuzzProperty<{ source: number; mutations: Mutation[]; picks: number[]; extra: Uint8Array }, TableInput> = {
  name: 'lookup-mutated-table',
  arbitrary: fc.record({
    source: sourceIndex,
    mutations: fc.array(mutation, { minLength: 1, maxLength: 6 }),
    picks: fc.array(fc.nat(), { maxLength: 3 }),
    extra: fc.uint8Array({ maxLength: 12 }),
  }),
  input: ({ source, mutations, picks, extra }) => {
    const { bytes, keys } = SOURCES[source];
    const stored = keys.length > 0 ? picks.map((i) => keys[i % keys.length]) : [];
    return { table: mutate(bytes, mutations), keys: [...PROBE_KEYS, ...stored, Buffer.from(extra)] };
  },
  check: (input) => checkTable(input, tablePath),
};

// ---- tables: random bytes -----------------------------------------------------------------------

const randomTable: FuzzProperty<{ bytes: Uint8Array; plausible: boolean; extra: Uint8Array }, TableInput> = {
  name: 'lookup-random-bytes',
  // size 'max': lengths spread over the whole range (fast-check's default keeps arrays short, all under a header).
  arbitrary: fc.record({ bytes: fc.uint8Array({ maxLength: 6000, size: 'max' }), plausible: fc.boolean(), extra: fc.uint8Array({ maxLength: 12 }) }),
  input: ({ bytes, plausible, extra }) => {
    const table = Buffer.from(bytes);
    // Pure garbage is mostly rejected at the header; a plausible header (tables inside the file, a few
    // slots each) gets the random slots and records looked at.
    if (plausible && table.length >= HEADER) {
      for (let i = 0; i < 256; i++) {
        table.writeUInt32LE(HEADER + (table.readUInt32LE(i * 8) % (table.length - HEADER + 1)), i * 8);
        table.writeUInt32LE(table.readUInt32LE(i * 8 + 4) % 16, i * 8 + 4);
      }
    }
    return { table, keys: [...PROBE_KEYS, Buffer.from(extra)] };
  },
  check: (input) => checkTable(input, tablePath),
};

// ---- the record codec ---------------------------------------------------------------------------

/** Byte strings as the records hold them: one char per byte, U+0001..U+00FF (a NUL ends a field). */
const byteString = (maxLength: number, minLength = 0): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), minLength, maxLength });
const limit = fc.oneof(fc.constant(UNLIMITED), fc.constant(0), fc.integer({ min: 0, max: UNLIMITED }));

const validRecord: fc.Arbitrary<PasswordRecord> = fc
  .record({
    password: byteString(40),
    directory: byteString(40),
    personal: byteString(40),
    // An empty forward would end the list: the format cannot hold one.
    forwards: fc.array(byteString(40, 1), { maxLength: 4 }),
    hardquota: limit,
    softquota: limit,
    msgsize: limit,
    msgcount: limit,
    ctime: limit,
    expiry: limit,
    hasMailbox: fc.boolean(),
    mailboxEnabled: fc.boolean(),
  })
  // Without a directory there is no mailbox (decode's rule), so such a record is not valid.
  .map((r) => ({ version: 2 as const, ...r, hasMailbox: r.hasMailbox && r.directory !== '' }));

const roundTrip: FuzzProperty<PasswordRecord, PasswordRecord> = {
  name: 'codec-round-trip',
  arbitrary: validRecord,
  input: (record) => record,
  check: checkRoundTrip,
};

/** Bytes biased towards the format's own: NULs, digits, '-', ':', the version and flag bytes. */
const recordishBytes = fc
  .array(fc.oneof(fc.constantFrom(0, 0, 1, 2, 8, 10, 0x20, 0x2d, 0x2e, 0x2f, 0x2c, 0x26, 0x3a), fc.integer({ min: 0x30, max: 0x39 }), fc.nat(255)), {
    maxLength: 80,
  })
  .map((b) => Buffer.from(b));
const edit = fc.record({ at: fc.nat(), op: fc.constantFrom('flip', 'delete', 'insert', 'truncate'), byte: fc.nat(255) });
/** A valid record in each of the three formats vmailmgr reads: version 2, version 1 (no flags), `:password:destination`. */
const encoded = fc.tuple(validRecord, fc.constantFrom(2, 1, 0)).map(([record, version]) => {
  const v2 = encodePasswordRecord(record);
  if (version === 2) return v2;
  if (version === 1) return Buffer.concat([Buffer.from([1]), v2.subarray(6)]);
  return toBytes(`:${record.password.replaceAll(':', '')}:${record.directory || record.forwards.join(',')}`);
});
const editedRecord = fc.tuple(encoded, fc.array(edit, { maxLength: 4 })).map(([start, edits]) => {
  let bytes = Buffer.from(start); // a copy: fast-check may hand the same value to several shrink attempts
  for (const { at, op, byte } of edits) {
    const i = at % (bytes.length + 1);
    if (op === 'flip' && i < bytes.length) bytes[i] ^= byte;
    if (op === 'delete') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
    if (op === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    if (op === 'truncate') bytes = bytes.subarray(0, i);
  }
  return bytes;
});

const decodeBytes: FuzzProperty<Uint8Array, Uint8Array> = {
  name: 'codec-decode-bytes',
  arbitrary: fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.tuple(fc.constantFrom(1, 2, 0x3a), recordishBytes).map(([version, rest]) => Buffer.concat([Buffer.from([version]), rest])),
    editedRecord,
  ),
  input: (bytes) => Buffer.from(bytes),
  check: checkDecode,
};

// ---- running them -------------------------------------------------------------------------------

/** One property as the runner and the replay see it: its cases, and a check of a saved input. */
const planned = <T, I>(property: FuzzProperty<T, I>, share: number) => ({
  name: property.name,
  share,
  run: (runs: number) => runProperty(property, runs),
  replay: (input: unknown) => property.check(input as I),
});

/** Share of the cases each property gets: the table properties find the most, the codec runs fastest. */
const PLAN = [planned(mutatedTable, 0.4), planned(randomTable, 0.1), planned(roundTrip, 0.2), planned(decodeBytes, 0.3)];
const total = fuzzRuns();

describe(`fuzzing the cdb reader and the record codec (${total} cases; VDELIVER_FUZZ_RUNS)`, () => {
  test.each(PLAN.map((p) => [p.name, p, Math.ceil(total * p.share)] as const))(
    '%s',
    (_name, property, runs) => {
      property.run(runs);
    },
    Math.max(60000, total * 10),
  );
});

describe('saved failing inputs (fixtures/fuzz)', () => {
  test('every saved input passes its property again', () => {
    for (const path of counterexampleFiles()) {
      const { property, input } = loadCounterexample(path);
      const known = PLAN.find((p) => p.name === property);
      if (!known) throw new Error(`${basename(path)}: no property named ${property}`);
      try {
        known.replay(input);
      } catch (error) {
        throw new Error(`${basename(path)} fails ${property} again: ${(error as Error).message}`, { cause: error });
      }
    }
  });

  test('a failing property saves its shrunk input, and the saved file fails the same way', () => {
    const saves = scratchDir('vdeliver-fuzz-saves-');
    try {
      const tooLong: FuzzProperty<Uint8Array, { table: Uint8Array }> = {
        name: 'no-table-over-3-bytes',
        arbitrary: fc.uint8Array(),
        input: (bytes) => ({ table: Buffer.from(bytes) }),
        check: ({ table }) => {
          if (table.length > 3) throw new Error('too long');
        },
      };
      expect(() => runProperty(tooLong, 1000, saves.path)).toThrow(/too long[\s\S]*saved as .*no-table-over-3-bytes-[0-9a-f]{8}\.json/);
      const [path, ...others] = counterexampleFiles(saves.path);
      expect(others).toEqual([]);
      const saved = loadCounterexample(path);
      expect(saved.property).toBe('no-table-over-3-bytes');
      const { table } = saved.input as { table: Buffer };
      expect(Buffer.isBuffer(table) && table.length).toBe(4);
      expect(() => tooLong.check({ table })).toThrow('too long');
    } finally {
      saves.cleanup();
    }
  });
});
