import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromText } from '../../src/system/bytes';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { buildCdb } from '../../src/cdb/cdb-writer';
import { adminContext, type AdminContext, AdminError } from '../../src/admin/context';
import { editCommand, type EditCommand, EDIT_HELP } from '../../src/admin/edit-command';
import { md5Crypt, newSalt } from '../../src/vmailmgr/md5-crypt';
import { decodePasswordRecord, encodePasswordRecord, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { PasswordTable } from '../../src/vmailmgr/password-table';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { parseCdbmake, scratchDir, TINYCDB, tinycdbLookups, VMAILMGR } from '../helpers/fixtures';
import { needs } from '../helpers/requires';

const NOW = 1800000000;
const NO_DEFAULTS = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };
const PW = '$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1';

const dir = scratchDir();
afterAll(() => dir.cleanup());

let homes = 0;
/** A fresh base-user home, with a copy of a real vmailmgr table when asked. */
function home(table?: 'basic' | 'legacy'): string {
  const path = join(dir.path, `home${homes++}`);
  mkdirSync(path);
  if (table) copyFileSync(join(VMAILMGR, table, 'passwd.cdb'), join(path, 'passwd.cdb'));
  return path;
}

const context = (h: string): AdminContext => adminContext(h, { VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') }, NOW);
const run = (command: EditCommand, h: string, args: string[], stdin = ''): { out: string; errors: string[] } =>
  editCommand(command, args, context(h), () => stdin);

type Raw = Array<[Buffer, Buffer]>;
function records(path: string): Raw {
  const reader = CdbReader.open(path);
  try {
    return Array.from(reader.records(), ({ key, data }): [Buffer, Buffer] => [key, data]);
  } finally {
    reader.close();
  }
}
const table = (h: string): string => join(h, 'passwd.cdb');
const keys = (raw: Raw): string[] => raw.map(([k]) => k.toString('utf8'));
const decode = (value: Buffer): PasswordRecord | undefined => decodePasswordRecord(value, NO_DEFAULTS, NOW);
const recordOf = (h: string, key: string): PasswordRecord => {
  const found = records(table(h)).find(([k]) => k.toString('utf8') === key);
  return decode(found![1])!;
};

/** What vmailmgr's writer produces for these records: the same layout with the signed-char hash. */
const vmailmgrTable = (raw: Raw): Buffer => Buffer.concat(buildCdb(raw, { hash: 'signed' }));

function adminError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AdminError);
    return (error as Error).message;
  }
  throw new Error('expected an AdminError');
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('md5Crypt', () => {
  test('the vector of the real tables: secret with salt abcdefgh', () => {
    expect(md5Crypt('secret', 'abcdefgh')).toBe(PW);
    expect(md5Crypt('secret', '$1$abcdefgh$ignored')).toBe(PW);
    expect(md5Crypt('secret', 'abcdefghijk')).toBe(PW); // at most 8 salt characters
  });

  for (const [password, salt] of [
    ['secret', 'abcdefgh'],
    ['', 'ab'],
    ['a', 'x'],
    ['0123456789abcdef0123456789abcdefXYZ', './Zz09'],
    ['pässwörd', 'saltsalt'],
    ['p w\ttab:colon', '12345678'],
  ]) {
    needs('openssl')(`agrees with openssl passwd -1 for ${JSON.stringify(password)}, salt ${JSON.stringify(salt)}`, () => {
      expect(md5Crypt(password, salt)).toBe(execFileSync('openssl', ['passwd', '-1', '-salt', salt, password], { encoding: 'utf8' }).trim());
    });
  }

  test('the salt ends at a $, as in glibc crypt(3) (openssl keeps it)', () => {
    expect(md5Crypt('p w\ttab', '$1$q$rest')).toBe('$1$q$pvoK5IdiZ83lGfy.3oj7P.');
  });

  needs('openssl')('newSalt gives 8 crypt characters that openssl accepts', () => {
    const salts = Array.from({ length: 20 }, () => newSalt());
    for (const salt of salts) expect(salt).toMatch(/^[./0-9A-Za-z]{8}$/);
    expect(new Set(salts).size).toBe(salts.length);
    expect(md5Crypt('hunter2', salts[0])).toBe(execFileSync('openssl', ['passwd', '-1', '-salt', salts[0], 'hunter2'], { encoding: 'utf8' }).trim());
  });
});

describe('add', () => {
  test('in an empty home: creates the table and the Maildir, with vadduser defaults', () => {
    const h = home();
    expect(run('add', h, ['John.Doe'])).toEqual({ out: `added john.doe (mailbox ./users/John:Doe) to ${table(h)}\n`, errors: [] });
    const raw = records(table(h));
    expect(keys(raw)).toEqual(['john.doe']);
    expect(decode(raw[0][1])).toEqual({
      version: 2,
      password: '*',
      directory: './users/John:Doe',
      forwards: [],
      personal: '',
      hardquota: UNLIMITED,
      softquota: UNLIMITED,
      msgsize: UNLIMITED,
      msgcount: UNLIMITED,
      ctime: NOW,
      expiry: UNLIMITED,
      hasMailbox: true,
      mailboxEnabled: true,
    });
    for (const sub of ['', 'tmp', 'new', 'cur']) expect(mode(join(h, 'users', 'John:Doe', sub))).toBe(0o700);
    expect(readdirSync(h).sort()).toEqual(['passwd.cdb', 'users']); // no lock or temporary file left
    expect(readFileSync(table(h)).equals(vmailmgrTable(raw))).toBe(true);
  });

  test('limits, expiry and user-dir come from the configuration; options override them', () => {
    const h = home();
    mkdirSync(join(h, '.vmailmgr'));
    for (const [item, value] of [
      ['default-hardquota', '1000000'],
      ['default-msgcount', '500'],
      ['default-expiry', '86400'],
      ['user-dir', 'mail'],
    ]) {
      writeFileSync(join(h, '.vmailmgr', item), `${value}\n`);
    }
    run('add', h, ['bob', '--msgcount', '-', '--softquota=2000', '--personal', 'Bob B.']);
    expect(recordOf(h, 'bob')).toMatchObject({
      directory: './mail/bob',
      hardquota: 1000000,
      softquota: 2000,
      msgsize: UNLIMITED,
      msgcount: UNLIMITED,
      expiry: NOW + 86400,
      personal: 'Bob B.',
    });
    run('add', h, ['carol', '--expiry', '-', '--directory', 'elsewhere/carol']);
    expect(recordOf(h, 'carol')).toMatchObject({ directory: 'elsewhere/carol', expiry: UNLIMITED });
    expect(existsSync(join(h, 'elsewhere', 'carol', 'cur'))).toBe(true);
  });

  test('--password-stdin stores the MD5-crypt of the first line; --password-hash stores the hash verbatim', () => {
    const h = home();
    run('add', h, ['alice', '--password-stdin'], 'hunter2\r\nignored\n');
    const stored = recordOf(h, 'alice').password;
    expect(stored).toMatch(/^\$1\$[./0-9A-Za-z]{8}\$[./0-9A-Za-z]{22}$/);
    expect(md5Crypt('hunter2', stored)).toBe(stored);
    run('add', h, ['bob', '--password-hash', PW]);
    expect(recordOf(h, 'bob').password).toBe(PW);
  });

  test('--no-mailbox: an alias with forwards keeps its directory and gets no Maildir', () => {
    const h = home();
    run('add', h, ['alice']);
    expect(run('add', h, ['info', '--no-mailbox', '--forward', 'alice', '--forward', 'bob@elsewhere.example']).out).toBe(
      `added info (no mailbox, forwards to alice, bob@elsewhere.example) to ${table(h)}\n`,
    );
    expect(recordOf(h, 'info')).toMatchObject({ directory: './users/info', hasMailbox: false, forwards: ['alice', 'bob@elsewhere.example'] });
    expect(existsSync(join(h, 'users', 'info'))).toBe(false);
  });

  test('an existing Maildir is left as it is', () => {
    const h = home();
    mkdirSync(join(h, 'users', 'carol', 'new'), { recursive: true, mode: 0o755 });
    writeFileSync(join(h, 'users', 'carol', 'new', 'kept'), 'old mail');
    expect(run('add', h, ['carol']).out).toBe(`added carol (mailbox ./users/carol, Maildir already there) to ${table(h)}\n`);
    expect(readFileSync(join(h, 'users', 'carol', 'new', 'kept'), 'utf8')).toBe('old mail');
    expect(mode(join(h, 'users', 'carol', 'new'))).toBe(0o755);
    expect(existsSync(join(h, 'users', 'carol', 'tmp'))).toBe(true);
  });

  test('on the real table: every existing record keeps its bytes and place, the new one comes last', () => {
    const h = home('basic');
    const before = records(table(h));
    run('add', h, ['NewUser', '--password-hash', PW]);
    const after = records(table(h));
    expect(after.slice(0, before.length)).toEqual(before);
    expect(keys(after.slice(before.length))).toEqual(['newuser']);
    expect(recordOf(h, 'newuser')).toMatchObject({ directory: './users/NewUser', password: PW });
    expect(readFileSync(table(h)).equals(vmailmgrTable(after))).toBe(true);
  });

  test('a non-ASCII name is found afterwards through the signed-char hash', () => {
    const h = home();
    // Arguments are byte strings: these are the UTF-8 bytes of jörg, as a UTF-8 terminal sends them.
    run('add', h, [fromText('jörg')]);
    const t = PasswordTable.open(table(h), NO_DEFAULTS, NOW);
    expect(t.find(fromText('jörg'))).toMatchObject({ status: 'found', record: { directory: fromText('./users/jörg') } });
    t.close();
    expect(readFileSync(table(h)).equals(vmailmgrTable(records(table(h))))).toBe(true);
    // The real table's jörg is the same key: adding Jörg again is a duplicate.
    expect(adminError(() => run('add', home('basic'), [fromText('Jörg')]))).toBe("the virtual user 'jörg' already exists");
  });

  test("the non-ASCII name is written with vmailmgr's hash: tinycdb, which uses the standard one, misses it", () => {
    const h = home();
    run('add', h, [fromText('jörg')]);
    // The same bytes as fixtures/tinycdb/edited/jorg.cdb, which tinycdb's `cdb -q` did not find jörg in (as in vmailmgr's own table).
    expect(readFileSync(table(h)).equals(readFileSync(join(TINYCDB, 'edited', 'jorg.cdb')))).toBe(true);
    const lookups = tinycdbLookups();
    expect(lookups.get('fixtures/tinycdb/edited/jorg.cdb\tjörg')).toBe(100);
    expect(lookups.get('fixtures/vmailmgr/basic/passwd.cdb\tjörg')).toBe(100);
    expect(lookups.get('fixtures/vmailmgr/basic/passwd.cdb\talice')).toBe(0);
  });
});

describe('set', () => {
  test('changes only the given field and keeps the record in its place', () => {
    const h = home('basic');
    const before = records(table(h));
    const index = keys(before).indexOf('alice');
    expect(run('set', h, ['ALICE', '--hardquota', '5000']).out).toBe(`changed alice (hardquota) in ${table(h)}\n`);
    const after = records(table(h));
    expect(keys(after)).toEqual(keys(before));
    after.forEach((r, i) => {
      if (i !== index) expect(r).toEqual(before[i]);
    });
    expect(decode(after[index][1])).toEqual({ ...decode(before[index][1]), hardquota: 5000 });
  });

  test('forwards are appended or cleared; flags and the password change', () => {
    const h = home('basic');
    run('set', h, ['info', '--forward', 'carol']);
    expect(recordOf(h, 'info').forwards).toEqual(['alice', 'bob@elsewhere.example', 'carol']);
    run('set', h, ['info', '--clear-forwards', '--forward', 'x@y.example']);
    expect(recordOf(h, 'info').forwards).toEqual(['x@y.example']);
    run('set', h, ['alice', '--mailbox-enabled', 'no', '--password-stdin'], 'n3w\n');
    expect(recordOf(h, 'alice')).toMatchObject({ mailboxEnabled: false, hasMailbox: true });
    expect(md5Crypt('n3w', recordOf(h, 'alice').password)).toBe(recordOf(h, 'alice').password);
  });

  test('giving an alias a mailbox creates its Maildir', () => {
    const h = home('basic');
    expect(run('set', h, ['info', '--has-mailbox', 'yes']).out).toBe(`changed info (has-mailbox; mailbox ./users/info) in ${table(h)}\n`);
    expect(recordOf(h, 'info').hasMailbox).toBe(true);
    expect(mode(join(h, 'users', 'info', 'cur'))).toBe(0o700);
  });

  test('after add then set, every record is what vmailmgr would write: decode and re-encode give the same bytes', () => {
    const h = home('basic');
    run('add', h, ['zed', '--forward', 'alice', '--personal', 'Zed', '--msgsize', '1048576']);
    run('set', h, ['zed', '--expiry', '3600', '--no-mailbox', '--forward', 'bob@example.org']);
    run('set', h, ['bob', '--personal', 'Robert']);
    const raw = records(table(h));
    for (const [key, value] of raw) {
      const record = decode(value);
      expect([key.toString('utf8'), record?.version]).toEqual([key.toString('utf8'), 2]);
      const { version: _v, ...fields } = record!;
      expect(encodePasswordRecord(fields).equals(value)).toBe(true);
    }
    expect(recordOf(h, 'zed')).toMatchObject({ expiry: NOW + 3600, hasMailbox: false, forwards: ['alice', 'bob@example.org'], msgsize: 1048576, ctime: NOW });
    expect(readFileSync(table(h)).equals(vmailmgrTable(raw))).toBe(true);
  });

  test('after add then set, tinycdb reads the same records in the same order', () => {
    const h = home('basic');
    run('add', h, ['zed', '--forward', 'alice', '--personal', 'Zed', '--msgsize', '1048576']);
    run('set', h, ['zed', '--expiry', '3600', '--no-mailbox', '--forward', 'bob@example.org']);
    // The clock is fixed, so the table is fixtures/tinycdb/edited/add-set.cdb, whose `cdb -d` dump is committed.
    expect(readFileSync(table(h)).equals(readFileSync(join(TINYCDB, 'edited', 'add-set.cdb')))).toBe(true);
    expect(parseCdbmake(readFileSync(join(TINYCDB, 'dumps', 'edited-add-set.dump')))).toEqual(records(table(h)));
  });
});

describe('remove', () => {
  test('deletes the record, keeps the rest byte-identical and leaves the Maildir', () => {
    const h = home('basic');
    mkdirSync(join(h, 'users', 'bob', 'new'), { recursive: true });
    const before = records(table(h));
    expect(run('remove', h, ['Bob']).out).toBe(`removed bob from ${table(h)} (its Maildir ./users/bob is left in place)\n`);
    expect(records(table(h))).toEqual(before.filter(([k]) => k.toString() !== 'bob'));
    expect(existsSync(join(h, 'users', 'bob', 'new'))).toBe(true);
  });

  test('removing the last record leaves an empty table that add extends', () => {
    const h = home();
    run('add', h, ['only', '--no-mailbox']);
    expect(run('remove', h, ['only']).out).toBe(`removed only from ${table(h)} (its directory ./users/only is left in place)\n`);
    expect(readFileSync(table(h)).equals(vmailmgrTable([]))).toBe(true);
    run('add', h, ['next']);
    expect(keys(records(table(h)))).toEqual(['next']);
  });
});

describe('a table with invalid and old-format records (the real legacy table)', () => {
  test('add, set and remove keep every other record byte for byte', () => {
    const h = home('legacy');
    const before = records(table(h));
    expect(before.filter(([, v]) => decode(v) === undefined).length).toBeGreaterThan(0);
    run('add', h, ['newbie']);
    expect(records(table(h)).slice(0, before.length)).toEqual(before);

    const v1 = keys(before).indexOf('v1user');
    expect(run('set', h, ['v1user', '--personal', 'One']).out).toBe(`changed v1user (personal; rewritten from the version-1 format) in ${table(h)}\n`);
    expect(recordOf(h, 'v1user')).toMatchObject({ version: 2, personal: 'One', directory: decode(before[v1][1])!.directory });

    expect(run('remove', h, ['badflag']).out).toBe(`removed badflag from ${table(h)} (an invalid record)\n`);
    const after = records(table(h));
    const expected = before.filter(([k]) => k.toString() !== 'badflag').map((r) => (r[0].toString() === 'v1user' ? after[keys(after).indexOf('v1user')] : r));
    expect(after.slice(0, -1)).toEqual(expected);
    expect(keys(after).at(-1)).toBe('newbie');
  });

  test('set refuses a record it cannot decode and leaves the table alone', () => {
    const h = home('legacy');
    const bytes = readFileSync(table(h));
    expect(adminError(() => run('set', h, ['badversion', '--personal', 'x']))).toBe(
      "the record for 'badversion' cannot be decoded; remove it and add it again",
    );
    expect(readFileSync(table(h)).equals(bytes)).toBe(true);
  });
});

describe('bad input: one clear sentence, table untouched', () => {
  test.each<[string, EditCommand, string[], string | RegExp]>([
    ['a space', 'add', ['john doe'], "the name 'john doe' contains a space, which vmailmgr forbids in names"],
    ['a slash', 'add', ['a/b'], "the name 'a/b' contains '/', which vmailmgr forbids in names"],
    ['a colon', 'add', ['a:b'], "the name 'a:b' contains ':', which vmailmgr forbids in names"],
    ['a tab', 'remove', ['a\tb'], "the name 'a b' contains a tab, which vmailmgr forbids in names"],
    ['an empty name', 'add', [''], 'the name of a virtual user cannot be empty'],
    ['a duplicate add', 'add', ['Alice'], "the virtual user 'alice' already exists"],
    ['removing an absent name', 'remove', ['nosuchuser'], "no virtual user 'nosuchuser'"],
    ['setting an absent name', 'set', ['nosuchuser', '--personal', 'x'], "no virtual user 'nosuchuser'"],
    ['a non-numeric quota', 'add', ['x', '--hardquota', 'lots'], "--hardquota must be a number below 4294967295 or '-', not 'lots'"],
    ['a quota too large', 'set', ['alice', '--msgsize=4294967295'], "--msgsize must be a number below 4294967295 or '-', not '4294967295'"],
    ['two @', 'add', ['x', '--forward', 'a@b@c'], "the forward 'a@b@c' contains more than one @"],
    ['a forward to no user', 'add', ['x', '--forward', 'nobody'], "the forward 'nobody' names no virtual user of this domain (add @domain for another one)"],
    ['two passwords', 'add', ['x', '--password-hash', PW, '--password-stdin'], 'add: --password-stdin is given twice or conflicts with another option'],
    ['an option of set on add', 'add', ['x', '--mailbox-enabled', 'no'], 'add: unknown option --mailbox-enabled (see vdeliver-admin add --help)'],
    ['a bad yes/no', 'set', ['alice', '--has-mailbox', 'maybe'], "set: --has-mailbox must be yes or no, not 'maybe'"],
    ['nothing to set', 'set', ['alice'], 'set: give at least one field to change (see vdeliver-admin set --help)'],
    ['two names', 'add', ['x', 'y'], 'add: name exactly one virtual user (see vdeliver-admin add --help)'],
    ['a missing value', 'add', ['x', '--directory'], 'add: --directory needs a value'],
    ['a line break in a field', 'add', ['x', '--personal', 'a\nb'], '--personal cannot contain a NUL byte or a line break'],
    ['an empty password line', 'add', ['x', '--password-stdin'], '--password-stdin: the first line of standard input is empty'],
    ['a duplicate forward', 'set', ['info', '--forward', 'alice'], "the forward 'alice' is already there"],
    [
      'an absolute directory',
      'add',
      ['x', '--directory', '/var/mail/x'],
      "the directory '/var/mail/x' is absolute; give --allow-outside-home to store a directory outside the home",
    ],
    [
      'a directory climbing out with ..',
      'add',
      ['x', '--directory', '../../x'],
      "the directory '../../x' climbs out of the home with ..; give --allow-outside-home to store a directory outside the home",
    ],
    [
      '.. hidden inside a directory',
      'set',
      ['alice', '--directory', './users/../../../x'],
      "the directory './users/../../../x' climbs out of the home with ..; give --allow-outside-home to store a directory outside the home",
    ],
    [
      '--allow-outside-home twice',
      'add',
      ['x', '--allow-outside-home', '--allow-outside-home'],
      'add: --allow-outside-home is given twice or conflicts with another option',
    ],
  ])('%s', (_what, command, args, message) => {
    const h = home('basic');
    const bytes = readFileSync(table(h));
    expect(adminError(() => run(command, h, args))).toEqual(message);
    expect(readFileSync(table(h)).equals(bytes)).toBe(true);
    expect(readdirSync(h)).toEqual(['passwd.cdb']);
  });

  test('--allow-outside-home stores such a directory as given; .. that stays inside needs no flag', () => {
    const h = home('basic');
    expect(run('add', h, ['inside', '--directory', './users/../mail/inside']).errors).toEqual([]);
    expect(recordOf(h, 'inside').directory).toBe('./users/../mail/inside');
    const outside = join(dir.path, `outside${homes}`);
    expect(run('add', h, ['out', '--directory', outside, '--allow-outside-home']).out).toBe(`added out (mailbox ${outside}) to ${table(h)}\n`);
    expect(existsSync(join(outside, 'new'))).toBe(true);
    run('set', h, ['alice', '--directory', '../elsewhere/alice', '--allow-outside-home', '--has-mailbox', 'no']);
    expect(recordOf(h, 'alice').directory).toBe('../elsewhere/alice');
    // A record already outside keeps working for changes that leave its directory alone.
    expect(run('set', h, ['out', '--msgsize', '5000']).out).toBe(`changed out (msgsize) in ${table(h)}\n`);
  });

  test('a user-dir that climbs out of the home makes the default directory climb out: refused the same way', () => {
    const h = home('basic');
    mkdirSync(join(h, '.vmailmgr'));
    writeFileSync(join(h, '.vmailmgr', 'user-dir'), '../shared\n');
    expect(adminError(() => run('add', h, ['x']))).toBe(
      "the directory './../shared/x' climbs out of the home with ..; give --allow-outside-home to store a directory outside the home",
    );
    expect(readdirSync(h).sort()).toEqual(['.vmailmgr', 'passwd.cdb']);
  });

  test('remove and set need an existing table; add does not', () => {
    const h = home();
    expect(adminError(() => run('remove', h, ['alice']))).toBe(`the password table ${table(h)} does not exist`);
    expect(adminError(() => run('set', h, ['alice', '--personal', 'x']))).toBe(`the password table ${table(h)} does not exist`);
    expect(existsSync(table(h))).toBe(false);
  });

  test("a writer's passwd.cdb.tmp (vmailmgr's lock) stops the edit", () => {
    const h = home('basic');
    writeFileSync(`${table(h)}.tmp`, '');
    expect(adminError(() => run('add', h, ['x']))).toBe(`${table(h)}.tmp exists: another program is changing the table (remove the file if none is)`);
    expect(existsSync(`${table(h)}.tmp`)).toBe(true);
  });

  test('a corrupt table is reported, not overwritten', () => {
    const h = home();
    writeFileSync(table(h), Buffer.alloc(100));
    expect(adminError(() => run('add', h, ['x']))).toMatch(/^the password table .* is not a valid cdb \(.*\)$/);
    expect(readFileSync(table(h)).length).toBe(100);
  });
});

test('every command has help', () => {
  for (const command of ['add', 'remove', 'set'] as const) expect(EDIT_HELP[command]).toMatch(new RegExp(`^usage: vdeliver-admin ${command} `));
});
