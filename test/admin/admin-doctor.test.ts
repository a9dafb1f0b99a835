import { execaSync } from 'execa';
import {
  chmodSync,
  cpSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { writeCdb } from '../../src/cdb/cdb-writer';
import { encodePasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { dirname, join } from 'node:path';
import { basicRecords, ROOT, scratchDir, VMAILMGR } from '../helpers/fixtures';
import { checkProgramLine, type LineSetting, QMAIL_PATH } from '../../src/admin/program-line';
import { homeEnv, makeHome, qmailLocalExit, type TestHome } from '../helpers/home';
import type { Check } from '../../src/admin/checks';
import { needs } from '../helpers/requires';
import { isRoot, NOBODY } from '../helpers/requirements.cjs';
import { BIN, cleanEnv, runAdmin } from '../helpers/run';

const dir = scratchDir('vdeliver-doctor-');
afterAll(() => dir.cleanup());
// Doctor runs as nobody in some cases below, and nobody must be able to reach the homes.
chmodSync(dir.path, 0o711);

let homes = 0;
/** A healthy base-user setup: the basic table, every Maildir, .qmail-default, a qmail root. */
function healthyHome(): TestHome {
  const t = makeHome(join(dir.path, `home-${++homes}`));
  // makeHome joins the record's directory as text; the Maildir belongs at its exact bytes (jörg's are UTF-8).
  for (const { directory } of basicRecords()) for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(t.home, directory, sub), { recursive: true });
  writeFileSync(join(t.home, '.qmail-default'), `|${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')}\n`);
  chmodSync(join(t.home, '.qmail-default'), 0o644);
  chmodSync(t.home, 0o755);
  return t;
}

function doctor(t: TestHome): { status: number | null; lines: string[] } {
  const result = runAdmin(['doctor', '--home', t.home], { env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }) });
  expect(result.stderr).toBe('');
  return { status: result.status, lines: result.stdout.trim().split('\n') };
}

/** The real basic table plus one record with an unknown version byte. */
function addCorruptRecord(path: string): void {
  const reader = CdbReader.open(join(VMAILMGR, 'basic', 'passwd.cdb'));
  const records = [...reader.records()].map((r): [Buffer, Buffer] => [r.key, r.data]);
  reader.close();
  writeCdb(path, [...records, [Buffer.from('broken'), Buffer.from('0300', 'hex')]], { hash: 'signed' });
}

const failures = (lines: string[]): string[] => lines.filter((l) => l.startsWith('fail'));

test('a healthy setup passes with no failure', () => {
  const { status, lines } = doctor(healthyHome());
  expect(failures(lines)).toEqual([]);
  expect(status).toBe(0);
  expect(lines).toContain("ok   catch-all '+' exists: unknown names go there");
});

test.each<[string, (t: TestHome) => void, RegExp]>([
  ['.qmail-default is missing', (t) => unlinkSync(join(t.home, '.qmail-default')), /^fail .*\.qmail-default does not exist/],
  [
    '.qmail-default does not call vdeliver',
    (t) => writeFileSync(join(t.home, '.qmail-default'), '|/usr/bin/procmail\n'),
    /^fail \.qmail-default does not run vdeliver/,
  ],
  [
    '.qmail-default names a program that is not there',
    (t) => writeFileSync(join(t.home, '.qmail-default'), '|/nonexistent/bin/vdeliver\n'),
    /^fail \/nonexistent\/bin\/vdeliver does not exist \(or the base user cannot reach it\): every delivery exits 127 \(fix: sed -i '1c \|\/.*\/node \/.*\/dist\/vdeliver\.cjs' .*\/\.qmail-default\)$/,
  ],
  [
    '.qmail-default names a program the base user cannot execute',
    (t) => {
      writeFileSync(join(t.root, 'vdeliver'), '#!/bin/sh\n', { mode: 0o644 });
      writeFileSync(join(t.home, '.qmail-default'), `|${join(t.root, 'vdeliver')}\n`);
    },
    /^fail .*\/vdeliver cannot be executed by the base user: every delivery exits 126 \(fix: chmod a\+rx .*\/vdeliver\)$/,
  ],
  [
    '.qmail-default gives vdeliver an option it does not know',
    (t) => writeFileSync(join(t.home, '.qmail-default'), `|${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')} --bogus\n`),
    /^fail \.qmail-default gives vdeliver unknown option string: '--bogus': every delivery defers/,
  ],
  ['.qmail-default is world-writable', (t) => chmodSync(join(t.home, '.qmail-default'), 0o666), /^fail \.qmail-default is group- or world-writable \(0666\)/],
  ['.qmail-default has the execute bit', (t) => chmodSync(join(t.home, '.qmail-default'), 0o744), /^fail \.qmail-default has the execute bit/],
  ['the home is world-writable', (t) => chmodSync(t.home, 0o777), /^fail home .* is world-writable \(0777\)/],
  ['the home is sticky', (t) => chmodSync(t.home, 0o1755), /^fail home .* is sticky/],
  [
    'a config number is not a number',
    (t) => writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-hook-timeout'), 'soon\n'),
    /^fail .*vdeliver-hook-timeout: 'soon' is not a number/,
  ],
  ['a config item cannot be read', (t) => mkdirSync(join(t.globalDir, 'password-file')), /^fail .*password-file cannot be read \(EISDIR\)/],
  ['the password table is missing', (t) => unlinkSync(join(t.home, 'passwd.cdb')), /^fail password table .*passwd\.cdb: .*every delivery defers/],
  ['a record cannot be decoded', (t) => addCorruptRecord(join(t.home, 'passwd.cdb')), /^fail record 'broken' cannot be decoded/],
  [
    'a mailbox is not a Maildir',
    (t) => rmSync(join(t.home, 'users', 'carol', 'new'), { recursive: true }),
    /^fail carol: \.\/users\/carol is not a Maildir \(no new\)/,
  ],
  [
    'a Maildir belongs to someone else',
    (t) => chownSync(join(t.home, 'users', 'bob', 'new'), 65534, 65534),
    /^fail bob: \.\/users\/bob\/new is not owned by the base user/,
  ],
  ['qmail-queue is missing', (t) => unlinkSync(join(t.qmailRoot, 'bin', 'qmail-queue')), /^fail qmail-queue .* is missing or not executable/],
  [
    'control/me is missing while a forward ends in @',
    (t) => unlinkSync(join(t.qmailRoot, 'control', 'me')),
    /^fail .*control\/me is missing or empty: forwards ending in @ defer/,
  ],
  ['a hook is a directory', (t) => mkdirSync(join(t.home, '.vmailmgr', 'vdeliver-predeliver')), /^fail hook .*vdeliver-predeliver is not a regular file/],
])('%s: caught, with a fix, exit 1', (_what, breakIt, line) => {
  const t = healthyHome();
  breakIt(t);
  const { status, lines } = doctor(t);
  expect(status).toBe(1);
  expect(failures(lines)).toEqual([expect.stringMatching(line)]);
});

test('warnings do not fail: a hook without execute bit, no catch-all by default', () => {
  const t = healthyHome();
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-postdeliver'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(t.home, '.vmailmgr', 'vdeliver-postdeliver'), 0o644);
  const { status, lines } = doctor(t);
  expect(status).toBe(0);
  expect(lines).toContainEqual(expect.stringMatching(/^warn hook .*vdeliver-postdeliver has no execute bit: it is silently skipped/));
});

test('doctor agrees with delivery: a Maildir without cur/ takes mail (vmailmgr checks tmp/ and new/), so it is a warning', () => {
  const t = healthyHome();
  rmSync(join(t.home, 'users', 'carol', 'cur'), { recursive: true });
  const { status, lines } = doctor(t);
  expect(status).toBe(0);
  expect(lines).toContainEqual(expect.stringMatching(/^warn carol: \.\/users\/carol has no cur\/: mail is delivered, but Maildir readers expect it/));
});

test('a lock left by an interrupted table edit is pointed out', () => {
  const t = healthyHome();
  writeFileSync(join(t.home, 'passwd.cdb.tmp'), '');
  const { status, lines } = doctor(t);
  expect(status).toBe(0);
  expect(lines).toContainEqual(expect.stringMatching(/^warn .*passwd\.cdb\.tmp exists .*: table edits are blocked/));
});

test('a catch-all that is deliberately absent is fine', () => {
  const t = healthyHome();
  writeFileSync(join(t.home, '.vmailmgr', 'default-username'), 'nobody-at-all\n');
  const { status, lines } = doctor(t);
  expect(status).toBe(0);
  expect(lines).toContain("ok   no catch-all: default-username 'nobody-at-all' names no user, so unknown names bounce");
});

/** Every file and directory under `root` (symlinks themselves) to uid/gid. */
function chownTree(root: string, uid: number, gid: number): void {
  lchownSync(root, uid, gid);
  if (!lstatSync(root).isDirectory()) return;
  for (const name of readdirSync(root)) chownTree(join(root, name), uid, gid);
}

/**
 * Doctor as the base user runs it. Root reads and searches everything, so as root the setup is
 * handed to nobody and doctor runs as nobody; otherwise it runs as ourselves, the owner.
 */
function doctorAsBaseUser(t: TestHome): { status: number | null; lines: string[] } {
  if (isRoot()) chownTree(t.root, NOBODY, NOBODY);
  const result = execaSync(join(BIN, 'vdeliver-admin'), ['doctor', '--home', t.home], {
    env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }),
    extendEnv: false,
    reject: false,
    ...(isRoot() ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  expect(result.stderr).toBe('');
  return { status: result.exitCode ?? null, lines: result.stdout.trim().split('\n') };
}

describe('what the base user cannot read or search is a failure with its fix, not an internal error', () => {
  test('the healthy setup, seen by its owner, has no failure', () => {
    const { status, lines } = doctorAsBaseUser(healthyHome());
    expect(failures(lines)).toEqual([]);
    expect(status).toBe(0);
  });

  test.each<[string, (t: TestHome) => void, RegExp]>([
    [
      '.qmail-default cannot be read',
      (t) => chmodSync(join(t.home, '.qmail-default'), 0o000),
      /^fail \/.*\/home\/\.qmail-default cannot be read \(EACCES\): qmail-local defers every delivery \(fix: chmod 644 \/.*\/home\/\.qmail-default\)$/,
    ],
    [
      '.qmail-default is a directory',
      (t) => {
        unlinkSync(join(t.home, '.qmail-default'));
        mkdirSync(join(t.home, '.qmail-default'));
      },
      /^fail .*\.qmail-default cannot be read \(EISDIR\)/,
    ],
    [
      'the home cannot be searched',
      (t) => chmodSync(t.home, 0o600),
      /^fail home \/.*\/home cannot be searched \(0600\): qmail-local cannot enter it and defers every delivery; nothing in it can be checked \(fix: chmod u\+rx \/.*\/home\)$/,
    ],
    [
      '.vmailmgr cannot be searched',
      (t) => {
        renameSync(join(t.home, '.vmailmgr', 'qmail-root'), join(t.globalDir, 'qmail-root'));
        writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-predeliver'), '#!/bin/sh\n');
        chmodSync(join(t.home, '.vmailmgr'), 0o600);
      },
      /^fail config directory \/.*\/home\/\.vmailmgr cannot be searched: vdeliver cannot look at its items and hooks, so every delivery defers \(fix: chmod a\+rx \/.*\/\.vmailmgr\)$/,
    ],
    [
      "the Maildirs' parent users/ cannot be searched",
      (t) => chmodSync(join(t.home, 'users'), 0o600),
      /^fail \/.*\/home\/users cannot be searched: \d+ Maildir\(s\) behind it cannot be reached \(mailer-daemon, postmaster, root, alice, carol and \d+ more\), so their mail defers \(fix: chmod u\+rx \/.*\/home\/users\)$/,
    ],
    [
      'one Maildir cannot be searched',
      (t) => chmodSync(join(t.home, 'users', 'bob'), 0o600),
      /^fail \/.*\/home\/users\/bob cannot be searched: 1 Maildir\(s\) behind it cannot be reached \(bob\), so their mail defers \(fix: chmod u\+rx \/.*\/users\/bob\)$/,
    ],
  ])('%s: one fail line with the fix, exit 1', (_what, breakIt, line) => {
    const t = healthyHome();
    breakIt(t);
    const { status, lines } = doctorAsBaseUser(t);
    expect(failures(lines)).toEqual([expect.stringMatching(line)]);
    expect(status).toBe(1);
  });

  test('a home that cannot be searched stops the checks there', () => {
    const t = healthyHome();
    chmodSync(t.home, 0o600);
    expect(doctorAsBaseUser(t).lines).toEqual([expect.stringMatching(/^fail home .* cannot be searched/)]);
  });
});

test('files left in tmp/ for more than 36 hours are pointed out, and the fix removes just those', () => {
  const t = healthyHome();
  const tmp = join(t.home, 'users', 'alice', 'tmp');
  const hoursAgo = (h: number): number => Date.now() / 1000 - h * 3600;
  for (const [name, atime, mtime] of [
    ['old1', 37, 37],
    ['old2', 100, 40],
    ['fresh', 1, 1],
    ['read-lately', 2, 50],
    ['almost', 35, 35],
  ] as const) {
    writeFileSync(join(tmp, name), 'half a message');
    utimesSync(join(tmp, name), hoursAgo(atime), hoursAgo(mtime));
  }
  const { status, lines } = doctor(t);
  expect(status).toBe(0);
  const stale = lines.filter((l) => l.includes(' in tmp/ '));
  expect(stale).toEqual([
    `warn alice: 2 file(s) in tmp/ older than 36 hours, left by an interrupted delivery; Maildir readers remove them (fix: find ${tmp} -type f -amin +2160 -mmin +2160 -delete)`,
  ]);
  const fix = /\(fix: (.*)\)$/.exec(stale[0])![1];
  expect(execaSync('/bin/sh', ['-c', fix], { reject: false }).exitCode).toBe(0);
  expect(readdirSync(tmp).sort()).toEqual(['almost', 'fresh', 'read-lately']);
  expect(doctor(t).lines.filter((l) => l.includes(' in tmp/ '))).toEqual([]);
});

test('records whose directory leads outside the home, or through a symlink, get a warning each', () => {
  const t = healthyHome();
  const elsewhere = join(t.root, 'elsewhere');
  const users = join(t.home, 'users');
  const maildir = (path: string): void => {
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(path, sub), { recursive: true });
  };
  mkdirSync(join(elsewhere, 'a', 'b'), { recursive: true });
  for (const path of [
    join(elsewhere, 'abs'),
    join(users, 'absin'),
    join(t.root, 'climb'),
    join(t.root, 'hidden'),
    join(users, 'linked-real'),
    join(elsewhere, 'linkout'),
    join(elsewhere, 'a', 'dotdot'),
    join(users, 'fine'),
  ])
    maildir(path);
  // vdeliver's plan resolves `..` by name (users/dotdot), so the Maildir check looks there.
  maildir(join(users, 'dotdot'));
  symlinkSync('linked-real', join(users, 'linked'));
  symlinkSync(join(elsewhere, 'linkout'), join(users, 'linkout'));
  symlinkSync(join(elsewhere, 'a', 'b'), join(users, 'deep'));
  const extra: Array<[string, string]> = [
    ['abs', join(elsewhere, 'abs')],
    ['absin', join(users, 'absin')],
    ['climb', '../climb'],
    ['hidden', './users/../../hidden'],
    ['linked', './users/linked'],
    ['linkout', './users/linkout'],
    // Lexically ./users/dotdot; the kernel goes to the parent of deep's target.
    ['dotdot', './users/deep/../dotdot'],
    ['fine', './users/../users/fine'],
  ];
  const reader = CdbReader.open(join(VMAILMGR, 'basic', 'passwd.cdb'));
  const records = [...reader.records()].map((r): [Buffer, Buffer] => [r.key, r.data]);
  reader.close();
  const record = (directory: string): Buffer =>
    encodePasswordRecord({
      password: '*',
      directory,
      forwards: [],
      personal: '',
      hardquota: UNLIMITED,
      softquota: UNLIMITED,
      msgsize: UNLIMITED,
      msgcount: UNLIMITED,
      ctime: 0,
      expiry: UNLIMITED,
      hasMailbox: true,
      mailboxEnabled: true,
    });
  writeCdb(join(t.home, 'passwd.cdb'), [...records, ...extra.map(([key, directory]): [Buffer, Buffer] => [Buffer.from(key), record(directory)])], {
    hash: 'signed',
  });

  const { status, lines } = doctor(t);
  expect(failures(lines)).toEqual([]);
  expect(status).toBe(0);
  const fix = (key: string): string =>
    `(hint: unless that is deliberate, move the Maildir into the home and give the record its place with vdeliver-admin set ${key} --directory)`;
  expect(lines.filter((l) => / directory .* (leads|goes) /.test(l))).toEqual([
    `warn abs: directory ${join(elsewhere, 'abs')} leads outside the home, to ${join(elsewhere, 'abs')} ${fix('abs')}`,
    `warn climb: directory ../climb leads outside the home, to ${join(t.root, 'climb')} ${fix('climb')}`,
    `warn hidden: directory ./users/../../hidden leads outside the home, to ${join(t.root, 'hidden')} ${fix('hidden')}`,
    `warn linked: directory ./users/linked goes through the symlink ${join(users, 'linked')} (hint: unless that is deliberate, point the record at the real directory)`,
    `warn linkout: directory ./users/linkout leads outside the home through the symlink ${join(users, 'linkout')}, to ${join(elsewhere, 'linkout')} ${fix('linkout')}`,
    `warn dotdot: directory ./users/deep/../dotdot leads outside the home through the symlink ${join(users, 'deep')}, to ${join(elsewhere, 'a', 'dotdot')} ${fix('dotdot')}`,
  ]);
});

test('records with limits that nothing enforces are pointed out, with the fix; enforcement or a vcheckquota hook quiets it', () => {
  const t = healthyHome();
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-enforce-quotas'), '0\n');
  const limited = (lines: string[]): string[] => lines.filter((l) => /limits/.test(l));
  const shown = (home: typeof t): string[] => limited(doctor(home).lines);
  // The basic table's records with limits (msgsize, quotas) exist; with enforcement off and no hook, a warning.
  expect(shown(t)).toEqual([
    expect.stringMatching(
      /^warn \d+ record\(s\) carry limits that nothing enforces \(.*\): neither vdeliver-enforce-quotas nor a vcheckquota predeliver hook \(fix: \(umask 022 && echo 1 > .*\/\.vmailmgr\/vdeliver-enforce-quotas\)\)$/,
    ),
  ]);
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-predeliver'), '#!/bin/sh\nexec /usr/bin/vcheckquota\n', { mode: 0o755 });
  expect(shown(t)).toEqual([expect.stringMatching(/^ok {3}\d+ record\(s\) with limits: .*vdeliver-predeliver runs vcheckquota$/)]);
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-enforce-quotas'), '1\n');
  expect(shown(t)).toEqual([expect.stringMatching(/^ok {3}quotas are enforced for \d+ record\(s\) with limits$/)]);
});

test("the program line as qmail's /bin/sh -c runs it: the shim needs node on qmail's PATH", () => {
  const shim = join(ROOT, 'bin', 'vdeliver');
  const direct = `${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')}`;
  const set = (qmailPath: string): LineSetting => ({ home: ROOT, qmailPath, direct, rewrite: (line) => `rewrite |${line}` });
  expect(checkProgramLine(shim, set('/nonexistent-dir'))).toEqual([
    { status: 'fail', what: expect.stringMatching(/has no node: every delivery exits 127$/), fix: `rewrite |${direct}` },
  ]);
  const found = checkProgramLine(`${shim} -d`, set(dirname(process.execPath)));
  // It works, and the direct line, with the same options, starts faster.
  expect(found).toEqual([expect.objectContaining({ status: 'ok' }), { status: 'warn', what: expect.any(String), fix: `rewrite |${direct} -d` }]);
  expect(checkProgramLine('vdeliver', set('/nonexistent-dir'))).toEqual([
    { status: 'fail', what: expect.stringMatching(/not found on qmail's PATH/), fix: `rewrite |${direct}` },
  ]);
  expect(checkProgramLine(`${process.execPath} /nonexistent/dist/vdeliver.cjs`, set(QMAIL_PATH))).toEqual([
    { status: 'fail', what: expect.stringMatching(/cannot read: every delivery defers$/), fix: `rewrite |${direct}` },
  ]);
  // Relative to the home, as qmail-local's /bin/sh -c runs it there.
  expect(checkProgramLine(`${process.execPath} dist/vdeliver.cjs -d --quiet`, set(QMAIL_PATH)).map((c) => c.status)).toEqual(['ok']);
  // A refused option is dropped from the line, the others kept.
  expect(checkProgramLine(`${direct} -d --bogus -x --quiet`, set(QMAIL_PATH))).toEqual([
    expect.objectContaining({ status: 'ok' }),
    { status: 'fail', what: ".qmail-default gives vdeliver unknown option string: '--bogus': every delivery defers", fix: `rewrite |${direct} -d --quiet` },
  ]);
});

/*
 * The issue's cases, as root with a base user who is not: doctor run as root must see what a
 * delivery run as the base user sees (it runs its checks as the home's owner), and each fix,
 * pasted as printed into a root shell, must make that delivery work.
 */
describe('run as root, doctor sees what qmail sees for a base user who is not root', () => {
  const rootTest = needs('root', 'setpriv');
  const message = join(ROOT, 'fixtures', 'vmailmgr', 'behaviour', 'messages', 'standard.eml');
  /** A PATH qmail may give its children without node (/usr/bin) in it, as in the issue. */
  const NO_NODE_PATH = '/var/qmail/bin:/usr/local/bin';
  // By its path: the delivery's PATH may not lead to it.
  const SETPRIV = isRoot() ? execaSync('/bin/sh', ['-c', 'command -v setpriv'], { reject: false }).stdout : 'setpriv';

  interface Seen {
    status: number | undefined;
    checks: Check[];
  }

  /** A healthy setup owned by nobody: the base user. */
  function nobodysHome(): TestHome {
    const t = healthyHome();
    chownTree(t.root, NOBODY, NOBODY);
    return t;
  }

  function doctorAsRoot(t: TestHome, args: string[] = []): Seen {
    const result = execaSync(join(BIN, 'vdeliver-admin'), ['doctor', '--home', t.home, '--json', ...args], {
      env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }),
      extendEnv: false,
      reject: false,
    });
    expect(result.stderr).toBe('');
    return {
      status: result.exitCode,
      checks: result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Check),
    };
  }

  /** The .qmail-default program line run as qmail-local runs it: /bin/sh -c, as the base user, in the home, with qmail's PATH. */
  function deliverAsBaseUser(t: TestHome, ext: string, path = QMAIL_PATH): number {
    const line = readFileSync(join(t.home, '.qmail-default'), 'latin1')
      .split('\n')
      .find((l) => l.startsWith('|'))!
      .slice(1);
    const env = { ...homeEnv(t, ext, 'sender@remote.example'), PATH: path };
    const result = execaSync(SETPRIV, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', '/bin/sh', '-c', line], {
      cwd: t.home,
      env,
      extendEnv: false,
      reject: false,
      inputFile: message,
    });
    // A run that could not start (setpriv missing, no working directory) is the test's failure, not a deferral.
    if (result.exitCode === undefined) throw new Error(result.message);
    return qmailLocalExit(result.exitCode);
  }

  /** Paste the fix into a root shell, as printed. */
  function paste(fix: string | undefined): void {
    expect(fix).toEqual(expect.any(String));
    const result = execaSync('/bin/sh', ['-c', fix!], { env: cleanEnv(), extendEnv: false, reject: false });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  }

  const failed = (seen: Seen): Check[] => seen.checks.filter((c) => c.status === 'fail');

  rootTest('the healthy setup passes, and a delivery as the base user works', () => {
    const t = nobodysHome();
    const seen = doctorAsRoot(t);
    expect(failed(seen)).toEqual([]);
    expect(seen.status).toBe(0);
    expect(deliverAsBaseUser(t, 'alice')).toBe(0);
  });

  const broken: Array<[string, (t: TestHome) => void, RegExp, string, string[]]> = [
    ['passwd.cdb has mode 000', (t) => chmodSync(join(t.home, 'passwd.cdb'), 0o000), /^password table .*: EACCES: every delivery defers$/, 'alice', []],
    [
      'passwd.cdb is owned by root, mode 0600',
      (t) => {
        chownSync(join(t.home, 'passwd.cdb'), 0, 0);
        chmodSync(join(t.home, 'passwd.cdb'), 0o600);
      },
      /^password table .*: EACCES: every delivery defers$/,
      'alice',
      [],
    ],
    [
      "one user's Maildir is root's (made by root's mkdir -p)",
      (t) => chownTree(join(t.home, 'users', 'alice'), 0, 0),
      /^alice: \.\/users\/alice cannot be written by the base user \(uid 65534\): mail defers$/,
      'alice',
      [],
    ],
    [
      "one user's Maildir is root's, mode 0700",
      (t) => {
        chownTree(join(t.home, 'users', 'alice'), 0, 0);
        chmodSync(join(t.home, 'users', 'alice'), 0o700);
      },
      /users\/alice cannot be searched: 1 Maildir\(s\) behind it cannot be reached \(alice\), so their mail defers$/,
      'alice',
      [],
    ],
    [
      "one user's Maildir is missing",
      (t) => rmSync(join(t.home, 'users', 'alice'), { recursive: true }),
      /^alice: \.\/users\/alice is not a Maildir \(no tmp, new, cur\): mail defers$/,
      'alice',
      [],
    ],
    [
      '.qmail-default names a program the base user cannot execute',
      (t) => {
        mkdirSync(join(t.root, 'bin'));
        writeFileSync(join(t.root, 'bin', 'vdeliver'), `#!/bin/sh\nexec ${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')} "$@"\n`, { mode: 0o700 });
        writeFileSync(join(t.home, '.qmail-default'), `|${join(t.root, 'bin', 'vdeliver')}\n`);
      },
      /\/bin\/vdeliver cannot be executed by the base user: every delivery exits 126$/,
      'alice',
      [],
    ],
    [
      '.qmail-default names a program that does not exist',
      (t) => writeFileSync(join(t.home, '.qmail-default'), `|${join(t.root, 'nowhere', 'vdeliver')}\n`),
      /\/nowhere\/vdeliver does not exist \(or the base user cannot reach it\): every delivery exits 127$/,
      'alice',
      [],
    ],
    [
      '.qmail-default gives vdeliver a bad option',
      (t) => writeFileSync(join(t.home, '.qmail-default'), `|${process.execPath} ${join(ROOT, 'dist', 'vdeliver.cjs')} -d --bogus\n`),
      /^\.qmail-default gives vdeliver unknown option string: '--bogus': every delivery defers$/,
      'alice',
      [],
    ],
    [
      "node is not on qmail's PATH for the #!/usr/bin/env node shim",
      (t) => writeFileSync(join(t.home, '.qmail-default'), `|${join(ROOT, 'bin', 'vdeliver')}\n`),
      /bin\/vdeliver starts node through \/usr\/bin\/env, and qmail's PATH \(\/var\/qmail\/bin:\/usr\/local\/bin\) has no node: every delivery exits 127$/,
      'alice',
      ['--qmail-path', NO_NODE_PATH],
    ],
  ];
  for (const [name, breakIt, what, ext, args] of broken)
    rootTest(`${name}: the delivery defers, doctor fails with a fix, and the fix pasted as root makes it work`, () => {
      const path = args[1] ?? QMAIL_PATH;
      const t = nobodysHome();
      breakIt(t);
      expect(deliverAsBaseUser(t, ext, path)).toBe(111);
      const seen = doctorAsRoot(t, args);
      expect(seen.status).toBe(1);
      expect(failed(seen)).toEqual([{ status: 'fail', what: expect.stringMatching(what), fix: expect.any(String) }]);
      paste(failed(seen)[0].fix);
      const after = doctorAsRoot(t, args);
      expect(failed(after)).toEqual([]);
      expect(after.status).toBe(0);
      expect(deliverAsBaseUser(t, ext, path)).toBe(0);
    });

  rootTest("node not on qmail's PATH: found with the default PATH, missed with the one given", () => {
    const t = nobodysHome();
    writeFileSync(join(t.home, '.qmail-default'), `|${join(ROOT, 'bin', 'vdeliver')}\n`);
    expect(failed(doctorAsRoot(t))).toEqual([]);
    expect(deliverAsBaseUser(t, 'alice')).toBe(0);
    expect(failed(doctorAsRoot(t, [`--qmail-path=${NO_NODE_PATH}`]))).toHaveLength(1);
  });

  rootTest('a missing home fails, alone, and the real delivery cannot start there either', () => {
    const t = nobodysHome();
    const seen = doctorAsRoot({ ...t, home: join(t.root, 'nonexistent') });
    expect(seen).toEqual({
      status: 1,
      checks: [{ status: 'fail', what: expect.stringMatching(/^home directory .*\/nonexistent does not exist: qmail-local defers/), hint: expect.any(String) }],
    });
    expect(() => deliverAsBaseUser({ ...t, home: join(t.root, 'nonexistent') }, 'alice')).toThrow(/ENOENT/);
  });

  rootTest('the catch-all fix names a user the table has, and pasted as root, unknown names are delivered', () => {
    const t = nobodysHome();
    for (const name of ['+', 'postmaster'])
      expect(runAdmin(['remove', '--home', t.home, name], { env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }) }).status).toBe(0);
    expect(deliverAsBaseUser(t, 'no-such-name')).toBe(100);
    const warning = doctorAsRoot(t).checks.find((c) => c.what.startsWith('no catch-all'));
    // postmaster is gone: the fix forwards to the first mailbox the table has.
    expect(warning).toEqual({
      status: 'warn',
      what: "no catch-all '+': unknown names bounce",
      fix: expect.stringMatching(/ add --home .* \+ --no-mailbox --forward mailer-daemon$/),
    });
    paste(warning!.fix);
    expect(doctorAsRoot(t).checks).toContainEqual({ status: 'ok', what: "catch-all '+' exists: unknown names go there" });
    expect(deliverAsBaseUser(t, 'no-such-name')).toBe(0);
    expect(lstatSync(join(t.home, 'passwd.cdb')).uid).toBe(NOBODY);
  });

  rootTest('the catch-all fix names vdeliver-admin installed under a path with a space and a quote so that it works pasted', () => {
    const t = nobodysHome();
    const copy = join(dir.path, "vdeliver it's");
    for (const part of ['bin', 'dist']) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    chmodSync(dir.path, 0o755);
    expect(runAdmin(['remove', '--home', t.home, '+'], { env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }) }).status).toBe(0);
    const result = execaSync(join(copy, 'bin', 'vdeliver-admin'), ['doctor', '--home', t.home, '--json'], {
      env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }),
      extendEnv: false,
      reject: false,
    });
    expect(result.stderr).toBe('');
    const warning = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Check)
      .find((c) => c.what.startsWith('no catch-all'));
    paste(warning?.fix);
    expect(doctorAsRoot(t).checks).toContainEqual({ status: 'ok', what: "catch-all '+' exists: unknown names go there" });
  });

  rootTest('the quota fix, pasted as root, writes an item the base user reads', () => {
    const t = nobodysHome();
    rmSync(join(t.home, '.vmailmgr'), { recursive: true });
    writeFileSync(join(t.globalDir, 'qmail-root'), `${t.qmailRoot}\n`);
    const warning = doctorAsRoot(t).checks.find((c) => c.what.includes('limits that nothing enforces'));
    paste(warning?.fix);
    expect(doctorAsRoot(t).checks).toContainEqual({ status: 'ok', what: expect.stringMatching(/^quotas are enforced for \d+ record/) });
    expect(lstatSync(join(t.home, '.vmailmgr')).uid).toBe(NOBODY);
  });

  rootTest('a Maildir fix works pasted by the base user too, and what it makes is theirs', () => {
    const t = nobodysHome();
    rmSync(join(t.home, 'users'), { recursive: true });
    const fix = failed(doctorAsRoot(t)).find((c) => c.what.startsWith('alice:'))?.fix;
    const result = execaSync(SETPRIV, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', '/bin/sh', '-c', fix!], {
      reject: false,
      env: cleanEnv(),
      extendEnv: false,
    });
    expect(result.exitCode).toBe(0);
    for (const path of ['users', 'users/alice', 'users/alice/new']) expect(lstatSync(join(t.home, path)).uid).toBe(NOBODY);
    expect(deliverAsBaseUser(t, 'alice')).toBe(0);
  });

  rootTest('a delivery log the base user cannot write is a warning whose fix, pasted as root, lets the next delivery log', () => {
    const t = nobodysHome();
    const log = join(t.home, 'deliveries.log');
    writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-log'), 'deliveries.log\n');
    chownSync(join(t.home, '.vmailmgr', 'vdeliver-log'), NOBODY, NOBODY);
    const logCheck = (seen: Seen): Check | undefined => seen.checks.find((c) => c.what.startsWith('delivery log'));
    expect(logCheck(doctorAsRoot(t))).toEqual({ status: 'ok', what: `delivery log ${log} will be created by the first delivery` });
    writeFileSync(log, '');
    chmodSync(log, 0o644); // root's, as an admin's `touch` leaves it
    const seen = doctorAsRoot(t);
    const check = logCheck(seen);
    expect(check).toMatchObject({ status: 'warn', what: `delivery log ${log} cannot be written by the base user: every delivery warns and logs nothing` });
    expect(failed(seen)).toEqual([]);
    paste(check?.fix);
    expect(logCheck(doctorAsRoot(t))).toEqual({ status: 'ok', what: `delivery log ${log} can be appended to` });
    expect(deliverAsBaseUser(t, 'alice')).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/^\{"time":.*"outcome":"delivered".*\}\n$/);
  });

  rootTest('unknown options and arguments are one-line errors', () => {
    const t = nobodysHome();
    for (const [args, line] of [
      [['--bogus'], 'vdeliver-admin: unknown option --bogus (see vdeliver-admin doctor --help)\n'],
      [['extra'], 'vdeliver-admin: unexpected argument extra (see vdeliver-admin doctor --help)\n'],
      [['--qmail-path'], 'vdeliver-admin: --qmail-path needs a PATH (a colon-separated list of directories)\n'],
    ] as const) {
      const result = runAdmin(['doctor', '--home', t.home, ...args], { env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir }) });
      expect([result.status, result.stdout, result.stderr]).toEqual([1, '', line]);
    }
  });
});
