// Start bin/vdeliver the way qmail-local starts a `|` line: `/bin/sh -c` in $HOME with umask 077,
// the message on fd 0 as a regular file, stdout and stderr on one pipe, only the given environment.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './sandbox.mjs';

export const VDELIVER = join(ROOT, 'bin', 'vdeliver');
const GIVE_UP_MS = 180000;

/**
 * One delivery. `killAfterMs`: send SIGKILL to vdeliver that long after the start. The shell
 * `exec`s vdeliver (and env execs node), so the child's pid is vdeliver's own and the kill reaches
 * nothing else: a hook or a qmail-queue it started lives on, as it would under qmail.
 * `wrapper`: a command line to start the shell through (strace, setpriv).
 * Resolves once vdeliver and every process it started have finished, so whatever a killed delivery
 * left running (a qmail-queue that had its whole copy and envelope, say) is done before anyone looks
 * at the results. Children may hold none of vdeliver's descriptors (hooks and small forwards get
 * files on every fd), so they are found by their environment, which carries `env.QQ_RECORD_DIR`.
 */
export function deliver({ env, messagePath, killAfterMs, wrapper = [] }) {
  return new Promise((resolve) => {
    const fd = openSync(messagePath, 'r');
    const argv = [...wrapper, '/bin/sh', '-c', 'umask 077; exec "$0" 2>&1', VDELIVER];
    const started = performance.now();
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), { cwd: env.HOME, env, stdio: [fd, 'pipe', 'pipe'] });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    const output = [];
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => output.push(chunk));
    // child.kill() does nothing once Node has seen the exit, so a finished pid is never signalled.
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
      finish();
    }, GIVE_UP_MS);
    let exit = { code: null, signal: null, ms: undefined };
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      exit = { code, signal, ms: performance.now() - started };
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      clearTimeout(killer);
      resolve({ ...exit, killed: exit.signal === 'SIGKILL' && !hung, hung, output: Buffer.concat(output).toString('utf8') });
    };
    child.on('close', () => waitForDescendants(env, finish));
    child.on('error', (error) => {
      output.push(Buffer.from(`cannot start: ${error.message}\n`));
      finish();
    });
  });
}

/** The pids whose environment holds `entry` (children keep the environment vdeliver gave them). */
function holders(entry) {
  const needle = Buffer.from(`\0${entry}\0`);
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${name}/environ`)]);
      if (environ.includes(needle)) found.push(name);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Call `then` once no process carries this delivery's environment any more (at most GIVE_UP_MS). */
function waitForDescendants(env, then) {
  if (env.QQ_RECORD_DIR === undefined) return then();
  const entry = `QQ_RECORD_DIR=${env.QQ_RECORD_DIR}`;
  const until = performance.now() + GIVE_UP_MS;
  const poll = () => (holders(entry).length === 0 || performance.now() > until ? then() : setTimeout(poll, 20));
  poll();
}
