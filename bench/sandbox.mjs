// The bench's sandbox: base-user homes built the way test/helpers/home.ts builds them (the basic
// fixture's passwd.cdb or one vdeliver-admin built, the Maildirs the rows write to, a qmail root, a
// hook), the programs under test, the messages, the clean environment, and the checks of everything
// that was delivered.
import { buildSync } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FLOOR = join(ROOT, 'bench', 'node-floor.cjs');
export const RESCAN = join(ROOT, 'bench', 'rescan.cjs');
export const MiB = 1 << 20;
const SYSTEM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];
export const PATH = [...(SYSTEM_PATH.includes(dirname(process.execPath)) ? [] : [dirname(process.execPath)]), ...SYSTEM_PATH].join(':'); // node for #!/usr/bin/env node
const SENDER = 'a@b.example';

export function makeSandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'vdeliver-bench-'));
  const etc = mkdirs(join(dir, 'etc')); // VDELIVER_CONFIG_DIR: empty, so only a home's own .vmailmgr/ counts
  // <qmail-root>: vdeliver runs qmail-queue from there (as qmail's programs do), so it must exist.
  const qmailRoot = join(dir, 'qmail');
  writeFileSync(join(mkdirs(join(qmailRoot, 'control')), 'me'), 'mail.example.net\n');
  // qmail-local's environment from the project's own model of it (src/qmail/qmail-local-env.ts), not a copy.
  const bundle = join(dir, 'qmail-local-env.cjs');
  buildSync({
    entryPoints: [join(ROOT, 'src', 'qmail', 'qmail-local-env.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'warning',
  });
  const { qmailLocalEnv } = createRequire(import.meta.url)(bundle);

  /**
   * A base-user home with `user`'s Maildir, and the environment qmail-local gives vdeliver for it.
   * Its passwd.cdb is the basic fixture's (made by vmailmgr), or, given `usersFile`, the one the
   * project's `vdeliver-admin build` makes from it.
   */
  const home = (name, user, extra = {}, usersFile = undefined) => {
    const path = join(dir, name);
    const maildir = maildirAt(join(path, 'users', user));
    if (usersFile) buildTable(path, usersFile, etc);
    else copyFileSync(join(ROOT, 'fixtures', 'vmailmgr', 'basic', 'passwd.cdb'), join(path, 'passwd.cdb'));
    writeFileSync(join(mkdirs(join(path, '.vmailmgr')), 'qmail-root'), `${qmailRoot}\n`);
    const local = qmailLocalEnv({ user: 'vdomain', home: path, ext: user, host: 'example.com', sender: SENDER, date: new Date('2026-11-22T03:25:00Z') });
    const env = { PATH, ...local, VDELIVER_CONFIG_DIR: etc, ...extra };
    const sibling = (other) => maildirAt(join(path, 'users', other)); // for the floors: next to `user`'s on the disk
    return { home: path, maildir, sibling, env, added: Buffer.from(local.RPLINE + local.DTLINE), dtline: Buffer.from(local.DTLINE) };
  };
  // The programs under test, copied as built (bin/vdeliver; the loader, the bundle it compiles and
  // that bundle's code cache; exec.cjs; the recorder): a concurrent `npm run build` (another session's
  // `npm test`) replaces dist/ file by file, and a run mixing two builds measures neither.
  const copy = (from, to) => {
    mkdirs(dirname(to));
    copyFileSync(from, to);
    chmodSync(to, 0o755);
    return to;
  };
  const shim = copy(join(ROOT, 'bin', 'vdeliver'), join(dir, 'app', 'bin', 'vdeliver'));
  // The content-named bundle and its cache: whatever this build's loader names.
  const named = readdirSync(join(ROOT, 'dist'))
    .filter((f) => /^vdeliver-main\.[0-9a-f]{16}\.cjs(\.cache)?$/.test(f))
    .sort();
  const [loader, program] = ['vdeliver.cjs', ...named, 'exec.cjs'].map((f) => copy(join(ROOT, 'dist', f), join(dir, 'app', 'dist', f)));
  const recorder = copy(join(ROOT, 'test', 'doubles', 'qmail-queue-recorder'), join(dir, 'app', 'qmail-queue-recorder'));
  const emptyScript = join(dir, 'empty.js');
  writeFileSync(emptyScript, '');
  return { dir, shim, loader, program, recorder, emptyScript, home, queueDir: (name) => mkdirs(join(dir, 'qq', name)) };
}

/** passwd.cdb in `home`, written by `vdeliver-admin build` from a users file (setup, not timed). */
function buildTable(home, usersFile, etc) {
  mkdirs(home);
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'vdeliver-admin.cjs'), 'build', '--home', home, usersFile], {
    encoding: 'utf8',
    env: { PATH, VDELIVER_CONFIG_DIR: etc },
  });
  if (r.status !== 0) throw new Error(`vdeliver-admin build exited ${r.status}: ${r.stderr}`);
}

/** A shell script (`#!/bin/sh` + `body`) as the home's vdeliver-predeliver. */
export function writeHook(home, body) {
  const path = join(mkdirs(join(home, '.vmailmgr')), 'vdeliver-predeliver');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/**
 * Turn the delivery log on in `home` (vdeliver-log). Returns the check to run once the rounds are
 * done: exactly `count` lines, each a whole JSON line of a delivery.
 */
export function logDeliveries(home) {
  writeFileSync(join(mkdirs(join(home, '.vmailmgr')), 'vdeliver-log'), 'deliveries.log\n');
  return (count, label) => {
    const text = readFileSync(join(home, 'deliveries.log'), 'utf8');
    const lines = text.split('\n').slice(0, -1);
    if (!text.endsWith('\n') || lines.length !== count) throw new Error(`${label}: ${lines.length} log lines, expected ${count}`);
    const wrong = lines.find((line) => JSON.parse(line).outcome !== 'delivered');
    if (wrong) throw new Error(`${label}: a log line that is not a delivery: ${wrong}`);
  };
}

/** The first executable `name` on PATH, or undefined. */
export function which(name) {
  return PATH.split(':')
    .map((d) => join(d, name))
    .find((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * A message of exactly `size` bytes (a header, then pseudo-random base64 lines), written by a child
 * process: generating 256 MiB leaves a big heap behind, and every fork() the bench makes copies the
 * parent's page tables (a 150 MiB parent made /bin/true cost 8 ms instead of 1.5). Returns its size and sha256.
 */
export function writeMessage(path, size, subject) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bench', 'make-message.mjs'), path, String(size), subject], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`make-message.mjs exited ${r.status}`);
  return { path, size, sha256: r.stdout.trim() };
}

/** `prefix` + the message in a file of its own (what qmail-queue is handed for a forward). */
export function writePrefixed(path, prefix, message) {
  writeFileSync(path, Buffer.concat([prefix, readFileSync(message.path)]));
  return path;
}

/**
 * Check a Maildir after `count` deliveries, then empty it: exactly `count` files (distinct inodes) in
 * new/, each `added` + the message (size and sha256), and nothing in tmp/. Throws on anything else.
 */
export function drainMaildir(maildir, count, added, message, label) {
  const fail = (why) => {
    throw new Error(`${label}: ${why} (${maildir})`);
  };
  const names = readdirSync(join(maildir, 'new'));
  const tmp = readdirSync(join(maildir, 'tmp'));
  if (names.length !== count) fail(`${names.length} files in new/, expected ${count}`);
  if (tmp.length !== 0) fail(`tmp/ is not empty: ${tmp.join(' ')}`);
  const paths = names.map((n) => join(maildir, 'new', n));
  if (new Set(paths.map((p) => statSync(p).ino)).size !== count) fail('two names share one file');
  for (const path of paths) {
    const why = contentProblem(path, added, message);
    if (why) fail(`${path}: ${why}`);
    rmSync(path);
  }
  return { files: count, tmp: tmp.length };
}

/** Check `count` recorded qmail-queue calls (message = DTLINE + the message, the envelope, its check), then remove them. */
export function drainQueue(dir, count, dtline, message, envelope, label) {
  const fail = (why) => {
    throw new Error(`${label}: ${why} (${dir})`);
  };
  const calls = readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (calls.length !== count) fail(`${calls.length} qmail-queue calls, expected ${count}`);
  for (const call of calls) {
    const base = join(dir, call.replace(/\.json$/, ''));
    const why = contentProblem(`${base}.message`, dtline, message);
    if (why) fail(`${base}.message: ${why}`);
    if (!readFileSync(`${base}.envelope`).equals(envelope)) fail(`${base}.envelope is not ${JSON.stringify(envelope.toString())}`);
    if (JSON.parse(readFileSync(`${base}.json`, 'utf8')).envelopeCheck !== 0) fail(`${base}: the envelope is malformed`);
  }
  for (const f of readdirSync(dir)) rmSync(join(dir, f));
}

const buffer = Buffer.allocUnsafe(4 * MiB); // one, reused: the bench process must stay small (see writeMessage)

/** Why the file is not `added` + the message, or undefined when it is (read in 4 MiB blocks, hashed). */
function contentProblem(path, added, message) {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== added.length + message.size) return `${size} bytes, expected ${added.length} + ${message.size}`;
    const head = Buffer.alloc(added.length);
    if (added.length && (readSync(fd, head, 0, head.length, 0) !== head.length || !head.equals(added)))
      return `does not start with ${JSON.stringify(added.toString())}`;
    const hash = createHash('sha256');
    for (let pos = added.length, n; (n = readSync(fd, buffer, 0, buffer.length, pos)) > 0; pos += n) hash.update(buffer.subarray(0, n));
    return hash.digest('hex') === message.sha256 ? undefined : 'the message part differs (sha256)';
  } finally {
    closeSync(fd);
  }
}

function maildirAt(path) {
  for (const sub of ['tmp', 'new', 'cur']) mkdirs(join(path, sub));
  return path;
}

function mkdirs(path) {
  mkdirSync(path, { recursive: true });
  return path;
}
