/**
 * What admins type: forwards (checked, added, removed), --user, the password prompt on a real
 * pseudo-terminal, `test -`, and how show and test --json print times and limits.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { md5Crypt } from '../../src/vmailmgr/md5-crypt';
import { decodePasswordRecord, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { MAX_FORWARD_BYTES } from '../../src/admin/forward-address';
import { FIXTURES, scratchDir, VMAILMGR } from '../helpers/fixtures';
import { needs } from '../helpers/requires';
import { BIN, cleanEnv, runAdmin } from '../helpers/run';

const dir = scratchDir();
afterAll(() => dir.cleanup());
const env = cleanEnv({ VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') });
const ADMIN = join(BIN, 'vdeliver-admin');

let homes = 0;
function home(table: 'basic' | 'none' = 'basic'): string {
  const path = join(dir.path, `home${homes++}`);
  mkdirSync(path);
  if (table === 'basic') copyFileSync(join(VMAILMGR, 'basic', 'passwd.cdb'), join(path, 'passwd.cdb'));
  return path;
}

const NO_DEFAULTS = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };
function recordOf(h: string, key: string): PasswordRecord {
  const reader = CdbReader.open(join(h, 'passwd.cdb'));
  try {
    return decodePasswordRecord(reader.get(Buffer.from(key))!, NO_DEFAULTS, 0)!;
  } finally {
    reader.close();
  }
}

describe('forwards are single addresses', () => {
  const long = `${'a'.repeat(MAX_FORWARD_BYTES - 12)}@example.org`;
  test.each([
    ['bad address@', "the forward 'bad address@' contains a space: give one plain address per forward"],
    ['a,b@c', "the forward 'a,b@c' contains a comma: give one plain address per forward"],
    ['Bob <bob@example.org>', "the forward 'Bob <bob@example.org>' contains a space: give one plain address per forward"],
    ['<bob@example.org>', "the forward '<bob@example.org>' contains an angle bracket: give one plain address per forward"],
    ['a@b@example.org', "the forward 'a@b@example.org' contains more than one @"],
    ['@example.org', "the forward '@example.org' has nothing before the @"],
    ['tab\there@x', "the forward 'tab here@x' contains a tab: give one plain address per forward"],
    [`x${long}`, `the forward '${`x${long}`.slice(0, 40)}...' is ${MAX_FORWARD_BYTES + 1} bytes long; qmail-queue takes at most ${MAX_FORWARD_BYTES}`],
  ])('%j is refused by add, set and build with one line naming it', (forward, message) => {
    const h = home();
    const before = readFileSync(join(h, 'passwd.cdb'));
    for (const args of [
      ['add', '--home', h, 'newbie', '--forward', forward],
      ['set', '--home', h, 'alice', '--forward', forward],
    ]) {
      const result = runAdmin(args, { env });
      expect([args[0], result.status, result.stderr]).toEqual([args[0], 1, `vdeliver-admin: ${message}\n`]);
    }
    // In a users file a comma separates forwards and a tab columns: those two are the file's own syntax there.
    if (/[,\t]/.test(forward)) return;
    const line = ['x', '*', './users/x', forward, '1', '1', '-', '-', '-', '-', '0', '-', ''].join('\t');
    const built = runAdmin(['build', '--home', h, '--force', '-'], { env, input: `${line}\n` });
    expect([built.status, built.stderr]).toEqual([1, `vdeliver-admin: -:1: ${message}\n`]);
    expect(readFileSync(join(h, 'passwd.cdb')).equals(before)).toBe(true);
  });

  test("vmailmgr's short forms and 8-bit addresses are accepted, up to qmail-queue's length", () => {
    const h = home();
    for (const forward of ['carol', 'postmaster@', 'm\xfcller@example.org', long]) {
      const result = runAdmin(['set', '--home', h, 'alice', '--forward', forward], { env });
      expect([forward, result.stderr, result.status]).toEqual([forward, '', 0]);
    }
    expect(recordOf(h, 'alice').forwards).toEqual(['carol', 'postmaster@', Buffer.from('m\xfcller@example.org', 'utf8').toString('latin1'), long]);
  });
});

describe('set --remove-forward', () => {
  test('drops each named forward and keeps the rest in order; --forward adds after', () => {
    const h = home();
    expect(recordOf(h, 'info').forwards).toEqual(['alice', 'bob@elsewhere.example']);
    const result = runAdmin(['set', '--home', h, 'info', '--remove-forward', 'alice', '--forward', 'carol'], { env });
    expect(result.stdout).toBe(`changed info (forwards) in ${join(h, 'passwd.cdb')}\n`);
    expect(recordOf(h, 'info').forwards).toEqual(['bob@elsewhere.example', 'carol']);
    runAdmin(['set', '--home', h, 'info', '--remove-forward', 'carol', '--remove-forward=bob@elsewhere.example'], { env });
    expect(recordOf(h, 'info').forwards).toEqual([]);
  });

  test('removing a forward that is not there is an error that lists what is there, and changes nothing', () => {
    const h = home();
    const before = readFileSync(join(h, 'passwd.cdb'));
    const result = runAdmin(['set', '--home', h, 'info', '--remove-forward', 'Alice', '--personal', 'x'], { env });
    expect([result.status, result.stderr]).toEqual([
      1,
      "vdeliver-admin: the forward 'Alice' is not there to remove (forwards to alice, bob@elsewhere.example)\n",
    ]);
    expect(readFileSync(join(h, 'passwd.cdb')).equals(before)).toBe(true);
    const both = runAdmin(['set', '--home', h, 'info', '--clear-forwards', '--remove-forward', 'alice'], { env });
    expect(both.stderr).toBe('vdeliver-admin: set: --clear-forwards already drops every forward; leave out --remove-forward\n');
    expect(runAdmin(['add', '--home', h, 'x', '--remove-forward', 'alice'], { env }).stderr).toBe(
      'vdeliver-admin: add: unknown option --remove-forward (see vdeliver-admin add --help)\n',
    );
  });
});

describe('--user NAME', () => {
  /** An account of this machine whose home holds no passwd.cdb, straight from /etc/passwd. */
  const account = readFileSync('/etc/passwd', 'latin1')
    .split('\n')
    .map((line) => line.split(':'))
    .find((f) => f.length === 7 && f[5].startsWith('/') && f[0] !== '')!;

  test('takes the home from the password database', () => {
    const result = runAdmin(['list', '--user', account[0]], { env });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^vdeliver-admin: the password table ${account[5].replace(/\/$/, '')}/passwd\\.cdb (does not exist|cannot be read .*)\\n$`),
    );
  });

  test('an unknown user is one line and exit status 1, for every command', () => {
    for (const command of ['show', 'list', 'dump', 'add', 'doctor']) {
      const result = runAdmin([command, '--user', 'no-such-base-user', 'x'], { env });
      expect([command, result.status, result.stderr]).toEqual([command, 1, "vdeliver-admin: no user 'no-such-base-user' in the password database\n"]);
    }
    expect(runAdmin(['list', '--user', account[0], '--home', '/tmp'], { env }).stderr).toBe('vdeliver-admin: give --home or --user, not both\n');
    expect(runAdmin(['list', '--user'], { env }).stderr).toBe('vdeliver-admin: --user needs the name of a base user\n');
  });
});

describe('passwords', () => {
  const stored = (h: string, key: string): string => recordOf(h, key).password;
  const matches = (hash: string, password: string): boolean => md5Crypt(password, hash.split('$')[2]) === hash;

  test('without a terminal, --password reads the first line of standard input', () => {
    const h = home();
    const result = runAdmin(['set', '--home', h, 'alice', '--password'], { env, input: 'correct horse\nignored\n' });
    expect(result.stderr).toBe('');
    expect(matches(stored(h, 'alice'), 'correct horse')).toBe(true);
  });

  /**
   * The command on a new pseudo-terminal (util-linux's script), answering each prompt once it shows:
   * what the terminal displayed, and the exit status.
   */
  function onTerminal(args: string[], answers: string[]): Promise<{ screen: string; status: number | null }> {
    const command = [ADMIN, ...args].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { env });
    let screen = '';
    let prompts = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
      // A prompt ends with ': '; answer it only once it is on the screen, so echo would show.
      const seen = screen.match(/password: /g)?.length ?? 0;
      while (prompts < seen && prompts < answers.length) child.stdin.write(answers[prompts++]);
    });
    return new Promise((resolve) => child.on('close', (status) => resolve({ screen, status })));
  }

  needs('pty')('on a terminal, add --password prompts twice and echoes nothing', async () => {
    const h = home();
    const { screen, status } = await onTerminal(['add', '--home', h, 'eve', '--password'], ['s3cr\xe9t pw\r', 's3cr\xe9t pw\r']);
    expect(screen).toBe(`New password: \r\nRetype new password: \r\nadded eve (mailbox ./users/eve) to ${join(h, 'passwd.cdb')}\r\n`);
    expect(status).toBe(0);
    expect(matches(stored(h, 'eve'), 's3cr\xe9t pw')).toBe(true);
  });

  needs('pty')('backspace and Ctrl-U edit the hidden line; --password-stdin prompts on a terminal too', async () => {
    const h = home();
    const { status } = await onTerminal(['set', '--home', h, 'alice', '--password-stdin'], ['junk\x15pass\xe9x\x7f\r', 'pass\xe9\r']);
    expect(status).toBe(0);
    expect(matches(stored(h, 'alice'), 'pass\xe9')).toBe(true);
  });

  needs('pty')('two different passwords, or Ctrl-C, change nothing', async () => {
    const h = home();
    const before = readFileSync(join(h, 'passwd.cdb'));
    const mismatch = await onTerminal(['set', '--home', h, 'alice', '--password'], ['one\r', 'two\r']);
    expect(mismatch.screen).toBe('New password: \r\nRetype new password: \r\nvdeliver-admin: the passwords do not match; nothing was changed\r\n');
    expect(mismatch.status).toBe(1);
    const interrupted = await onTerminal(['set', '--home', h, 'alice', '--password'], ['sec\x03']);
    expect(interrupted.screen).toBe('New password: \r\nvdeliver-admin: interrupted; nothing was changed\r\n');
    expect(interrupted.status).toBe(1);
    expect(readFileSync(join(h, 'passwd.cdb')).equals(before)).toBe(true);
  });

  needs('pty')('a bad option is reported before any prompt', async () => {
    const { screen, status } = await onTerminal(['add', '--home', home(), 'x', '--password', '--bogus'], []);
    expect(screen).toBe('vdeliver-admin: add: unknown option --bogus (see vdeliver-admin add --help)\r\n');
    expect(status).toBe(1);
  });
});

describe('show and test: times and limits', () => {
  test('show prints ISO times and marks an expired user', () => {
    const result = runAdmin(['show', '--home', home(), 'expired', 'alice'], { env });
    const blocks = result.stdout.split('\n\n');
    // basic's records.json: expired has expiry 1000000000, alice never expires; both were made at ctime 1795317611.
    expect(blocks[0]).toContain('\nCreation-Time: 2026-11-22T03:20:11Z\nExpiry-Time: 2001-09-09T01:46:40Z (expired: mail to it bounces)\n');
    expect(blocks[1]).toContain('\nExpiry-Time: never\n');
    const json = runAdmin(['show', '--home', home(), '--json', 'expired', 'alice', 'disabled'], { env })
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(json.map((v) => [v.expiry, v.expired])).toEqual([
      [1000000000, true],
      [null, false],
      [null, false],
    ]);
  });

  test('test - reads the message from standard input, and --json says null for unlimited as show does', () => {
    const h = home();
    const message = readFileSync(join(FIXTURES, 'messages', 'plain.eml'));
    const result = runAdmin(['test', '--home', h, '--to', 'alice@example.com', '--dry-run', '--json', '-'], { env, input: message.toString('latin1') });
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    expect(report.file).toBe('-');
    expect(report.message.size).toBe(message.length);
    const shown = JSON.parse(runAdmin(['show', '--home', h, '--json', 'alice'], { env }).stdout);
    for (const field of ['expiry', 'msgsize', 'msgcount', 'hardquota', 'softquota'])
      expect([field, report.lookup.record[field]]).toEqual([field, shown[field]]);
    expect(report.lookup.record.expiry).toBeNull();
    expect(runAdmin(['test', '--home', h, '--to', 'a@b', '-', '-'], { env }).stderr).toBe('vdeliver-admin: test: standard input (-) can be read only once\n');
  });
});
