import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { decodePasswordRecord, encodePasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { basicRecords, ROOT, scratchDir, VMAILMGR } from '../helpers/fixtures';
import { NOBODY } from '../helpers/requirements.cjs';
import { needs } from '../helpers/requires';
import { cleanEnv, runAdmin } from '../helpers/run';

const dir = scratchDir();
afterAll(() => dir.cleanup());
const env = cleanEnv({ VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') });

let homes = 0;
function home(): string {
  const path = join(dir.path, `home${homes++}`);
  mkdirSync(path);
  return path;
}

/** The line vsetup's job puts in .qmail-default: this node and this checkout's built loader. */
const LINE = `|${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')}\n`;
const NO_DEFAULTS = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };
const mode = (path: string): number => statSync(path).mode & 0o777;

function records(h: string): Array<[string, Buffer]> {
  const reader = CdbReader.open(join(h, 'passwd.cdb'));
  try {
    return Array.from(reader.records(), ({ key, data }): [string, Buffer] => [key.toString('latin1'), data]);
  } finally {
    reader.close();
  }
}

/** Everything in the home, with each file's bytes: what a second run must leave exactly as it was. */
function snapshot(path: string): Record<string, string> {
  const all: Record<string, string> = {};
  for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    all[full] = entry.isFile() ? readFileSync(full, 'hex') : `dir ${mode(full).toString(8)}`;
  }
  return all;
}

describe('vdeliver-admin setup', () => {
  test('prepares a fresh home as vsetup does: .qmail-default, users/, the postmaster aliases, quotas on', () => {
    const h = home();
    const result = runAdmin(['setup', '--home', h], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(
      [
        `wrote ${h}/.qmail-default: ${LINE.trimEnd()}`,
        `created ${h}/users/`,
        `added mailer-daemon, postmaster, root (mailbox and forward to postmaster@) to ${h}/passwd.cdb`,
        `wrote ${h}/.vmailmgr/vdeliver-enforce-quotas: 1 (vdeliver enforces the records' quotas)`,
        `wrote ${h}/.vmailmgr/vdeliver-log: deliveries.log (one JSON line per delivery, read by vdeliver-admin log)`,
        '',
      ].join('\n'),
    );
    expect(readFileSync(join(h, '.qmail-default'), 'utf8')).toBe(LINE);
    expect(mode(join(h, '.qmail-default'))).toBe(0o644);
    expect(existsSync(join(h, '.qmail-default~'))).toBe(false);
    expect(statSync(join(h, 'users')).isDirectory()).toBe(true);
    expect(readFileSync(join(h, '.vmailmgr', 'vdeliver-enforce-quotas'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(h, '.vmailmgr', 'vdeliver-log'), 'utf8')).toBe('deliveries.log\n');
    for (const name of ['mailer-daemon', 'postmaster', 'root']) for (const sub of ['tmp', 'new', 'cur']) expect(mode(join(h, 'users', name, sub))).toBe(0o700);
  });

  test('the aliases are byte for byte what the real vsetup wrote into fixtures/vmailmgr/basic, apart from the creation time', () => {
    const h = home();
    expect(runAdmin(['setup', '--home', h], { env }).status).toBe(0);
    const real = new Map(basicRecords().map((r) => [r.key, r.value_hex]));
    const made = records(h);
    expect(made.map(([key]) => key)).toEqual(['mailer-daemon', 'postmaster', 'root']);
    for (const [key, value] of made) {
      const { version: _v, ...fields } = decodePasswordRecord(value, NO_DEFAULTS, 0)!;
      expect(fields.ctime).toBeGreaterThan(1_700_000_000);
      expect(encodePasswordRecord({ ...fields, ctime: 1795317611 }).toString('hex')).toBe(real.get(key));
    }
  });

  test('a second run changes nothing and says so', () => {
    const h = home();
    expect(runAdmin(['setup', '--home', h], { env }).status).toBe(0);
    const before = snapshot(h);
    const again = runAdmin(['setup', '--home', h], { env });
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(
      [
        `${h}/.qmail-default already runs ${LINE.slice(1).trimEnd()}`,
        `${h}/users/ is already there`,
        `${h}/passwd.cdb already has mailer-daemon, postmaster, root`,
        `${h}/.vmailmgr/vdeliver-enforce-quotas already sets vdeliver-enforce-quotas to 1`,
        `${h}/.vmailmgr/vdeliver-log already sets vdeliver-log to deliveries.log`,
        `nothing to change: ${h} is already set up`,
        '',
      ].join('\n'),
    );
    expect(snapshot(h)).toEqual(before);
  });

  test('an existing different .qmail-default is kept as .qmail-default~; an existing table and its records stay', () => {
    const h = home();
    writeFileSync(join(h, '.qmail-default'), '|/usr/local/bin/vdeliver\n');
    copyFileSync(join(VMAILMGR, 'basic', 'passwd.cdb'), join(h, 'passwd.cdb'));
    const table = readFileSync(join(h, 'passwd.cdb'));
    const result = runAdmin(['setup', '--home', h], { env });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`(the old one is kept as ${h}/.qmail-default~)\n`);
    expect(result.stdout).toContain(`${h}/passwd.cdb already has mailer-daemon, postmaster, root\n`);
    expect(readFileSync(join(h, '.qmail-default~'), 'utf8')).toBe('|/usr/local/bin/vdeliver\n');
    expect(readFileSync(join(h, '.qmail-default'), 'utf8')).toBe(LINE);
    expect(readFileSync(join(h, 'passwd.cdb')).equals(table)).toBe(true);
  });

  test('the aliases and their forward come from the config; only the missing ones are added, after the others', () => {
    const h = home();
    mkdirSync(join(h, '.vmailmgr'));
    writeFileSync(join(h, '.vmailmgr', 'postmaster-aliases'), '# who gets bounces\nabuse\npostmaster\n');
    writeFileSync(join(h, '.vmailmgr', 'postmaster-email'), 'admin@example.org\n');
    writeFileSync(join(h, '.vmailmgr', 'vdeliver-enforce-quotas'), '0\n');
    expect(runAdmin(['add', '--home', h, 'postmaster', '--forward', 'me@example.org'], { env }).status).toBe(0);
    const result = runAdmin(['setup', '--home', h], { env });
    expect(result.stdout).toContain(`added abuse (mailbox and forward to admin@example.org) to ${h}/passwd.cdb\n`);
    expect(result.stdout).toContain(`${h}/.vmailmgr/vdeliver-enforce-quotas already sets vdeliver-enforce-quotas to 0\n`);
    const made = records(h).map(([key, value]) => [key, decodePasswordRecord(value, NO_DEFAULTS, 0)!.forwards]);
    expect(made).toEqual([
      ['postmaster', ['me@example.org']],
      ['abuse', ['admin@example.org']],
    ]);
    expect(readFileSync(join(h, '.vmailmgr', 'vdeliver-enforce-quotas'), 'utf8')).toBe('0\n');
  });

  test('arguments other than --home are refused with one line', () => {
    const h = home();
    expect(runAdmin(['setup', '--home', h, '--force'], { env })).toMatchObject({
      status: 1,
      stdout: '',
      stderr: 'vdeliver-admin: unknown option --force (see vdeliver-admin setup --help)\n',
    });
    expect(runAdmin(['setup', '--home', h, 'example.com'], { env })).toMatchObject({
      status: 1,
      stderr: 'vdeliver-admin: setup takes no arguments besides --home or --user\n',
    });
    expect(readdirSync(h)).toEqual([]);
  });

  needs('root')("run as root, it acts as the home's owner: every file and directory it makes is the base user's", () => {
    chmodSync(dir.path, 0o755);
    const h = home();
    chownSync(h, NOBODY, NOBODY);
    const result = runAdmin(['setup', '--home', h], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const path of Object.keys(snapshot(h))) expect([path, statSync(path).uid]).toEqual([path, NOBODY]);
    expect(Object.keys(snapshot(h))).toContain(join(h, 'users', 'root', 'new'));
  });
});
