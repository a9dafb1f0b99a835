import { isUtf8 } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../src/cdb-reader';
import { decodePasswordRecord } from '../src/password-record';
import { UNLIMITED } from '../src/uint32';
import { FIXTURES, parseCdbmake, ROOT, scratchDir } from './helpers/fixtures';
import { cleanEnv, runAdmin } from './helpers/run';

const LATIN1 = join(FIXTURES, 'latin1');
const NO_DEFAULTS = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };

interface Latin1Record {
  shown_as: string;
  key_hex: string;
  value_hex: string;
  fields: {
    password_hex: string; directory_hex: string; forwards_hex: string[]; personal_hex: string;
    hardquota: number | null; softquota: number | null; msgsize: number | null; msgcount: number | null;
    ctime: number; expiry: number | null; has_mailbox: boolean; mailbox_enabled: boolean;
  };
}
const latin1Records = (): Latin1Record[] => JSON.parse(readFileSync(join(LATIN1, 'records.json'), 'utf8')).records;

const dir = scratchDir('vdeliver-latin1-');
afterAll(() => dir.cleanup());
const env = cleanEnv({ VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') });

let homes = 0;
/** A base-user home holding a copy of the Latin-1 table. */
function latin1Home(): string {
  const home = join(dir.path, `home-${++homes}`);
  mkdirSync(home);
  copyFileSync(join(LATIN1, 'passwd.cdb'), join(home, 'passwd.cdb'));
  return home;
}

describe('fixtures/latin1', () => {
  test('the committed files are exactly what scripts/make-latin1-fixture.mjs writes', () => {
    const out = join(dir.path, 'regenerated');
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'make-latin1-fixture.mjs'), out]);
    for (const file of ['passwd.cdb', 'records.json']) expect(readFileSync(join(out, file)).equals(readFileSync(join(LATIN1, file)))).toBe(true);
  });

  test('records.json describes every record of passwd.cdb, in order, and tinycdb reads the same', () => {
    const reader = CdbReader.open(join(LATIN1, 'passwd.cdb'));
    const stored = Array.from(reader.records(), ({ key, data }): [Buffer, Buffer] => [key, data]);
    reader.close();
    const described = latin1Records();
    expect(stored.map(([k, v]) => [k.toString('hex'), v.toString('hex')])).toEqual(described.map((r) => [r.key_hex, r.value_hex]));
    expect(parseCdbmake(execFileSync('cdb', ['-d', join(LATIN1, 'passwd.cdb')]))).toEqual(stored);
    const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
    const orNull = (n: number): number | null => (n === UNLIMITED ? null : n);
    for (const [[, value], r] of stored.map((s, i) => [s, described[i]] as const)) {
      const record = decodePasswordRecord(value, NO_DEFAULTS, 0)!;
      expect({
        password_hex: hex(record.password), directory_hex: hex(record.directory), forwards_hex: record.forwards.map(hex),
        personal_hex: hex(record.personal), hardquota: orNull(record.hardquota), softquota: orNull(record.softquota),
        msgsize: orNull(record.msgsize), msgcount: orNull(record.msgcount), ctime: record.ctime, expiry: orNull(record.expiry),
        has_mailbox: record.hasMailbox, mailbox_enabled: record.mailboxEnabled,
      }).toEqual(r.fields);
    }
  });

  test('it holds what the admin tests need: Latin-1 directory, forward and personal name, and a plain ASCII user', () => {
    const fields = latin1Records().map((r) => r.fields);
    const latin1 = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
    expect(fields.map((f) => f.directory_hex)).toContain(latin1('./users/j\xf6rg'));
    expect(fields.flatMap((f) => f.forwards_hex)).toContain(latin1('m\xfcller@example.org'));
    expect(fields.some((f) => f.directory_hex === latin1('./users/rene') && !isUtf8(Buffer.from(f.personal_hex, 'hex')))).toBe(true);
    expect(latin1Records().some((r) => Buffer.from(r.key_hex + r.value_hex, 'hex').every((b) => b < 0x80))).toBe(true);
  });
});

describe('output: bytes that are not UTF-8 print as \\xNN, UTF-8 and ASCII as they are', () => {
  test('list', () => {
    const result = runAdmin(['list', '--home', latin1Home()], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('User Mailbox Aliases\nj\\xf6rg Yes\nmueller No m\\xfcller@example.org alice\nrene Yes\nalice Yes\n');
  });

  test('list --json and show --json print the same printable fields', () => {
    const home = latin1Home();
    const listed = runAdmin(['list', '--home', home, '--json'], { env }).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(listed.map((r) => [r.name, r.directory, r.forwards, r.personal])).toEqual([
      ['j\\xf6rg', './users/j\\xf6rg', [], 'J\\xf6rg Sch\\xe4fer'],
      ['mueller', './users/mueller', ['m\\xfcller@example.org', 'alice'], ''],
      ['rene', './users/rene', [], 'Ren\\xe9 Lef\\xe8vre'],
      ['alice', './users/alice', [], 'Alice Example'],
    ]);
    const shown = runAdmin(['show', '--home', home, '--json', 'mueller', 'rene'], { env });
    expect(shown.status).toBe(0);
    const views = shown.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(views.map(({ name, forwards, personal }) => ({ name, forwards, personal }))).toEqual([
      { name: 'mueller', forwards: ['m\\xfcller@example.org', 'alice'], personal: '' },
      { name: 'rene', forwards: [], personal: 'Ren\\xe9 Lef\\xe8vre' },
    ]);
  });

  test('show', () => {
    const result = runAdmin(['show', '--home', latin1Home(), 'rene'], { env });
    expect(result.stdout).toContain('\nDirectory: ./users/rene\nPersonal: Ren\\xe9 Lef\\xe8vre\n');
  });
});
