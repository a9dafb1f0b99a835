import { execa } from 'execa';

/**
 * vdeliver-admin's child processes: run as root, it runs itself again as the owner of the home, so
 * what it writes belongs to the base user and what doctor sees is what qmail-local sees. Start-up
 * does not matter here, so this is execa; the delivery path never loads this file (its own
 * children go through src/system/exec.ts, node:child_process).
 *
 * The child gets the user's uid and one group, the gid, as qmail-lspawn gives qmail-local
 * (setgroups to that one gid): Node clears the supplementary groups when it changes the uid.
 */
export interface User {
  uid: number;
  gid: number;
}

/**
 * The first of `files` the user cannot read (or, for `executable`, execute), or undefined. A
 * program the user cannot even load would otherwise die with Node's stack trace instead of one line.
 */
export async function firstUnreachable(user: User, executable: string, files: string[]): Promise<string | undefined> {
  const checks = [`test -x "$1" || { echo "$1"; exit; }`, ...files.map((_, i) => `test -r "$${i + 2}" || { echo "$${i + 2}"; exit; }`)];
  const result = await execa('/bin/sh', ['-c', checks.join('\n'), 'sh', executable, ...files], {
    ...user,
    env: { PATH: '/usr/bin:/bin' },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  // A shell that does not answer tells nothing: the run itself will say what is wrong.
  return result.exitCode === 0 && result.stdout !== '' ? result.stdout : undefined;
}

/** Run a program to its end as `user`, with our stdin, stdout and stderr and exactly `env`. */
export async function runAsUser(
  path: string,
  args: string[],
  user: User,
  env: Record<string, string | undefined>,
): Promise<{ status: number; error?: string }> {
  const result = await execa(path, args, { ...user, env, extendEnv: false, stdio: 'inherit', reject: false });
  if (result.exitCode !== undefined) return { status: result.exitCode };
  return { status: 1, error: result.signal ? `killed by ${result.signal}` : (result.originalMessage ?? result.shortMessage) };
}
