import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromText } from '../../src/system/bytes';
import { decodePasswordRecord, encodePasswordRecord, type OldFormatDefaults, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { strtou, UNLIMITED } from '../../src/vmailmgr/uint32';
import { basicRecords, legacyRecords, VMAILMGR } from '../helpers/fixtures';

const NOW = 1795317900;
const NO_DEFAULTS: OldFormatDefaults = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };
const decode = (hex: string): PasswordRecord | undefined => decodePasswordRecord(Buffer.from(hex, 'hex'), NO_DEFAULTS, NOW);
const orUnlimited = (n: number | null): number => (n === null ? UNLIMITED : n);

describe('strtou, as vmailmgr parses numbers', () => {
  test.each([
    ['0', 0, 1],
    ['1795317611', 1795317611, 10],
    ['-', UNLIMITED, 1],
    ['-5', UNLIMITED, 2],
    [' 12', 12, 3],
    ['007', 7, 3],
    ['', 0, 0],
    ['12x', 12, 2],
    ['4294967296', 0, 10],
    ['4294967297', 1, 10],
    ['99999999999', 99999999999 % 2 ** 32, 11],
    ['+5', 0, 0],
  ])('%p -> %p (stops at %p)', (text, value, next) => {
    expect(strtou(Buffer.from(text))).toMatchObject({ value, next });
  });
});

describe('version 2 records of the real basic table', () => {
  test.each(basicRecords().map((r) => [r.key, r]))('%s decodes to the described fields and re-encodes to the same bytes', (_key, r) => {
    const record = decode(r.value_hex)!;
    expect(record).toEqual({
      version: 2,
      // The descriptions are text; the record holds the bytes (byte strings).
      password: fromText(r.password),
      directory: fromText(r.directory),
      forwards: r.forwards.map(fromText),
      personal: fromText(r.personal),
      hardquota: orUnlimited(r.hardquota),
      softquota: orUnlimited(r.softquota),
      msgsize: orUnlimited(r.msgsize),
      msgcount: orUnlimited(r.msgcount),
      ctime: orUnlimited(r.ctime),
      expiry: orUnlimited(r.expiry),
      hasMailbox: r.has_mailbox,
      mailboxEnabled: r.mailbox_enabled,
    });
    expect(encodePasswordRecord(record).toString('hex')).toBe(r.value_hex);
  });
});

describe('hand-built legacy and corrupt records, judged by the real dumpvuser', () => {
  test.each(legacyRecords().map((r) => [r.key, r]))('%s', (_key, r) => {
    const record = decode(r.value_hex);
    // dumpvuser cannot reach an upper-case key at all (lookups are lower-cased): the value itself is
    // valid, and the lookup tests show the key is never found.
    if (r.key !== r.key.toLowerCase()) {
      expect(record).toBeDefined();
      return;
    }
    if (r.real_dumpvuser_exit !== 0) {
      expect(record).toBeUndefined();
      return;
    }
    expect(record).toBeDefined();
    expect(dumpvuser(r.key, record!)).toBe(r.real_dumpvuser_output);
  });

  test('old-format limits come from the config defaults at lookup time', () => {
    const old = Buffer.from(':*:./users/old');
    const record = decodePasswordRecord(old, { hardquota: 5, softquota: 4, msgsize: 3, msgcount: 2, expiry: 100 }, NOW)!;
    expect(record).toMatchObject({ hardquota: 5, softquota: 4, msgsize: 3, msgcount: 2, expiry: NOW + 100, ctime: 0, hasMailbox: true });
  });

  test.each([
    ['empty value', ''],
    ['unknown version 3', '0300'],
    ['version 2 with nothing after the flags', '020a0100'],
    ['flag without value', '020a'],
    ['old format without a second colon', '3a2a'],
  ])('%s is invalid', (_what, hex) => {
    expect(decode(hex)).toBeUndefined();
  });
});

describe('the 11,001 records of the large table', () => {
  const lines = readFileSync(join(VMAILMGR, 'large', 'records.tsv'), 'utf8')
    .replace(/\n$/, '')
    .split('\n');
  const header = lines.shift()!.split('\t');
  const values = new Map<string, Buffer>();
  beforeAll(() => {
    const { CdbReader } = require('../../src/cdb/cdb-reader') as typeof import('../../src/cdb/cdb-reader');
    const reader = CdbReader.open(join(VMAILMGR, 'large', 'passwd.cdb'));
    for (const { key, data } of reader.records()) values.set(key.toString('utf8'), data);
    reader.close();
  });

  test('every line decodes to exactly the described fields and re-encodes byte for byte', () => {
    expect(lines.length).toBe(11001);
    expect(header).toEqual([
      'key',
      'password',
      'directory',
      'forwards',
      'has_mailbox',
      'mailbox_enabled',
      'hardquota',
      'softquota',
      'msgsize',
      'msgcount',
      'ctime',
      'expiry',
      'personal',
    ]);
    const num = (text: string): number => (text === '-' ? UNLIMITED : Number(text));
    for (const line of lines) {
      const [key, password, directory, forwards, hm, en, hq, sq, ms, mc, ct, ex, personal] = line.split('\t');
      const value = values.get(key)!;
      const record = decodePasswordRecord(value, NO_DEFAULTS, NOW);
      expect(record).toEqual({
        version: 2,
        password,
        directory,
        forwards: forwards === '' ? [] : forwards.split(','),
        personal,
        hardquota: num(hq),
        softquota: num(sq),
        msgsize: num(ms),
        msgcount: num(mc),
        ctime: num(ct),
        expiry: num(ex),
        hasMailbox: hm === '1',
        mailboxEnabled: en === '1',
      });
      expect(encodePasswordRecord(record!).equals(value)).toBe(true);
    }
  });
});

/** vmailmgr's dumpvuser layout (which omits the personal field), built from our decoded record. */
function dumpvuser(name: string, r: PasswordRecord): string {
  const n = (v: number): string => (v === UNLIMITED ? 'N/A' : String(v));
  return [
    `Name: ${name}`,
    `Encrypted-Password: ${r.password}`,
    `Directory: ${r.directory}`,
    ...r.forwards.map((f) => `Forward: ${f}`),
    `Hard-Quota: ${n(r.hardquota)}`,
    `Soft-Quota: ${n(r.softquota)}`,
    `Message-Size-Limit: ${n(r.msgsize)}`,
    `Message-Count-Limit: ${n(r.msgcount)}`,
    `Creation-Time: ${r.ctime}`,
    `Expiry-Time: ${n(r.expiry)}`,
    `Has-Mailbox: ${r.hasMailbox}`,
    `Mailbox-Enabled: ${r.mailboxEnabled}`,
    '',
  ].join('\n');
}
