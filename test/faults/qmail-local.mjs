// Start bin/vdeliver the way qmail-local starts a `|` line: `/bin/sh -c` in $HOME with umask 077,
// the message on fd 0 as a regular file, stdout and stderr on one pipe, only the given environment.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './sandbox.mjs';

export const VDELIVER = join(ROOT, 'bin', 'vdeliver');
const GIVE_UP_MS = 180000;

/**
 * One delivery. `killAfterMs`: send SIGKILL to vdeliver that long after the start. The shell
 * `exec`s vdeliver (and env execs node), so the child's pid is vdeliver's own and the kill reaches
 * nothing else: a hook or a qmail-queue it started lives on, as it would under qmail.
 * `wrapper`: a command line to start the shell through (strace, setpriv).
 * Resolves once every process holding the output pipe has finished (vdeliver's children inherit
 * it), so whatever a killed delivery left running is done before anyone looks at the results.
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
    child.on('close', finish);
    child.on('error', (error) => {
      output.push(Buffer.from(`cannot start: ${error.message}\n`));
      finish();
    });
  });
}
