import { isUtf8 } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { execaSync } from 'execa';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { md5Crypt } from '../../src/vmailmgr/md5-crypt';
import { decodePasswordRecord, encodePasswordRecord, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { FIXTURES, parseCdbmake, ROOT, scratchDir, TINYCDB } from '../helpers/fixtures';
import { NOBODY } from '../helpers/requirements.cjs';
import { needs } from '../helpers/requires';
import { BIN, cleanEnv, finished, type Finished, runAdmin } from '../helpers/run';

const LATIN1 = join(FIXTURES, 'latin1');
const NO_DEFAULTS = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };

interface Latin1Record {
  shown_as: string;
  key_hex: string;
  value_hex: string;
  fields: {
    password_hex: string;
    directory_hex: string;
    forwards_hex: string[];
    personal_hex: string;
    hardquota: number | null;
    softquota: number | null;
    msgsize: number | null;
    msgcount: number | null;
    ctime: number;
    expiry: number | null;
    has_mailbox: boolean;
    mailbox_enabled: boolean;
  };
}
const latin1Records = (): Latin1Record[] => JSON.parse(readFileSync(join(LATIN1, 'records.json'), 'utf8')).records;

const dir = scratchDir('vdeliver-latin1-');
afterAll(() => dir.cleanup());
// The run-as-owner case runs the admin as nobody, who must be able to reach the home.
chmodSync(dir.path, 0o711);
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

  const fixtureRecords = (): Array<[Buffer, Buffer]> => tableRecords(LATIN1);

  test('records.json describes every record of passwd.cdb, in order', () => {
    const stored = fixtureRecords();
    const described = latin1Records();
    expect(stored.map(([k, v]) => [k.toString('hex'), v.toString('hex')])).toEqual(described.map((r) => [r.key_hex, r.value_hex]));
    const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
    const orNull = (n: number): number | null => (n === UNLIMITED ? null : n);
    for (const [[, value], r] of stored.map((s, i) => [s, described[i]] as const)) {
      const record = decodePasswordRecord(value, NO_DEFAULTS, 0)!;
      expect({
        password_hex: hex(record.password),
        directory_hex: hex(record.directory),
        forwards_hex: record.forwards.map(hex),
        personal_hex: hex(record.personal),
        hardquota: orNull(record.hardquota),
        softquota: orNull(record.softquota),
        msgsize: orNull(record.msgsize),
        msgcount: orNull(record.msgcount),
        ctime: record.ctime,
        expiry: orNull(record.expiry),
        has_mailbox: record.hasMailbox,
        mailbox_enabled: record.mailboxEnabled,
      }).toEqual(r.fields);
    }
  });

  test('tinycdb reads the same records in the same order (its dump in fixtures/tinycdb/dumps)', () => {
    expect(parseCdbmake(readFileSync(join(TINYCDB, 'dumps', 'latin1.dump')))).toEqual(fixtureRecords());
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
    const listed = runAdmin(['list', '--home', home, '--json'], { env })
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(listed.map((r) => [r.name, r.directory, r.forwards, r.personal])).toEqual([
      ['j\\xf6rg', './users/j\\xf6rg', [], 'J\\xf6rg Sch\\xe4fer'],
      ['mueller', './users/mueller', ['m\\xfcller@example.org', 'alice'], ''],
      ['rene', './users/rene', [], 'Ren\\xe9 Lef\\xe8vre'],
      ['alice', './users/alice', [], 'Alice Example'],
    ]);
    const shown = runAdmin(['show', '--home', home, '--json', 'mueller', 'rene'], { env });
    expect(shown.status).toBe(0);
    const views = shown.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
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

/*
 * Arguments below are byte strings: '\xf6' is the single byte F6 (Latin-1 ö), which a Latin-1
 * terminal sends and Node's process.argv would turn into U+FFFD.
 */
let scripts = 0;
/** Runs bin/vdeliver-admin with these exact argument bytes (Node, and so execa, would send its arguments as UTF-8). */
function runAdminBytes(args: string[], input?: Buffer): Finished {
  const script = join(dir.path, `run-${++scripts}.sh`);
  const quoted = [join(BIN, 'vdeliver-admin'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  writeFileSync(script, Buffer.from(`exec ${quoted}\n`, 'latin1'));
  chmodSync(script, 0o755);
  return finished(execaSync('/bin/sh', [script], { env, extendEnv: false, input, reject: false, stripFinalNewline: false }));
}

type Raw = Array<[Buffer, Buffer]>;
const tableRecords = (home: string): Raw => tableAt(join(home, 'passwd.cdb'));
/** The records of the table at `path`, a byte string. */
function tableAt(path: string): Raw {
  const reader = CdbReader.open(Buffer.from(path, 'latin1'));
  try {
    return Array.from(reader.records(), ({ key, data }): [Buffer, Buffer] => [key, data]);
  } finally {
    reader.close();
  }
}
const byKey = (raw: Raw, key: string): Buffer => raw.find(([k]) => k.equals(Buffer.from(key, 'latin1')))![1];
const decoded = (value: Buffer): PasswordRecord => decodePasswordRecord(value, NO_DEFAULTS, 0)!;
const withField = (value: Buffer, change: Partial<PasswordRecord>): Buffer => {
  const { version: _version, ...fields } = decoded(value);
  return encodePasswordRecord({ ...fields, ...change });
};

describe('8-bit names and values on the command line reach the table as their bytes', () => {
  test("set $'j\\xf6rg' --msgsize 5000 finds the Latin-1 name and changes only msgsize", () => {
    const home = latin1Home();
    const before = tableRecords(home);
    const result = runAdminBytes(['set', '--home', home, 'j\xf6rg', '--msgsize', '5000']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`changed j\\xf6rg (msgsize) in ${join(home, 'passwd.cdb')}\n`);
    expect(result.status).toBe(0);
    const after = tableRecords(home);
    expect(after).toEqual(before.map(([k, v]): [Buffer, Buffer] => [k, k.equals(Buffer.from('j\xf6rg', 'latin1')) ? withField(v, { msgsize: 5000 }) : v]));
    expect(decoded(byKey(after, 'j\xf6rg'))).toMatchObject({ directory: './users/j\xf6rg', personal: 'J\xf6rg Sch\xe4fer', msgsize: 5000 });
  });

  test("show $'J\\xf6RG' looks up the bytes, ASCII lower-cased, and prints them printable", () => {
    const result = runAdminBytes(['show', '--home', latin1Home(), '--json', 'J\xf6RG']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'J\\xf6RG', found: true, via: 'direct', directory: './users/j\\xf6rg' });
  });

  test('add stores name, forward, personal, directory and password hash byte for byte, and makes the Maildir at those bytes', () => {
    const home = latin1Home();
    const before = tableRecords(home);
    const hash = '$1$s\xe4lt$x';
    const result = runAdminBytes([
      'add',
      '--home',
      home,
      'K\xe4the',
      '--forward',
      'm\xfcller@example.org',
      '--forward',
      'j\xf6rg',
      '--personal',
      'K\xe4the K\xf6hler',
      '--password-hash',
      hash,
      '--directory',
      './users/k\xe4the',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`added k\\xe4the (mailbox ./users/k\\xe4the) to ${join(home, 'passwd.cdb')}\n`);
    const after = tableRecords(home);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after[before.length][0]).toEqual(Buffer.from('k\xe4the', 'latin1'));
    expect(decoded(after[before.length][1])).toMatchObject({
      password: hash,
      directory: './users/k\xe4the',
      forwards: ['m\xfcller@example.org', 'j\xf6rg'],
      personal: 'K\xe4the K\xf6hler',
    });
    for (const sub of ['tmp', 'new', 'cur']) expect(statSync(Buffer.from(join(home, 'users', 'k\xe4the', sub), 'latin1')).isDirectory()).toBe(true);
  });

  test("remove $'j\\xf6rg' removes that record and keeps the others' bytes", () => {
    const home = latin1Home();
    const before = tableRecords(home);
    const result = runAdminBytes(['remove', '--home', home, 'j\xf6rg']);
    expect(result.stdout).toBe(`removed j\\xf6rg from ${join(home, 'passwd.cdb')} (its Maildir ./users/j\\xf6rg is left in place)\n`);
    expect(tableRecords(home)).toEqual(before.slice(1));
  });

  test('an unknown Latin-1 name is named with its bytes', () => {
    const result = runAdminBytes(['set', '--home', latin1Home(), 'j\xfcrg', '--msgsize', '5000']);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe("vdeliver-admin: no virtual user 'j\\xfcrg'\n");
  });

  test('a home whose name is not UTF-8 is read and written at its bytes', () => {
    const home = join(dir.path, 'h\xf6me');
    mkdirSync(Buffer.from(home, 'latin1'));
    copyFileSync(join(LATIN1, 'passwd.cdb'), Buffer.from(join(home, 'passwd.cdb'), 'latin1'));
    const listed = runAdminBytes(['list', '--home', home]);
    expect(listed.stderr).toBe('');
    expect(listed.stdout).toMatch(/^User Mailbox Aliases\nj\\xf6rg Yes\n/);
    const shown = runAdminBytes(['show', '--home', home, 'j\xf6rg']);
    expect(shown.status).toBe(0);
    const set = runAdminBytes(['set', '--home', home, 'alice', '--msgsize', '5000']);
    expect(set.stderr).toBe('');
    expect(set.stdout).toBe(`changed alice (msgsize) in ${join(dir.path, 'h\\xf6me', 'passwd.cdb')}\n`);
    expect(set.status).toBe(0);
    expect(decoded(byKey(tableAt(join(home, 'passwd.cdb')), 'alice'))).toMatchObject({ msgsize: 5000 });
    expect(existsSync(Buffer.from(join(home, 'passwd.cdb.tmp'), 'latin1'))).toBe(false);
  });

  test('a home whose name is UTF-8 beyond ASCII is written at its bytes: setup, add and build --force', () => {
    const home = join(dir.path, "h\xc3\xb6me it's");
    mkdirSync(Buffer.from(home, 'latin1'));
    const setup = runAdminBytes(['setup', '--home', home]);
    expect(setup.stderr).toBe('');
    expect(setup.status).toBe(0);
    const added = runAdminBytes(['add', '--home', home, 'alice']);
    expect(added.stderr).toBe('');
    expect(added.stdout).toBe(`added alice (mailbox ./users/alice) to ${Buffer.from(join(home, 'passwd.cdb'), 'latin1').toString('utf8')}\n`);
    const users = join(dir.path, 'users-utf8.tsv');
    writeFileSync(users, 'bob\t*\t./users/bob\t\t1\t1\t-\t-\t-\t-\t0\t-\t\n');
    const built = runAdminBytes(['build', '--home', home, '--force', users]);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    const keys = (file: string): string[] => tableAt(join(home, file)).map(([key]) => key.toString('latin1'));
    expect(keys('passwd.cdb')).toEqual(['bob']);
    expect(keys('passwd.cdb~')).toEqual(['mailer-daemon', 'postmaster', 'root', 'alice']);
  });

  needs('root')("run as root, the copy that runs as the home's owner gets the same bytes", () => {
    const home = latin1Home();
    chownSync(home, NOBODY, NOBODY);
    chownSync(join(home, 'passwd.cdb'), NOBODY, NOBODY);
    const result = runAdminBytes(['set', '--home', home, 'j\xf6rg', '--personal', 'J\xf6rg']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(decoded(byKey(tableRecords(home), 'j\xf6rg')).personal).toBe('J\xf6rg');
    expect(statSync(join(home, 'passwd.cdb')).uid).toBe(NOBODY);
  });
});

describe('values read from files and standard input are bytes', () => {
  /** The fixture's records as a users file: every field exactly as records.json has it. */
  function usersFile(): Buffer {
    const bytes = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1');
    const n = (v: number | null): string => (v === null ? '-' : String(v));
    const lines = latin1Records().map(({ key_hex, fields: f }) =>
      [
        bytes(key_hex),
        bytes(f.password_hex),
        bytes(f.directory_hex),
        f.forwards_hex.map(bytes).join(','),
        f.has_mailbox ? '1' : '0',
        f.mailbox_enabled ? '1' : '0',
        n(f.hardquota),
        n(f.softquota),
        n(f.msgsize),
        n(f.msgcount),
        String(f.ctime),
        n(f.expiry),
        bytes(f.personal_hex),
      ].join('\t'),
    );
    return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
  }

  test('build from a Latin-1 users file (with a Latin-1 name) writes the fixture byte for byte', () => {
    const file = join(dir.path, 'users-\xe9.tsv');
    writeFileSync(Buffer.from(file, 'latin1'), usersFile());
    const home = join(dir.path, 'built');
    mkdirSync(home);
    const result = runAdminBytes(['build', '--home', home, file]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`wrote 4 records to ${join(home, 'passwd.cdb')}\n`);
    expect(readFileSync(join(home, 'passwd.cdb')).equals(readFileSync(join(LATIN1, 'passwd.cdb')))).toBe(true);
  });

  test('build - reads the users file from standard input as bytes', () => {
    const home = join(dir.path, 'built-stdin');
    mkdirSync(home);
    const result = runAdminBytes(['build', '--home', home, '-'], usersFile());
    expect(result.status).toBe(0);
    expect(readFileSync(join(home, 'passwd.cdb')).equals(readFileSync(join(LATIN1, 'passwd.cdb')))).toBe(true);
  });

  needs('openssl')('--password-stdin hashes the exact bytes of a UTF-8 password (openssl agrees)', () => {
    const home = latin1Home();
    const password = Buffer.from('p\u00e4ssw\u00f6rd', 'utf8');
    const result = runAdminBytes(['set', '--home', home, 'alice', '--password-stdin'], Buffer.concat([password, Buffer.from('\n')]));
    expect(result.status).toBe(0);
    const stored = decoded(byKey(tableRecords(home), 'alice')).password;
    const salt = stored.split('$')[2];
    expect(stored).toBe(execFileSync('openssl', ['passwd', '-1', '-salt', salt, '-stdin'], { input: password, encoding: 'utf8' }).trim());
    expect(md5Crypt('p\u00e4ssw\u00f6rd', stored)).toBe(stored);
  });

  test('--password-stdin refuses a password that is not UTF-8 (it would be hashed as other bytes), table untouched', () => {
    const home = latin1Home();
    const bytes = readFileSync(join(home, 'passwd.cdb'));
    const result = runAdminBytes(['set', '--home', home, 'alice', '--password-stdin'], Buffer.from('p\xe4sswort\n', 'latin1'));
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'vdeliver-admin: --password-stdin: the password is not valid UTF-8, so it cannot be hashed as given; store its MD5-crypt with --password-hash\n',
    );
    expect(readFileSync(join(home, 'passwd.cdb')).equals(bytes)).toBe(true);
    expect(existsSync(join(home, 'passwd.cdb.tmp'))).toBe(false);
  });
});

describe('regressions', () => {
  test('set latin --msgsize 5000 rewrote the untouched directory and personal fields as EF BF BD', () => {
    const home = latin1Home();
    const before = tableRecords(home);
    // rene's personal name is Latin-1; jörg's directory and personal name are.
    expect(runAdmin(['set', '--home', home, 'rene', '--msgsize', '5000'], { env }).status).toBe(0);
    expect(runAdminBytes(['set', '--home', home, 'j\xf6rg', '--msgcount', '10', '--forward', 'alice']).status).toBe(0);
    const after = tableRecords(home);
    expect(Buffer.concat(after.flat()).includes(Buffer.from('efbfbd', 'hex'))).toBe(false);
    expect(after).toEqual(
      before.map(([k, v]): [Buffer, Buffer] => {
        const key = k.toString('latin1');
        return [k, key === 'rene' ? withField(v, { msgsize: 5000 }) : key === 'j\xf6rg' ? withField(v, { msgcount: 10, forwards: ['alice'] }) : v];
      }),
    );
    expect(decoded(byKey(after, 'rene')).personal).toBe('Ren\xe9 Lef\xe8vre');
    expect(decoded(byKey(after, 'j\xf6rg'))).toMatchObject({ directory: './users/j\xf6rg', personal: 'J\xf6rg Sch\xe4fer' });
  });
});

describe('doctor on Latin-1 records', () => {
  test('finds the Maildirs at their exact bytes and names the records printable', () => {
    const home = latin1Home();
    chmodSync(home, 0o755);
    writeFileSync(join(home, '.qmail-default'), `|${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')}\n`);
    mkdirSync(join(home, '.vmailmgr'));
    mkdirSync(join(home, 'qmail', 'bin'), { recursive: true });
    copyFileSync('/bin/true', join(home, 'qmail', 'bin', 'qmail-queue'));
    writeFileSync(join(home, '.vmailmgr', 'qmail-root'), `${join(home, 'qmail')}\n`);
    const at = (...parts: string[]): Buffer => Buffer.from(join(home, ...parts), 'latin1');
    for (const user of ['j\xf6rg', 'rene', 'alice']) for (const sub of ['tmp', 'new', 'cur']) mkdirSync(at('users', user, sub), { recursive: true });
    writeFileSync(at('users', 'j\xf6rg', 'tmp', 'left'), '');
    const old = Date.now() / 1000 - 40 * 3600;
    utimesSync(at('users', 'j\xf6rg', 'tmp', 'left'), old, old);

    const result = runAdmin(['doctor', '--home', home], { env });
    expect(result.stderr).toBe('');
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('fail'))).toEqual([]);
    expect(result.status).toBe(0);
    expect(lines).toContain(`ok   password table ${join(home, 'passwd.cdb')} holds 4 valid record(s)`);
    expect(lines).toContain('ok   every mailbox is a Maildir owned by the base user');
    expect(lines).toContain(
      `warn j\\xf6rg: 1 file(s) in tmp/ older than 36 hours, left by an interrupted delivery; Maildir readers remove them (fix: find "$(printf '${join(home, 'users', 'j\\366rg', 'tmp')}')" -type f -amin +2160 -mmin +2160 -delete)`,
    );
    // The fix, pasted as printed, reaches the directory by its exact bytes.
    const fix = /\(fix: (find .*)\)$/.exec(lines.find((l) => l.includes(' in tmp/ '))!)![1];
    expect(execaSync('/bin/sh', ['-c', fix], { reject: false }).exitCode).toBe(0);
    expect(runAdmin(['doctor', '--home', home], { env }).stdout).not.toContain(' in tmp/ ');
  });
});
