// What a test needs from the machine beyond Node.js (root, strace, tinycdb, man, openssl, Courier's tools, setpriv, a pseudo-terminal, a mount), probed
// by trying it once per process. Plain CommonJS so that both the jest tests (through requires.ts) and
// the fault-injection harness (test/faults/*.mjs) ask the same questions and get the same answers.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const NOBODY = 65534;
const isRoot = () => process.getuid?.() === 0;

/** How a command failed, in a few words. */
function failure(result) {
  if (result.error) return result.error.code === 'ENOENT' ? 'not installed' : result.error.message;
  return (result.stderr || result.stdout || `exit ${result.status}`).toString().trim().split('\n')[0];
}

/** Each probe returns undefined when the requirement is met, else why it is not (one line). */
const PROBES = {
  root: () => (isRoot() ? undefined : 'not running as root'),
  strace: () => {
    // Tracing and injecting are what the tests use; ptrace may be forbidden even where strace exists.
    const r = spawnSync('strace', ['-qq', '-o', '/dev/null', '-e', 'trace=getppid', '-e', 'inject=getppid:error=EPERM', '/bin/true']);
    return r.status === 0 ? undefined : `strace cannot trace and inject here (${failure(r)}; apt-get install strace)`;
  },
  cdb: () => {
    // tinycdb's `cdb`: creating an empty table from empty cdbmake input is its own syntax.
    const dir = mkdtempSync(join(tmpdir(), 'vdeliver-probe-'));
    try {
      const r = spawnSync('cdb', ['-c', '-m', join(dir, 'probe.cdb')], { input: '' });
      return r.status === 0 ? undefined : `tinycdb's cdb is not usable (${failure(r)}; apt-get install tinycdb)`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  man: () => {
    // man-db's `man -l` renders a page file through groff: the man-page tests read what a reader would see.
    const dir = mkdtempSync(join(tmpdir(), 'vdeliver-probe-'));
    try {
      writeFileSync(join(dir, 'probe.8'), '.TH PROBE 8\n.SH NAME\nprobe \\- a page\n');
      const r = spawnSync('man', ['-l', join(dir, 'probe.8')], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat' } });
      return r.status === 0 && r.stdout.includes('probe - a page') ? undefined : `man -l cannot render a page (${failure(r)}; apt-get install man-db)`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  openssl: () => {
    const r = spawnSync('openssl', ['passwd', '-1', '-salt', 'ab', 'probe']);
    return r.status === 0 ? undefined : `openssl passwd -1 does not work (${failure(r)}; apt-get install openssl)`;
  },
  courier: () => {
    // Debian's maildrop ships Courier's maildirmake and deliverquota: the Maildir++ quota reference.
    const r = spawnSync('/bin/sh', ['-c', 'command -v maildirmake && command -v deliverquota']);
    return r.status === 0 ? undefined : "Courier's maildirmake and deliverquota are not installed (apt-get install maildrop)";
  },
  setpriv: () => {
    if (!isRoot()) return 'needs root to change to an unprivileged uid with setpriv';
    const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', 'id', '-u'], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.trim() === String(NOBODY)
      ? undefined
      : `setpriv cannot run a command as uid ${NOBODY} (${failure(r)}; apt-get install util-linux)`;
  },
  pty: () => {
    // util-linux's script runs a command on a new pseudo-terminal (the password prompt's tests).
    const r = spawnSync('script', ['-qec', 'test -t 0', '/dev/null'], { input: '' });
    return r.status === 0 ? undefined : `script cannot run a command on a pseudo-terminal (${failure(r)}; apt-get install bsdutils)`;
  },
  mount: () => {
    if (!isRoot()) return 'needs root to mount a file system';
    const dir = mkdtempSync(join(tmpdir(), 'vdeliver-probe-'));
    try {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
      if (r.status !== 0) return `cannot mount a tmpfs here (${failure(r)})`;
      spawnSync('umount', [dir]);
      return undefined;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const answers = new Map();

/** Why the first of `names` that this machine lacks is missing, or undefined when all are there. */
function missing(...names) {
  for (const name of names) {
    if (!(name in PROBES)) throw new Error(`unknown requirement ${name}`);
    if (!answers.has(name)) answers.set(name, PROBES[name]());
    const reason = answers.get(name);
    if (reason) return reason;
  }
  return undefined;
}

/** CI sets VDELIVER_FORBID_SKIPS=1: there a missing requirement fails the test instead of skipping it. */
const skipsForbidden = () => process.env.VDELIVER_FORBID_SKIPS === '1';

module.exports = { missing, skipsForbidden, isRoot, NOBODY };
