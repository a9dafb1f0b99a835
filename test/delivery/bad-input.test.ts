/**
 * Bad input and broken surroundings: a missing or unwritable Maildir, a full disk, hooks that hang
 * or cannot be run, a missing or failing qmail-queue, no control/me, a corrupt password table,
 * odd messages and hostile local parts. Every run is the built bin/vdeliver started the way
 * qmail-local starts it, in a fresh home, and every case checks the same things:
 *   - the exact exit code;
 *   - the report: nothing on a silent delivery, otherwise exactly one `vdeliver: ` line, ending in
 *     ` (#4.x.x)` on a deferral and ` (#5.x.x)` on a bounce (so never a stack trace);
 *   - no file left in any Maildir's tmp/, and new/ holding exactly what was delivered;
 *   - no spool or envelope file left behind in $TMPDIR (each run gets its own).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { makeHome, maildirFiles, homeEnv, queueCalls, type ProgramRun, runVdeliver, type TestHome, VDELIVER } from '../helpers/home';
import { isRoot, NOBODY } from '../helpers/requirements.cjs';
import { needs } from '../helpers/requires';

const dir = scratchDir('vdeliver-bad-input-');
// The unprivileged-user case runs vdeliver as nobody, who must be able to reach its home.
chmodSync(dir.path, 0o711);

const SENDER = 'sender@remote.example';
const MESSAGE = Buffer.from(
  'Received: (qmail 4242 invoked by uid 1009); 22 Nov 2026 03:25:00 -0000\n' +
    'From: sender@remote.example\nTo: alice@example.com\nSubject: bad input\n\nHello, Alice.\n',
);
const SHORT_READ_QUEUE = join(ROOT, 'test', 'doubles', 'qmail-queue-short-read');
const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------
// Homes, runs and the checks every case makes

let homes = 0;
/** A fresh base-user home for one case, with its own $TMPDIR. */
function freshHome(label: string): TestHome {
  const t = makeHome(join(dir.path, `${++homes}-${label.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`));
  mkdirSync(tmpDir(t));
  return t;
}
const tmpDir = (t: TestHome): string => join(t.root, 'tmpdir');

/** qmail-local's environment for `<ext>@example.com`, plus this home's $TMPDIR and the case's own variables. */
const deliveryEnv = (t: TestHome, ext: string, extra: Record<string, string> = {}): Record<string, string> => ({
  ...homeEnv(t, ext, SENDER),
  TMPDIR: tmpDir(t),
  ...extra,
});

/** What vdeliver must store: qmail-local's Return-Path and Delivered-To lines, then the message untouched. */
const storedCopy = (env: Record<string, string>, message: Buffer): Buffer => Buffer.concat([Buffer.from(env.RPLINE), Buffer.from(env.DTLINE), message]);

type Exit = 0 | 99 | 100 | 111;

/** The exit code and the report: silent (no `line`) or exactly one `vdeliver: ` line matching `line`. */
function expectReport(result: ProgramRun, exit: Exit, line?: RegExp): void {
  expect({ exit: result.status, output: result.output }).toEqual({ exit, output: line ? expect.stringMatching(line) : '' });
  if (!line) return;
  expect(result.output).toMatch(/^vdeliver: [^\n]*\n$/);
  if (exit === 100) expect(result.output).toMatch(/ \(#5\.\d+\.\d+\)\n$/);
  if (exit === 111) expect(result.output).toMatch(/ \(#4\.\d+\.\d+\)\n$/);
}

/** No tmp/ file anywhere, nothing left in $TMPDIR, and new/ holds exactly `stored` (if given) in `storedIn`. */
function expectMaildirs(t: TestHome, storedIn?: string, stored?: Buffer): void {
  const files = maildirFiles(t);
  expect(files.filter((f) => /(^|\/)tmp\/[^/]+$/.test(f.path)).map((f) => f.path)).toEqual([]);
  const fresh = files.filter((f) => /(^|\/)new\/[^/]+$/.test(f.path));
  expect(fresh.map((f) => dirname(dirname(f.path)))).toEqual(storedIn ? [storedIn] : []);
  if (stored && fresh.length === 1) expect(digest(fresh[0].content)).toEqual(digest(stored));
  expect(readdirSync(tmpDir(t))).toEqual([]);
}

/** Size and sha256, so a mismatch in a large message prints two short lines instead of two dumps. */
const digest = (bytes: Buffer): { size: number; sha256: string } => ({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });

function writeHook(t: TestHome, name: 'vdeliver-predeliver' | 'vdeliver-postdeliver', body: string | Buffer, mode = 0o755): void {
  const path = join(t.home, '.vmailmgr', name);
  writeFileSync(path, body);
  chmodSync(path, mode);
}

const setConfig = (t: TestHome, item: string, value: string): void => writeFileSync(join(t.home, '.vmailmgr', item), `${value}\n`);

/** A text message of about `size` bytes: a header, then numbered lines. */
function textMessage(size: number): Buffer {
  const header = 'From: sender@remote.example\nTo: info@example.com\nSubject: a large message\n\n';
  const body = Buffer.alloc(size - header.length, 'All work and no play makes a large test message.\n');
  return Buffer.concat([Buffer.from(header), body]);
}

/** Deterministic bytes that do not form a cdb (or anything else). */
function garbage(size: number): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0, seed = Buffer.from('vdeliver bad input'); i * 32 < size; i++) chunks.push((seed = createHash('sha256').update(seed).digest()));
  return Buffer.concat(chunks).subarray(0, size);
}

/** Every entry under `root`, relative to it (directories with a trailing slash). */
function tree(root: string): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      found.push(relative(root, full) + (entry.isDirectory() ? '/' : ''));
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(root);
  return found.sort();
}

// ---------------------------------------------------------------------------------------------
// The table: one fresh home per case, one run, the common checks

interface Case {
  name: string;
  /** The virtual user (EXT); alice unless said. */
  ext?: string;
  message?: Buffer;
  stdin?: 'file' | 'pipe';
  /** Break the home; return extra variables for the run. */
  setup?: (t: TestHome) => Record<string, string> | void;
  exit: Exit;
  /** The one report line; omitted for a silent delivery. */
  line?: RegExp;
  /** The Maildir (relative to $HOME) that must end up with one copy: RPLINE + DTLINE + message. */
  storedIn?: string;
  /** How many times the recording qmail-queue must have run, where it matters. */
  queued?: number;
  /**
   * Wall-clock limit for the whole run, in seconds: until vdeliver has exited *and* the report
   * pipe is closed, because qmail-spawn holds the delivery slot until it sees EOF on that pipe.
   */
  within?: number;
  /**
   * The hook's own output may come first: hooks write straight into qmail's report, by design
   * (spec §6), and a hook file without `#!` is run by /bin/sh (execvp, as vmailmgr does), which
   * complains about garbage. vdeliver's own line must still be exactly one line, and the last.
   */
  hookMayPrint?: boolean;
}

function runCase(c: Case): void {
  const t = freshHome(c.name);
  const env = deliveryEnv(t, c.ext ?? 'alice', c.setup?.(t) ?? {});
  const message = c.message ?? MESSAGE;
  const started = Date.now();
  const result = runVdeliver(t, env, [], message, c.stdin ?? 'file');
  const seconds = (Date.now() - started) / 1000;

  if (c.hookMayPrint) {
    const lines = result.output.split('\n').slice(0, -1);
    expect(lines.filter((l) => l.startsWith('vdeliver')).length).toBe(1);
    expectReport({ ...result, output: `${lines[lines.length - 1]}\n` }, c.exit, c.line);
  } else {
    expectReport(result, c.exit, c.line);
  }
  expectMaildirs(t, c.storedIn, c.storedIn ? storedCopy(env, message) : undefined);
  if (c.queued !== undefined) expect(queueCalls(t)).toHaveLength(c.queued);
  if (c.within !== undefined) expect(seconds).toBeLessThan(c.within);
}

const TABLE_DEFER = /^vdeliver: cannot read the password table .*\/home\/passwd\.cdb: .+ \(#4\.3\.0\)\n$/;
const FIVE_MIB = textMessage(5 * MiB);
/** Every byte value, NULs, CRLF line ends, and no final newline. */
const EVERY_BYTE = Buffer.concat([
  Buffer.from('From: sender@remote.example\r\nSubject: =?utf-8?q?every_byte?=\r\nX-Nul: a\0b\r\n\r\n'),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from('\r\n\0\0\r\n'),
  Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)),
]);

const groups: Array<[string, Case[]]> = [
  [
    'the Maildir',
    [
      {
        name: 'the Maildir is missing entirely',
        setup: (t) => rmSync(join(t.home, 'users', 'alice'), { recursive: true }),
        exit: 111,
        line: /^vdeliver: Destination directory does not appear to be a maildir\. \(#4\.2\.1\)\n$/,
      },
    ],
  ],
  [
    'hooks',
    [
      {
        name: 'a predeliver hook that hangs is killed after vdeliver-hook-timeout',
        within: 10,
        setup: (t) => {
          setConfig(t, 'vdeliver-hook-timeout', '1');
          writeHook(t, 'vdeliver-predeliver', '#!/bin/sh\nsleep 30\n');
        },
        exit: 111,
        line: /^vdeliver: Execution of vdeliver-predeliver failed: .*\/vdeliver-predeliver timed out and was killed \(#4\.3\.0\)\n$/,
      },
      {
        name: 'a postdeliver hook that hangs is killed; the message stays delivered',
        within: 10,
        setup: (t) => {
          setConfig(t, 'vdeliver-hook-timeout', '1');
          writeHook(t, 'vdeliver-postdeliver', '#!/bin/sh\nsleep 30\n');
        },
        exit: 0,
        line: /^vdeliver: warning: vdeliver-postdeliver .*\/vdeliver-postdeliver timed out and was killed\n$/,
        storedIn: 'users/alice',
      },
      {
        name: 'a predeliver hook with mode 0644 is not a hook (it would bounce if run)',
        setup: (t) => writeHook(t, 'vdeliver-predeliver', '#!/bin/sh\nexit 100\n', 0o644),
        exit: 0,
        storedIn: 'users/alice',
      },
      {
        name: 'a predeliver hook with mode 0755 that is binary garbage defers',
        hookMayPrint: true,
        setup: (t) => writeHook(t, 'vdeliver-predeliver', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0xff, 0xfe]), garbage(512)])),
        exit: 111,
        line: /^vdeliver: Execution of vdeliver-predeliver failed: .*\/vdeliver-predeliver .+ \(#4\.3\.0\)\n$/,
      },
    ],
  ],
  [
    'qmail-queue and control/me',
    [
      {
        name: "qmail-queue is missing: bob's staged Maildir copy is discarded",
        ext: 'bob',
        setup: (t) => ({ QMAILQUEUE: join(t.root, 'no-such-dir', 'qmail-queue') }),
        exit: 111,
        line: /^vdeliver: qmail-queue exited with an error! cannot run .*\/no-such-dir\/qmail-queue: ENOENT \(#4\.3\.0\)\n$/,
      },
      {
        name: 'qmail-queue reads 10 bytes of a 5 MiB message and exits 0',
        ext: 'info',
        message: FIVE_MIB,
        setup: () => ({ QMAILQUEUE: SHORT_READ_QUEUE }),
        exit: 111,
        line: /^vdeliver: qmail-queue exited with an error! qq read error \(#4\.3\.0\)\n$/,
      },
      {
        name: 'qmail-queue reads 10 bytes of a small message and exits 0 (the copy is handed over as a file)',
        ext: 'info',
        setup: () => ({ QMAILQUEUE: SHORT_READ_QUEUE }),
        exit: 111,
        line: /^vdeliver: qmail-queue exited with an error! qq read error \(#4\.3\.0\)\n$/,
      },
      {
        name: 'qmail-queue reads 10 bytes of a 5 MiB message and is killed',
        ext: 'info',
        message: FIVE_MIB,
        setup: () => ({ QMAILQUEUE: SHORT_READ_QUEUE, QQ_SHORT_READ: 'kill' }),
        exit: 111,
        line: /^vdeliver: qmail-queue exited with an error! qq crashed \(#4\.3\.0\)\n$/,
      },
      {
        name: 'control/me is missing and fwdonly forwards to user@',
        ext: 'fwdonly',
        queued: 0,
        setup: (t) => rmSync(join(t.qmailRoot, 'control', 'me')),
        exit: 111,
        line: /^vdeliver: control\/me is empty! \(#4\.3\.0\)\n$/,
      },
      {
        name: 'qmail-queue exits 11 (permanent): bounce',
        ext: 'info',
        queued: 1,
        setup: () => ({ QQ_EXIT: '11' }),
        exit: 100,
        line: /^vdeliver: qmail-queue exited with an error! envelope address too long for qq \(#5\.1\.3\)\n$/,
      },
      {
        name: 'qmail-queue exits 53 (temporary): defer',
        ext: 'info',
        queued: 1,
        setup: () => ({ QQ_EXIT: '53' }),
        exit: 111,
        line: /^vdeliver: qmail-queue exited with an error! qq write error or disk full \(#4\.3\.0\)\n$/,
      },
      {
        name: 'qmail-queue exits 82 with "Dno thanks" on fd 6: bounce with its words',
        ext: 'info',
        queued: 1,
        setup: () => ({ QQ_EXIT: '82', QQ_FD6_MESSAGE: 'Dno thanks' }),
        exit: 100,
        line: /^vdeliver: qmail-queue exited with an error! no thanks\b.*\n$/,
      },
    ],
  ],
  [
    'the message',
    [
      { name: 'stdin is a pipe', stdin: 'pipe', exit: 0, storedIn: 'users/alice' },
      { name: 'a 0-byte message', message: Buffer.alloc(0), exit: 0, storedIn: 'users/alice' },
      { name: 'NULs, CRLF and every 8-bit byte', message: EVERY_BYTE, exit: 0, storedIn: 'users/alice' },
    ],
  ],
  [
    'the password table',
    [
      { name: 'passwd.cdb is 0 bytes', setup: (t) => writeFileSync(join(t.home, 'passwd.cdb'), ''), exit: 111, line: TABLE_DEFER },
      { name: 'passwd.cdb is truncated to 3000 bytes', setup: (t) => truncateSync(join(t.home, 'passwd.cdb'), 3000), exit: 111, line: TABLE_DEFER },
      { name: 'passwd.cdb is garbage', setup: (t) => writeFileSync(join(t.home, 'passwd.cdb'), garbage(4096)), exit: 111, line: TABLE_DEFER },
    ],
  ],
];

describe.each(groups)('%s', (_group, cases) => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => runCase(c), 90000);
});

// ---------------------------------------------------------------------------------------------
// Cases that need more than a table row

describe('the Maildir', () => {
  unprivilegedTest('tmp/ is not writable (vdeliver runs as an unprivileged user): defer, nothing stored', () => {
    const wrapper = unprivileged();
    const t = freshHome('tmp-read-only');
    if (isRoot()) chownTree(t.root, NOBODY, NOBODY);
    const tmp = join(t.home, 'users', 'alice', 'tmp');
    if (isRoot()) chownSync(tmp, 0, 0);
    chmodSync(tmp, 0o555);
    const result = runVdeliverAs(wrapper, t, deliveryEnv(t, 'alice'), MESSAGE);
    expectReport(result, 111, /^vdeliver: Error creating the output file\. EACCES\b.* \(#4\.3\.0\)\n$/);
    expectMaildirs(t);
  });

  needs('mount')('the file system is full (64 KiB tmpfs, 200 KiB message): defer, nothing stored', () => {
    const t = freshHome('full-disk');
    const maildir = join(t.home, 'users', 'alice');
    mount(maildir);
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(maildir, sub));
    const result = runVdeliver(t, deliveryEnv(t, 'alice'), [], textMessage(200 * KiB));
    expectReport(result, 111, /^vdeliver: Error writing the output file\. ENOSPC\b.* \(#4\.3\.0\)\n$/);
    expectMaildirs(t);
  });
});

describe('hostile local parts with no catch-all (default-username names nobody)', () => {
  test.each([
    ['../x', '../x'],
    ['a newline', 'a\nb'],
    ['10,000 characters', 'x'.repeat(10000)],
  ])('%s: bounce in one short line, no file created', (label, ext) => {
    const t = freshHome(`ext-${label}`);
    setConfig(t, 'default-username', 'no-such-default');
    const before = tree(t.home);
    const result = runVdeliver(t, deliveryEnv(t, ext), [], MESSAGE);
    expectReport(result, 100, /^vdeliver: Invalid or unknown virtual user '.*' \(#5\.1\.1\)\n$/);
    expect(Buffer.byteLength(result.output)).toBeLessThan(3000);
    expect(tree(t.home)).toEqual(before);
    expect(queueCalls(t)).toEqual([]);
    expectMaildirs(t);
  });
});

describe('the message', () => {
  test('a 64 MiB message is stored byte for byte', () => {
    const t = freshHome('64-mib');
    const env = deliveryEnv(t, 'alice');
    const header = Buffer.from('From: sender@remote.example\nTo: alice@example.com\nSubject: 64 MiB\n\n');
    const message = Buffer.concat([header, randomBytes(64 * MiB - header.length)]);
    const expected = createHash('sha256').update(env.RPLINE).update(env.DTLINE).update(message).digest('hex');
    const size = Buffer.byteLength(env.RPLINE) + Buffer.byteLength(env.DTLINE) + message.length;

    expectReport(runVdeliver(t, env, [], message), 0);
    // Checked without reading the Maildir copy into memory next to the original.
    const files = tree(t.home).filter((p) => /(^|\/)(tmp|new|cur)\/[^/]+$/.test(p));
    expect(files).toEqual([expect.stringMatching(/^users\/alice\/new\/[^/]+$/)]);
    expect(fileDigest(join(t.home, files[0]))).toEqual({ size, sha256: expected });
    expect(readdirSync(tmpDir(t))).toEqual([]);
  }, 120000);
});

// ---------------------------------------------------------------------------------------------
// Regressions found in review

describe('regressions', () => {
  unprivilegedTest('postdeliver when fd 0 cannot be reopened through /proc: a private copy, delivered once, exit 0', () => {
    const wrapper = unprivileged();
    const t = freshHome('no-proc-reopen');
    writeHook(t, 'vdeliver-postdeliver', `#!/bin/sh\ncat > '${join(t.root, 'hook.stdin')}'\n`);
    if (isRoot()) chownTree(t.root, NOBODY, NOBODY);
    // The queue file is qmailq's: readable through the descriptor qmail-local hands over, not by path.
    const env = deliveryEnv(t, 'alice');
    const result = runVdeliverAs(wrapper, t, env, MESSAGE, isRoot() ? 0o600 : 0o000);
    expectReport(result, 0);
    expectMaildirs(t, 'users/alice', storedCopy(env, MESSAGE));
    expect(readFileSync(join(t.root, 'hook.stdin')).equals(MESSAGE)).toBe(true);
  });

  unprivilegedTest('a global config directory vdeliver cannot search defers, naming the file and errno (decision 13: fail closed)', () => {
    const wrapper = unprivileged();
    const t = freshHome('unsearchable-global');
    if (isRoot()) chownTree(t.root, NOBODY, NOBODY);
    if (isRoot()) chownSync(t.globalDir, 0, 0);
    chmodSync(t.globalDir, 0o700);
    const env = deliveryEnv(t, 'alice');
    // Whether it holds a hook or a catch-all setting cannot be known: guessing "nothing" misroutes mail.
    expectReport(runVdeliverAs(wrapper, t, env, MESSAGE), 111, /^vdeliver: cannot read [^ ]*\/etc\/[a-z-]+: EACCES \(permission denied\) \(#4\.3\.5\)\n$/);
    expectMaildirs(t);
  });

  test('a $TMPDIR that cannot be written: hooks and forwards run through pipes instead, and the message is delivered', () => {
    const t = freshHome('tmpdir-missing');
    writeHook(t, 'vdeliver-predeliver', '#!/bin/sh\necho checked by the hook\ncat >/dev/null\n');
    const env = deliveryEnv(t, 'bob', { TMPDIR: join(t.root, 'no-such-tmpdir') });
    expect(runVdeliver(t, env, [], MESSAGE)).toEqual({ status: 0, output: 'checked by the hook\n' });
    expectMaildirs(t, 'users/bob', storedCopy(env, MESSAGE));
    expect(queueCalls(t).map((call) => call.message.equals(Buffer.concat([Buffer.from(env.DTLINE), MESSAGE])))).toEqual([true]);
  });

  test.each(['-', '0'])('vdeliver-hook-timeout %p means no limit (not a 1 ms timer)', (value) => {
    const t = freshHome(`timeout-${value}`);
    writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-hook-timeout'), `${value}\n`);
    writeHook(t, 'vdeliver-predeliver', '#!/bin/sh\nsleep 1\nexit 0\n');
    const env = deliveryEnv(t, 'alice');
    expectReport(runVdeliver(t, env, [], MESSAGE), 0);
    expectMaildirs(t, 'users/alice', storedCopy(env, MESSAGE));
  });

  test("a hook whose background child keeps the output pipe open does not hold qmail's delivery slot", () => {
    const t = freshHome('hook-background-child');
    const late = join(t.root, 'background-child-finished');
    // The child inherits the hook's stdout and outlives it by far.
    writeHook(t, 'vdeliver-predeliver', `#!/bin/sh\necho checked by the hook\n(sleep 3; touch '${late}') &\ncat >/dev/null\nexit 0\n`);
    const env = deliveryEnv(t, 'alice');
    const result = runVdeliver(t, env, [], MESSAGE);
    // runVdeliver returns when the last writer of its pipe closes it: the background child must not be one.
    expect(existsSync(late)).toBe(false);
    expect(result).toEqual({ status: 0, output: 'checked by the hook\n' });
    expectMaildirs(t, 'users/alice', storedCopy(env, MESSAGE));
  });

  test('a missing control/me is raised after the predeliver hook, whose 99 stands (as vmailmgr orders it)', () => {
    const t = freshHome('control-me-after-hooks');
    rmSync(join(t.qmailRoot, 'control', 'me'));
    writeHook(t, 'vdeliver-predeliver', '#!/bin/sh\ncat >/dev/null\nexit 99\n');
    expectReport(runVdeliver(t, deliveryEnv(t, 'postmaster'), [], MESSAGE), 99);
    expectMaildirs(t);
    expect(queueCalls(t)).toEqual([]);
  });

  needs('strace')('EDQUOT linking into new/ after the forwards were queued defers (deviation 14), nothing stored twice', () => {
    const t = freshHome('edquot-after-forward');
    const env = deliveryEnv(t, 'bob');
    const messagePath = join(t.root, 'message');
    writeFileSync(messagePath, MESSAGE);
    const fd = openSync(messagePath, 'r');
    // link(2) runs once per delivery, for the commit into new/: it is the call that gets EDQUOT.
    const result = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=link', '-e', 'inject=link:error=EDQUOT:when=1', VDELIVER], {
      cwd: t.home,
      env,
      stdio: [fd, 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    closeSync(fd);
    expectReport(
      { status: result.status, output: result.stdout + result.stderr },
      111,
      /^vdeliver: Delivery failed due to system quota violation; the forwarded copies are queued already \(#4\.2\.2\)\n$/,
    );
    expect(queueCalls(t)).toHaveLength(1);
    expectMaildirs(t);
  });

  test('an absolute password-file is used as it is, not under $HOME', () => {
    const t = freshHome('absolute-password-file');
    renameSync(join(t.home, 'passwd.cdb'), join(t.root, 'elsewhere.cdb'));
    writeFileSync(join(t.home, '.vmailmgr', 'password-file'), `${join(t.root, 'elsewhere')}\n`);
    const env = deliveryEnv(t, 'alice');
    expectReport(runVdeliver(t, env, [], MESSAGE), 0);
    expectMaildirs(t, 'users/alice', storedCopy(env, MESSAGE));
  });
});

// ---------------------------------------------------------------------------------------------
// Running as an unprivileged user, and a tiny file system

/**
 * Tests that run vdeliver as an unprivileged user (root ignores the read-only tmp/): as root they
 * need setpriv to drop to nobody; as anyone else they run as that user.
 */
function unprivilegedTest(name: string, fn: () => void): void {
  (isRoot() ? needs('setpriv') : test)(name, fn);
}

/** The command that drops root before the shell starts; not root: nothing to drop. */
function unprivileged(): string[] {
  return isRoot() ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : [];
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

/** runVdeliver, with the shell that runs vdeliver started through `wrapper` (e.g. setpriv). */
function runVdeliverAs(wrapper: string[], t: TestHome, env: Record<string, string>, message: Buffer, messageMode = 0o644): ProgramRun {
  const messagePath = join(t.root, 'message');
  writeFileSync(messagePath, message);
  chmodSync(messagePath, messageMode);
  const fd = openSync(messagePath, 'r');
  try {
    const argv = [...wrapper, '/bin/sh', '-c', 'umask 077; exec /bin/sh -c "$0" 2>&1', `'${VDELIVER}'`];
    const result = spawnSync(argv[0], argv.slice(1), { cwd: env.HOME, env, stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 60000 });
    return { status: result.status, output: result.stdout };
  } finally {
    closeSync(fd);
  }
}

const mounts: string[] = [];
function mount(path: string): void {
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`mount tmpfs on ${path}: ${result.stderr}`);
  mounts.push(path);
}

afterAll(() => {
  for (const path of mounts) spawnSync('umount', [path]);
  dir.cleanup();
});

/** Size and sha256 of a file, read in 1 MiB blocks. */
function fileDigest(path: string): { size: number; sha256: string } {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(MiB);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, size)) > 0; size += n) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}
