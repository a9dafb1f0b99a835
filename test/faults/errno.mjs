// Real errno values in the real process: a full tmpfs (ENOSPC), a read-only bind mount (EROFS), a
// Maildir the delivering uid cannot write (EACCES), and strace's syscall tampering for the ones no
// file system gives on demand (EDQUOT while staging, EIO on fsync and on link). Each is one plain
// delivery to alice, which must fail with the exact exit code and status line, store nothing in
// new/ and leave nothing in tmp/ or $TMPDIR.
import { chownSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isRoot, missing, NOBODY, skipsForbidden } from '../helpers/requirements.cjs';
import { drainDir, drainMaildir } from './audit.mjs';
import { makeMessage } from './messages.mjs';
import { bindReadOnly, mountTinyTmpfs } from './mounts.mjs';
import { deliver } from './qmail-local.mjs';
import { makeHome } from './sandbox.mjs';
import { linkIntoNew, newDirFsync, occurrence, onTmpFile, parseTrace, straceWrapper, tmpCreate } from './strace.mjs';

const USER = 'alice';
const QUOTA = 'Delivery failed due to system quota violation (#5.2.2)';
const SETPRIV = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];

/** vmailmgr's sentence, then the errno name and Node's words for it, then the temporary status code. */
const deferLine = (sentence, errno) => ({
  text: `${sentence} ${errno} (...) (#4.3.0)`,
  pattern: new RegExp(`^vdeliver: ${sentence.replace(/\./g, '\\.')} ${errno} \\([^)\\n]+\\) \\(#4\\.3\\.0\\)\\n$`),
});
const bounceLine = { text: QUOTA, pattern: new RegExp(`^vdeliver: ${QUOTA.replace(/[.()#]/g, '\\$&')}\\n$`) };

function chownTree(path, uid, gid) {
  chownSync(path, uid, gid);
  if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

const CASES = [
  {
    fault: 'ENOSPC: 64 KiB tmpfs, 200 KiB message',
    needs: ['mount'],
    size: 200 * 1024,
    exit: 111,
    line: deferLine('Error writing the output file.', 'ENOSPC'),
    setup: (home) => {
      mountTinyTmpfs(home.maildir(USER), '64k');
      for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(home.maildir(USER), sub));
    },
  },
  { fault: 'EDQUOT creating the tmp/ file (strace)', needs: ['strace'], inject: ['EDQUOT', tmpCreate], exit: 100, line: bounceLine },
  { fault: 'EDQUOT writing the tmp/ file (strace)', needs: ['strace'], inject: ['EDQUOT', (m) => onTmpFile(m, 'write')], exit: 100, line: bounceLine },
  {
    fault: 'EIO on fsync of the tmp/ file (strace)',
    needs: ['strace'],
    inject: ['EIO', (m) => onTmpFile(m, 'fsync')],
    exit: 111,
    line: deferLine('Error writing the output file.', 'EIO'),
  },
  {
    fault: 'EIO on link into new/ (strace)',
    needs: ['strace'],
    inject: ['EIO', linkIntoNew],
    exit: 111,
    line: deferLine('Error linking the temp file to the new file.', 'EIO'),
  },
  {
    fault: 'EIO on fsync of new/ (strace)',
    needs: ['strace'],
    inject: ['EIO', newDirFsync],
    exit: 111,
    line: deferLine('Error syncing the new directory.', 'EIO'),
  },
  {
    fault: `EACCES: tmp/ not writable, uid ${isRoot() ? NOBODY : process.getuid()}`,
    needs: isRoot() ? ['setpriv'] : [],
    exit: 111,
    line: deferLine('Error creating the output file.', 'EACCES'),
    setup: (home) => {
      const tmp = join(home.maildir(USER), 'tmp');
      if (isRoot()) {
        // Root writes anywhere: deliver as nobody, into a home nobody owns but for tmp/.
        chownTree(home.dir, NOBODY, NOBODY);
        chownSync(tmp, 0, 0);
      }
      chmodSync(tmp, 0o555);
      return { wrapper: isRoot() ? SETPRIV : [] };
    },
  },
  {
    fault: 'EROFS: Maildir on a read-only bind mount',
    needs: ['mount'],
    exit: 111,
    line: deferLine('Error creating the output file.', 'EROFS'),
    setup: (home) => bindReadOnly(home.maildir(USER)),
  },
];

/**
 * Find N for the injection (see strace.mjs): a delivery traced without injection, whose copy is then
 * removed. Returns the strace wrapper for the real delivery and how to check it hit the target.
 */
async function aimInjection(home, env, [errno, targetFor]) {
  const pick = targetFor(home.maildir(USER));
  const trace = ['openat', 'write', 'fsync', 'link', 'linkat'];
  const probeLog = join(home.dir, 'probe.strace');
  const probe = await deliver({ env, messagePath: home.message, wrapper: straceWrapper(probeLog, trace) });
  drainMaildir(home.maildir(USER), Buffer.alloc(0)); // the probe's own copy is not under test: clear it
  const probed = parseTrace(probeLog);
  const target = pick(probed);
  if (probe.code !== 0 || !target) return { error: `the probe delivery (exit ${probe.code}: ${probe.output.trim()}) did not show the target call` };
  const log = join(home.dir, 'inject.strace');
  return {
    wrapper: straceWrapper(log, trace, `${target.name}:error=${errno}:when=${occurrence(probed, target)}`),
    check: () => {
      if (!existsSync(log)) return 'strace wrote no log';
      const calls = parseTrace(log);
      const hit = pick(calls);
      const injected = calls.filter((c) => c.injected);
      return hit?.injected && injected.length === 1
        ? undefined
        : `the injection missed its target (injected: ${injected.map((c) => `${c.name}(${c.args})`).join('; ') || 'nothing'})`;
    },
  };
}

/** Node's start-up does not open the same files every time, so an aim can miss: try again, up to this often. */
const AIMS = 4;

/** One delivery with the fault in place, in a fresh home; `missed` when strace hit another call than the target. */
async function attempt(c, home) {
  const env = home.env(USER);
  const message = makeMessage(basename(home.dir), c.size ?? 4096);
  writeFileSync(home.message, message);
  let wrapper = [];
  let check = () => undefined;
  if (c.inject) {
    const aim = await aimInjection(home, env, c.inject);
    if (aim.error) return { error: aim.error };
    ({ wrapper, check } = aim);
  }
  wrapper = c.setup?.(home)?.wrapper ?? wrapper;
  const result = await deliver({ env, messagePath: home.message, wrapper });
  // A complete copy in new/ after a failure would be delivered again by the retry: a duplicate.
  const stored = drainMaildir(home.maildir(USER), Buffer.concat([Buffer.from(env.RPLINE + env.DTLINE), message]));
  return { result, stored, tmpLeft: stored.tmp + drainDir(home.tmp), missed: check() };
}

async function runCase(dir, c, index) {
  const row = { fault: c.fault, runs: 1, expected: `exit ${c.exit}: ${c.line.text}`, lost: '-', notes: [] };
  const reason = missing(...c.needs);
  if (reason) {
    const verdict = skipsForbidden() ? 'FAIL' : 'skip';
    return {
      ...row,
      runs: 0,
      observed: `skipped: ${reason}`,
      verdict,
      notes: verdict === 'FAIL' ? [`${reason} (VDELIVER_FORBID_SKIPS=1: a skip is a failure)`] : [],
    };
  }
  let run;
  for (let aim = 1; aim <= (c.inject ? AIMS : 1); aim++) {
    run = await attempt(c, makeHome(join(dir, `errno-${index}-${aim}`)));
    if (run.error) return { ...row, observed: run.error, verdict: 'FAIL', notes: [run.error] };
    if (!run.missed) break;
  }
  const { result, stored, tmpLeft, missed } = run;
  const problems = missed ? [`${missed}, ${AIMS} times`] : [];
  if (result.code !== c.exit || !c.line.pattern.test(result.output))
    problems.push(`expected exit ${c.exit} and "vdeliver: ${c.line.text}", got exit ${result.code} and ${JSON.stringify(result.output)}`);
  if (stored.complete + stored.bad.length > 0) problems.push(`${stored.complete + stored.bad.length} file(s) in new/ after a failed delivery`);
  if (tmpLeft > 0) problems.push(`${tmpLeft} temporary file(s) left`);
  return {
    ...row,
    observed: `exit ${result.code}: ${result.output.trim().replace(/^vdeliver: /, '') || '(nothing printed)'}`,
    duplicated: stored.complete,
    truncated: stored.bad.length,
    tmpLeft,
    verdict: problems.length === 0 ? 'ok' : 'FAIL',
    notes: problems,
  };
}

/** One row per errno case, run one after the other (mounts and strace do not mix with the SIGKILL runs). */
export async function errnoRows({ dir }) {
  const rows = [];
  for (const [i, c] of CASES.entries()) rows.push(await runCase(dir, c, i));
  return rows;
}
