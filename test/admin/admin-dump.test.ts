import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { writeCdb } from '../../src/cdb/cdb-writer';
import { decodePasswordRecord, encodePasswordRecord, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { FIXTURES, legacyRecords, scratchDir, VMAILMGR } from '../helpers/fixtures';
import { needs } from '../helpers/requires';
import { NOBODY } from '../helpers/requirements.cjs';
import { BIN, cleanEnv } from '../helpers/run';

const dir = scratchDir();
afterAll(() => dir.cleanup());
const env = cleanEnv({ VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') });

let homes = 0;
function home(table?: string): string {
  const path = join(dir.path, `home${homes++}`);
  mkdirSync(path);
  if (table) copyFileSync(table, join(path, 'passwd.cdb'));
  return path;
}

/** vdeliver-admin with stdout as bytes: dump's output is data, not text. */
function admin(args: string[], input?: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(join(BIN, 'vdeliver-admin'), args, { env, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

const NO_DEFAULTS = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };
function rawRecords(path: string): Array<[Buffer, Buffer]> {
  const reader = CdbReader.open(path);
  try {
    return Array.from(reader.records(), ({ key, data }): [Buffer, Buffer] => [key, data]);
  } finally {
    reader.close();
  }
}

/** A table in vmailmgr's current format throughout: version 2, laid out as vmailmgr 0.97 writes it. */
const allCanonicalV2 = (path: string): boolean =>
  rawRecords(path).every(([, value]) => {
    const record = decodePasswordRecord(value, NO_DEFAULTS, 0);
    return record?.version === 2 && encodePasswordRecord(record).equals(value);
  });

const TABLES = {
  basic: join(VMAILMGR, 'basic', 'passwd.cdb'),
  large: join(VMAILMGR, 'large', 'passwd.cdb'),
  legacy: join(VMAILMGR, 'legacy', 'passwd.cdb'),
  latin1: join(FIXTURES, 'latin1', 'passwd.cdb'),
};

describe('dump, then build: the same passwd.cdb', () => {
  test('the real fixture tables: basic, large and latin1 are all version 2; legacy is not', () => {
    const v2 = Object.entries(TABLES).filter(([, path]) => allCanonicalV2(path));
    expect(v2.map(([name]) => name)).toEqual(['basic', 'large', 'latin1']);
  });

  test.each(['basic', 'large', 'latin1'] as const)('%s: dump then build gives the table back byte for byte', (name) => {
    const source = home(TABLES[name]);
    const dumped = admin(['dump', '--home', source]);
    expect(dumped.stderr).toBe('');
    expect(dumped.status).toBe(0);
    const target = home();
    const built = admin(['build', '--home', target, '-'], dumped.stdout);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    expect(readFileSync(join(target, 'passwd.cdb')).equals(readFileSync(TABLES[name]))).toBe(true);
  });

  test('large: the dump is the users file the table was made from', () => {
    const dumped = admin(['dump', '--home', home(TABLES.large)]);
    expect(dumped.stdout.equals(readFileSync(join(VMAILMGR, 'large', 'records.tsv')))).toBe(true);
  });

  test('latin1: names, directories and forwards come out as their own bytes', () => {
    const dumped = admin(['dump', '--home', home(TABLES.latin1)]).stdout;
    const keys = rawRecords(TABLES.latin1).map(([key]) => key);
    for (const key of keys) expect(dumped.includes(Buffer.concat([Buffer.from('\n'), key, Buffer.from('\t')]))).toBe(true);
    expect(dumped.includes(Buffer.from('m\xfcller@example.org', 'latin1'))).toBe(true);
  });
});

describe('dump: records build cannot give back as they are', () => {
  test('legacy: old formats are converted with a note, what vmailmgr cannot read either is left out', () => {
    const source = home(TABLES.legacy);
    const dumped = admin(['dump', '--home', source]);
    expect(dumped.status).toBe(1);
    // Left out: exactly the records real vmailmgr's dumpvuser could not show (records.json).
    const unreadable = legacyRecords()
      .filter((r) => (r as unknown as { real_dumpvuser_exit: number }).real_dumpvuser_exit !== 0)
      .map((r) => r.key);
    const leftOut = [...dumped.stderr.matchAll(/^vdeliver-admin: left out '([^']*)'/gm)].map((m) => m[1]);
    expect(leftOut).toEqual(unreadable);
    const text = dumped.stdout.toString('latin1');
    for (const key of unreadable) expect(text).toContain(`# left out '${key}': `);
    expect(dumped.stderr).toContain("vdeliver-admin: left out 'UPPERKEY': the key has upper-case letters");
    const noted = [...dumped.stderr.matchAll(/^vdeliver-admin: note: '([^']*)'/gm)].map((m) => m[1]);
    expect(noted).toEqual(['v1user', 'v1alias', 'olduser', 'oldalias', 'oldalias2', 'oddnumbers', 'mboxnodir', 'onlyenabledflag', 'noflags', 'flagvalue2']);

    // What was dumped builds into a table in which delivery finds the same users.
    const target = home();
    const built = admin(['build', '--home', target, '-'], dumped.stdout);
    expect(built.stderr).toBe('');
    const kept = rawRecords(TABLES.legacy)
      .map(([key]) => key.toString('latin1'))
      .filter((key) => !unreadable.includes(key));
    expect(rawRecords(join(target, 'passwd.cdb')).map(([key]) => key.toString('latin1'))).toEqual(kept);
    const show = (h: string): string => admin(['show', '--home', h, '--json', ...kept]).stdout.toString('utf8');
    expect(show(target)).toBe(show(source));
  });

  test('fields the users file cannot hold, duplicates and # keys are left out, each with its reason', () => {
    const record = (r: Partial<PasswordRecord>): Buffer =>
      encodePasswordRecord({
        password: '*',
        directory: './users/x',
        forwards: [],
        personal: '',
        hardquota: UNLIMITED,
        softquota: UNLIMITED,
        msgsize: UNLIMITED,
        msgcount: UNLIMITED,
        ctime: 1000000000,
        expiry: UNLIMITED,
        hasMailbox: true,
        mailboxEnabled: true,
        ...r,
      });
    const h = home();
    writeCdb(
      join(h, 'passwd.cdb'),
      [
        [Buffer.from('ok'), record({})],
        [Buffer.from('tab'), record({ personal: 'a\tb' })],
        [Buffer.from('comma'), record({ forwards: ['a,b@example.org'] })],
        [Buffer.from('spaced'), record({ forwards: ['a b@example.org'] })],
        [Buffer.from('newline'), record({ personal: 'a\nb' })],
        [Buffer.from('#hash'), record({})],
        [Buffer.from('ok'), record({ personal: 'second' })],
        [Buffer.from('outside'), record({ directory: '/srv/mail/outside' })],
      ],
      { hash: 'signed' },
    );
    const dumped = admin(['dump', '--home', h]);
    expect(dumped.status).toBe(1);
    expect(dumped.stderr.split('\n')).toEqual([
      "vdeliver-admin: note: 'outside' has a directory outside the home: build needs --allow-outside-home",
      "vdeliver-admin: left out 'tab': a field holds a tab, which the users file cannot",
      "vdeliver-admin: left out 'comma': a forward holds a comma, which the users file puts between forwards",
      "vdeliver-admin: left out 'spaced': build would refuse it (the forward 'a b@example.org' contains a space: give one plain address per forward)",
      "vdeliver-admin: left out 'newline': a field holds a line break, which the users file cannot",
      "vdeliver-admin: left out '#hash': the key starts with #, which the users file reads as a comment",
      "vdeliver-admin: left out 'ok': a second record with this key, which delivery never reads",
      '',
    ]);
    const lines = dumped.stdout.toString('latin1').split('\n');
    expect(lines.filter((l) => !l.startsWith('#')).map((l) => l.split('\t')[0])).toEqual(['key', 'ok', 'outside', '']);
    const target = home();
    const built = admin(['build', '--home', target, '--allow-outside-home', '-'], dumped.stdout);
    expect(built.stdout.toString()).toBe(`wrote 2 records to ${join(target, 'passwd.cdb')}\n`);
  });

  test('dump takes no file argument and needs a table', () => {
    expect(admin(['dump', '--home', home(TABLES.basic), 'out.tsv']).stderr).toBe(
      "vdeliver-admin: dump: unexpected argument 'out.tsv' (it writes to standard output)\n",
    );
    const empty = home();
    const missing = admin(['dump', '--home', empty]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`vdeliver-admin: the password table ${join(empty, 'passwd.cdb')} does not exist\n`);
  });
});

describe('build over an existing table', () => {
  const USERS = join(FIXTURES, '..', 'examples', 'users.tsv');

  test('is refused without --force, and the table is left alone', () => {
    const h = home(TABLES.basic);
    const result = admin(['build', '--home', h, USERS]);
    const table = join(h, 'passwd.cdb');
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`vdeliver-admin: ${table} exists; give --force to replace it (the old table is then kept as ${table}~)\n`);
    expect(readFileSync(table).equals(readFileSync(TABLES.basic))).toBe(true);
    expect(readdirSync(h)).toEqual(['passwd.cdb']);
  });

  test('with --force keeps the old table as passwd.cdb~, and a second build replaces that backup', () => {
    const h = home(TABLES.basic);
    const table = join(h, 'passwd.cdb');
    const first = admin(['build', '--home', h, '--force', USERS]);
    expect(first.stderr).toBe('');
    expect(first.stdout.toString()).toMatch(new RegExp(`^wrote \\d+ records to ${table} \\(the old table is kept as ${table}~\\)\\n$`));
    expect(readFileSync(`${table}~`).equals(readFileSync(TABLES.basic))).toBe(true);
    const built = readFileSync(table);
    const second = admin(['build', '--home', h, '--force', '-'], admin(['dump', '--home', home(TABLES.latin1)]).stdout);
    expect(second.status).toBe(0);
    expect(readFileSync(`${table}~`).equals(built)).toBe(true);
    expect(readFileSync(table).equals(readFileSync(TABLES.latin1))).toBe(true);
    expect(readdirSync(h).sort()).toEqual(['passwd.cdb', 'passwd.cdb~']);
  });

  test('a users file with an error changes nothing, --force or not', () => {
    const h = home(TABLES.basic);
    const bad = join(dir.path, 'bad.tsv');
    writeFileSync(bad, 'alice\t*\t./users/alice\tbob@x,a b@y\t1\t1\t-\t-\t-\t-\t0\t-\t\n');
    const result = admin(['build', '--home', h, '--force', bad]);
    expect(result.stderr).toBe(`vdeliver-admin: ${bad}:1: the forward 'a b@y' contains a space: give one plain address per forward\n`);
    expect(readdirSync(h)).toEqual(['passwd.cdb']);
  });
});

describe('build --create-maildirs', () => {
  const usersWith = (lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l.split(' ').join('\t')}\n`).join(''));
  const USERS = usersWith([
    'alice * ./users/alice  1 1 - - - - 0 - ',
    'bob * ./users/bob  1 0 - - - - 0 - ',
    'info * ./users/info alice 0 1 - - - - 0 - ',
    'carol * ./users/carol  1 1 - - - - 0 - ',
  ]);

  test('creates tmp, new and cur (mode 0700) for each user with a mailbox, and leaves an existing one as it is', () => {
    const h = home();
    mkdirSync(join(h, 'users', 'carol', 'cur'), { recursive: true, mode: 0o755 });
    writeFileSync(join(h, 'users', 'carol', 'cur', 'kept'), 'mail');
    const result = admin(['build', '--home', h, '--create-maildirs', '-'], USERS);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe(`wrote 4 records to ${join(h, 'passwd.cdb')} (2 Maildirs created, 1 already there)\n`);
    for (const user of ['alice', 'bob', 'carol'])
      for (const sub of ['tmp', 'new', 'cur']) expect(statSync(join(h, 'users', user, sub)).isDirectory()).toBe(true);
    for (const path of ['users/alice', 'users/alice/new', 'users/bob/tmp', 'users/carol/new']) expect(statSync(join(h, path)).mode & 0o777).toBe(0o700);
    expect(statSync(join(h, 'users', 'carol', 'cur')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(h, 'users', 'carol', 'cur', 'kept'), 'utf8')).toBe('mail');
    expect(existsSync(join(h, 'users', 'info'))).toBe(false);
  });

  test('without it, no Maildir is made', () => {
    const h = home();
    expect(admin(['build', '--home', h, '-'], USERS).status).toBe(0);
    expect(readdirSync(h)).toEqual(['passwd.cdb']);
  });

  needs('root')('run as root, the table, its backup and the Maildirs belong to the home owner', () => {
    chmodSync(dir.path, 0o755);
    const h = home(TABLES.basic);
    chownSync(h, NOBODY, NOBODY);
    chownSync(join(h, 'passwd.cdb'), NOBODY, NOBODY);
    const result = admin(['build', '--home', h, '--force', '--create-maildirs', '-'], USERS);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const path of ['passwd.cdb', 'passwd.cdb~', 'users', 'users/alice', 'users/alice/tmp', 'users/bob/cur', 'users/carol/new'])
      expect([path, statSync(join(h, path)).uid, statSync(join(h, path)).gid]).toEqual([path, NOBODY, NOBODY]);
  });
});
