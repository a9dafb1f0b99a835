import { existsSync, writeSync } from 'node:fs';
import { fsPath, toText } from './bytes';
import { errnoName } from './errno';

/** What running a child comes to, however it was started (src/system/exec.ts, run-to-exit.ts). */
export interface RunResult {
  /** undefined when the child was killed or never started. */
  exitCode: number | undefined;
  signal?: string;
  timedOut: boolean;
  /** Why the child could not be started (ENOENT, EACCES...), if it could not. */
  startError?: string;
  /** We could not hand over all of stdin or the envelope, or the child did not read it all. */
  inputFailed: boolean;
  /** Reading our own input failed; the child was killed before it could see a (false) end of input. */
  sourceError?: string;
  errorChannel: string;
  /** What the child printed, when captured. */
  output?: string;
}

/** Why a child could not be started, naming the working directory when that is what is missing. */
export function startFailure(errno: number, cwd: string): RunResult {
  const name = errnoName(errno);
  const missingDir = (name === 'ENOENT' || name === 'ENOTDIR') && !existsSync(fsPath(cwd));
  return {
    exitCode: undefined,
    timedOut: false,
    inputFailed: false,
    errorChannel: '',
    startError: missingDir ? `${name} (no working directory ${cwd})` : name,
  };
}

/** Our fd 1 is qmail's log pipe: pass the child's output straight on. */
export function relay(chunk: Uint8Array): void {
  try {
    for (let done = 0; done < chunk.length;) done += writeSync(1, chunk, done);
  } catch {
    // Nobody reads our output any more: the child's words are lost, the delivery is not.
  }
}

/**
 * Node hands a child's path, cwd and environment over as UTF-8, so bytes that are not valid
 * UTF-8 cannot be passed directly. Those rare values go through /bin/sh, which rebuilds each one
 * from octal escapes with printf and then execs the program, so the child gets the exact bytes.
 */
export function command(path: string, env: Record<string, string>, cwd: string): { file: string; args: string[]; env: Record<string, string>; cwd: string } {
  const textEnv: Record<string, string> = {};
  const exact: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(env)) {
    const key = toText(name);
    if (key === undefined) continue; // a name that is not text cannot be a shell variable either
    const text = toText(value);
    // Only a shell name can be exported by the shell; any other keeps Node's (UTF-8) form.
    if (text === undefined && SHELL_NAME.test(key)) exact.push([key, value]);
    else textEnv[key] = text ?? Buffer.from(value, 'latin1').toString('utf8');
  }
  const file = toText(path);
  const dir = toText(cwd);
  if (file !== undefined && dir !== undefined && exact.length === 0) return { file, args: [], env: textEnv, cwd: dir };
  const lines = exact.map(([name, value]) => `${assign('vdeliver_value', value)} export ${name}="\${vdeliver_value%x}"`);
  lines.push(
    'unset vdeliver_value',
    `${assign('vdeliver_dir', cwd)} cd "\${vdeliver_dir%x}" 2>/dev/null || exit 111`,
    `${assign('vdeliver_program', path)} exec "\${vdeliver_program%x}"`,
  );
  return { file: '/bin/sh', args: ['-c', lines.join('\n')], env: textEnv, cwd: '/' };
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `name=$(printf '\ooo...x');`: the x keeps command substitution from dropping trailing newlines. */
const assign = (name: string, value: string): string =>
  `${name}=$(printf '${[...value].map((c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`).join('')}x');`;
