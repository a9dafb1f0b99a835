import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { basicRecords, cdbmakeText, scratchDir, TINYCDB, VMAILMGR } from '../helpers/fixtures';
import { cleanEnv, runAdmin } from '../helpers/run';

const dir = scratchDir();
afterAll(() => dir.cleanup());

const home = (name: string, table?: string): string => {
  const path = join(dir.path, name);
  mkdirSync(path, { recursive: true });
  if (table) copyFileSync(table, join(path, 'passwd.cdb'));
  return path;
};
const basicHome = home('basic', join(VMAILMGR, 'basic', 'passwd.cdb'));
const env = cleanEnv({ VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') });

describe('vdeliver-admin show', () => {
  test('--json agrees with records.json for every key', () => {
    const records = basicRecords();
    const result = runAdmin(['show', '--home', basicHome, '--json', ...records.map((r) => r.key)], { env });
    expect(result.status).toBe(0);
    const views = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(views).toHaveLength(records.length);
    views.forEach((view, i) => {
      const r = records[i];
      expect(Object.keys(view)).toEqual([
        'name',
        'found',
        'via',
        'password',
        'directory',
        'forwards',
        'personal',
        'hardquota',
        'softquota',
        'msgsize',
        'msgcount',
        'ctime',
        'expiry',
        'expired',
        'hasMailbox',
        'mailboxEnabled',
      ]);
      expect(view).toEqual({
        name: r.key,
        found: true,
        via: 'direct',
        password: r.password,
        directory: r.directory,
        forwards: r.forwards,
        personal: r.personal,
        hardquota: r.hardquota,
        softquota: r.softquota,
        msgsize: r.msgsize,
        msgcount: r.msgcount,
        ctime: r.ctime,
        expiry: r.expiry,
        // Delivery bounces a user whose expiry has passed (basic has 'expired', set in 2001).
        expired: r.expiry !== null && r.expiry < Date.now() / 1000,
        hasMailbox: r.has_mailbox,
        mailboxEnabled: r.mailbox_enabled,
      });
    });
  });

  test('the look-ups dumpvuser.txt records: ALICE, MIXEDCASE, John.Doe found; JÖRG and nosuchuser are not', () => {
    const dump = readFileSync(join(VMAILMGR, 'basic', 'dumpvuser.txt'), 'utf8');
    const noCatchAll = home('no-catch-all', join(VMAILMGR, 'basic', 'passwd.cdb'));
    mkdirSync(join(noCatchAll, '.vmailmgr'));
    // dumpvuser never falls back to the catch-all; with no catch-all, show answers the same.
    writeFileSync(join(noCatchAll, '.vmailmgr', 'default-username'), 'no-such-default\n');
    for (const name of ['ALICE', 'MIXEDCASE', 'John.Doe', 'JÖRG', 'nosuchuser']) {
      const section = new RegExp(`### dumpvuser '${name}'  \\(exit (\\d)\\)\\n([^#]*)`).exec(dump)!;
      const result = runAdmin(['show', '--home', noCatchAll, '--json', name], { env });
      const view = JSON.parse(result.stdout);
      expect(view.found).toBe(section[1] === '0');
      expect(result.status).toBe(Number(section[1]));
      if (view.found) expect(section[2]).toContain(`Directory: ${view.directory}\n`);
      else expect(result.stderr).toBe(`vdeliver-admin: no virtual user '${name}' and no catch-all 'no-such-default'\n`);
    }
  });

  test('the catch-all answers unknown names and says so', () => {
    const result = runAdmin(['show', '--home', basicHome, 'nosuchuser'], { env });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Found: via the catch-all '+'");
  });

  test.each([
    ['missing table', () => home('empty'), /^vdeliver-admin: the password table .*passwd\.cdb does not exist\n$/],
    [
      '0-byte table',
      () => {
        const h = home('zero');
        writeFileSync(join(h, 'passwd.cdb'), '');
        return h;
      },
      /^vdeliver-admin: the password table .* is not a valid cdb \(.*\)\n$/,
    ],
    [
      'corrupt record',
      () => home('legacy', join(VMAILMGR, 'legacy', 'passwd.cdb')),
      /^vdeliver-admin: the password table entry for 'badflag' is corrupt \(#4\.3\.0\)\n$/,
    ],
  ])('%s: one clear line and exit 1', (_what, makeHome, line) => {
    const result = runAdmin(['show', '--home', makeHome(), 'badflag'], { env });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(line);
  });
});

describe('vdeliver-admin list', () => {
  test('matches the real listvdomain on the basic table', () => {
    const result = runAdmin(['list', '--home', basicHome], { env });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(VMAILMGR, 'basic', 'listvdomain.txt'), 'utf8'));
  });

  test('goes past invalid records (listvdomain stops at the first) and exits 1', () => {
    const result = runAdmin(['list', '--home', home('legacy-list', join(VMAILMGR, 'legacy', 'passwd.cdb'))], { env });
    expect(result.status).toBe(1);
    const names = result.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(' ')[0]);
    expect(names).toContain('UPPERKEY'); // the last record: listing reached the end
    expect(result.stdout).toContain('badversion INVALID');
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(5);
  });
});

describe('vdeliver-admin build', () => {
  test('a table built from large/records.tsv decodes back to the same records and equals the real table', () => {
    const target = home('built');
    const result = runAdmin(['build', '--home', target, join(VMAILMGR, 'large', 'records.tsv')], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`wrote 11001 records to ${join(target, 'passwd.cdb')}\n`);
    // Same records, same order, same hash: byte for byte what vmailmgr's tools wrote.
    expect(readFileSync(join(target, 'passwd.cdb')).equals(readFileSync(join(VMAILMGR, 'large', 'passwd.cdb')))).toBe(true);
  });

  test("tinycdb's dump of each real table (fixtures/tinycdb/dumps) is our reader's, byte for byte, and every key reads back", () => {
    for (const [table, records] of [
      ['basic', 26],
      ['large', 11001],
      ['legacy', 18],
    ] as const) {
      const reader = CdbReader.open(join(VMAILMGR, table, 'passwd.cdb'));
      const read = Array.from(reader.records(), ({ key, data }): [Buffer, Buffer] => [key, data]);
      const ours = cdbmakeText(read);
      // The large table's dump is kept as its SHA-256 only (1 MB).
      if (table === 'large')
        expect(createHash('sha256').update(ours).digest('hex')).toBe(readFileSync(join(TINYCDB, 'dumps', 'vmailmgr-large.dump.sha256'), 'utf8').trim());
      else expect(ours.equals(readFileSync(join(TINYCDB, 'dumps', `vmailmgr-${table}.dump`)))).toBe(true);
      for (const [key, data] of read) expect(reader.get(key)?.equals(data)).toBe(true);
      expect(read.length).toBe(records);
      reader.close();
    }
  });

  test.each([
    ['/var/mail/alice', 'is absolute'],
    ['../../x', 'climbs out of the home with ..'],
    ['./users/../../../x', 'climbs out of the home with ..'],
  ])('refuses the directory %p with its line number, unless --allow-outside-home is given', (directory, why) => {
    const file = join(dir.path, 'outside.tsv');
    writeFileSync(file, `key\tpassword\n# users\nbob\t*\t./users/bob\t\t1\t1\t-\t-\t-\t-\t0\t-\t\nalice\t*\t${directory}\t\t1\t1\t-\t-\t-\t-\t0\t-\t\n`);
    const target = home(`outside-${directory.replace(/\W/g, '')}`);
    const refused = runAdmin(['build', '--home', target, file], { env });
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `vdeliver-admin: ${file}:4: the directory '${directory}' ${why}; give --allow-outside-home to store a directory outside the home\n`,
    );
    expect(existsSync(join(target, 'passwd.cdb'))).toBe(false);
    const allowed = runAdmin(['build', '--home', target, '--allow-outside-home', file], { env });
    expect(allowed.stderr).toBe('');
    expect(allowed.stdout).toBe(`wrote 2 records to ${join(target, 'passwd.cdb')}\n`);
  });

  test('add and set refuse such a directory too: one line, exit 1, table untouched', () => {
    const target = home('outside-edit', join(VMAILMGR, 'basic', 'passwd.cdb'));
    const bytes = readFileSync(join(target, 'passwd.cdb'));
    const absolute = join(dir.path, 'absolute-x');
    for (const args of [
      ['add', 'x', '--directory', absolute],
      ['set', 'alice', '--directory=../alice'],
    ]) {
      const result = runAdmin([args[0], '--home', target, ...args.slice(1)], { env });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        /^vdeliver-admin: the directory '[^']+' (is absolute|climbs out of the home with \.\.); give --allow-outside-home to store a directory outside the home\n$/,
      );
    }
    expect(readFileSync(join(target, 'passwd.cdb')).equals(bytes)).toBe(true);
    expect(existsSync(absolute)).toBe(false);
  });

  test('rejects a malformed users file with the line number', () => {
    const file = join(dir.path, 'bad.tsv');
    writeFileSync(file, 'alice\t*\t./users/alice\t\t1\t1\t-\t-\t-\tlots\t0\t-\t\n');
    const result = runAdmin(['build', '--home', home('bad'), file], { env });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`vdeliver-admin: ${file}:1: msgcount must be a number below 4294967295 or '-', not 'lots'\n`);
  });
});

describe('the command', () => {
  test.each(['nosuch', 'constructor', 'toString'])('%p is an unknown command: one line, exit 1', (command) => {
    const result = runAdmin([command, '--help'], { env });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`vdeliver-admin: unknown command '${command}' (see vdeliver-admin --help)\n`);
  });
});

describe('the configuration', () => {
  test.each([['list'], ['show', 'alice'], ['add', 'x'], ['set', 'alice', '--msgsize', '1']])(
    'an item that cannot be read: %p says which, in one line, exit 1',
    (...args) => {
      const target = home(`unreadable-${args[0]}`, join(VMAILMGR, 'basic', 'passwd.cdb'));
      mkdirSync(join(target, '.vmailmgr', 'password-file'), { recursive: true });
      const bytes = readFileSync(join(target, 'passwd.cdb'));
      const result = runAdmin([args[0], '--home', target, ...args.slice(1)], { env });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`vdeliver-admin: cannot read ${join(target, '.vmailmgr', 'password-file')}: EISDIR (illegal operation on a directory)\n`);
      expect(readFileSync(join(target, 'passwd.cdb')).equals(bytes)).toBe(true);
    },
  );
});
