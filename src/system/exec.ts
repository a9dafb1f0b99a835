import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, writeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { toText } from './bytes';
import { errnoName, errnoOf, errnoText } from './errno';

/**
 * The one place child processes are started. Every run has an explicit environment, working
 * directory and timeout, never throws for the child's own failures, and returns a plain result.
 * Paths, the working directory and the environment are byte strings (src/system/bytes.ts).
 *
 * This is node:child_process rather than execa: execa costs 60 to 110 ms more per process that
 * starts a child (README, Benchmarks: bench/execa-cost.mjs), for each delivery with a hook or a
 * forward, which is more than a whole plain delivery. vdeliver-admin uses execa (as-user.ts).
 */
export interface RunOptions {
  env: Record<string, string>;
  cwd: string;
  /** A descriptor (the message file), or chunks to stream in, each written before the next is asked for. */
  stdin: number | Iterable<Uint8Array>;
  /**
   * Bytes for the child to read on its fd 1, written only once stdin was written whole and
   * closed (qmail-queue's envelope, as qmail.c sends it). Without it, fd 1 and 2 are output.
   */
  afterInput?: Buffer;
  /** Kill the child and everything it started after this long. */
  timeoutMs?: number;
  /** Collect stdout and stderr (interleaved) instead of passing them on to our fd 1. */
  captureOutput?: boolean;
  /** Also open fd 6 as a pipe and collect what the child writes there (qmail-queue's error channel). */
  errorChannel?: boolean;
}

export interface RunResult {
  /** undefined when the child was killed or never started. */
  exitCode: number | undefined;
  signal?: string;
  timedOut: boolean;
  /** Why the child could not be started (ENOENT, EACCES...), if it could not. */
  startError?: string;
  /** We could not hand over all of stdin or afterInput (the child stopped reading: EPIPE, early exit). */
  inputFailed: boolean;
  /** Reading our own input failed; the child was killed before it could see a (false) end of input. */
  sourceError?: string;
  errorChannel: string;
  /** What the child printed, when captured. */
  output?: string;
}

/**
 * After the child exits, how long its output pipe may stay open. A background process the child
 * left holding it would otherwise keep qmail's delivery slot busy long after we are done.
 */
const OUTPUT_GRACE_MS = 100;

export function run(path: string, options: RunOptions): Promise<RunResult> {
  const streamed = typeof options.stdin !== 'number';
  const stdio: StdioOptions = [streamed ? 'pipe' : (options.stdin as number), 'pipe', 'pipe'];
  if (options.errorChannel) stdio.push('ignore', 'ignore', 'ignore', 'pipe');
  const { file, args, env, cwd } = command(path, options.env, options.cwd);
  let child: ChildProcess;
  try {
    // Its own process group, so a timeout kills whatever the child started too.
    child = spawn(file, args, { stdio, env, cwd, detached: true });
  } catch (error) {
    // spawn() throws some errors (ENOTDIR, ELOOP, E2BIG...) instead of emitting them.
    return Promise.resolve(startFailure(error, cwd));
  }
  const printed: Buffer[] = [];
  const channel: Buffer[] = [];
  const output = (chunk: Buffer): void => {
    if (options.captureOutput) printed.push(chunk);
    else relay(chunk);
  };
  if (options.afterInput === undefined) child.stdout?.on('data', output);
  child.stderr?.on('data', output);
  (child.stdio as unknown as Array<Readable | null | undefined>)[6]?.on('data', (chunk: Buffer) => channel.push(chunk));

  // A child that stops reading makes our writes fail (EPIPE): that is an answer, not a crash.
  for (const stream of [child.stdin, child.stdout]) stream?.on('error', () => undefined);
  let sourceError: string | undefined;
  const input = (async (): Promise<boolean> => {
    try {
      if (streamed && child.stdin) {
        sourceError = await pump(options.stdin as Iterable<Uint8Array>, child.stdin, () => killGroup(child));
        if (sourceError !== undefined) return false;
      }
      if (options.afterInput !== undefined && child.stdout) await finish(child.stdout as unknown as Writable, options.afterInput);
      return false;
    } catch {
      return true;
    }
  })();

  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          killGroup(child);
        }, options.timeoutMs);
  const finished = new Promise<RunResult>((resolve) => {
    const done = (exitCode: number | undefined, signal: string | undefined, startError?: string): void =>
      resolve({
        exitCode,
        signal,
        timedOut,
        startError,
        inputFailed: false,
        errorChannel: Buffer.concat(channel).toString('latin1'),
        output: options.captureOutput ? Buffer.concat(printed).toString('latin1') : undefined,
      });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) done(undefined, undefined, startFailure(error, cwd).startError);
    });
    child.on('exit', (code, signal) => {
      // It has exited: whatever happens to its output pipes now, it was not killed for taking too long.
      if (timer) clearTimeout(timer);
      const settle = (): void => {
        clearTimeout(grace);
        done(code ?? undefined, signal ?? undefined);
      };
      const grace = setTimeout(() => {
        for (const stream of child.stdio) stream?.destroy();
        settle();
      }, OUTPUT_GRACE_MS);
      child.on('close', settle);
    });
  });
  return Promise.all([finished, input]).then(([done, inputFailed]) => {
    if (timer) clearTimeout(timer);
    return { ...done, inputFailed: inputFailed && done.startError === undefined, sourceError };
  });
}

/** Why a child could not be started, naming the working directory when that is what is missing. */
function startFailure(error: unknown, cwd: string): RunResult {
  const name = errnoName(errnoOf(error) ?? 0);
  const missingDir = (name === 'ENOENT' || name === 'ENOTDIR') && !existsSync(cwd);
  return {
    exitCode: undefined,
    timedOut: false,
    inputFailed: false,
    errorChannel: '',
    startError: missingDir ? `${name} (no working directory ${cwd})` : name,
  };
}

/**
 * Stream chunks into the child's stdin, one chunk in flight at a time (so memory stays at one
 * block whatever the message size), then close it. Returns the source's error, if reading our
 * own input failed: then the child is killed *before* our end closes, since qmail-queue would
 * take that end of file for the end of a whole message and queue a truncated copy.
 */
async function pump(source: Iterable<Uint8Array>, sink: Writable, kill: () => void): Promise<string | undefined> {
  const chunks = source[Symbol.iterator]();
  for (;;) {
    let step: IteratorResult<Uint8Array>;
    try {
      step = chunks.next();
    } catch (error) {
      kill();
      sink.destroy();
      return errnoText(error).split(' ')[0];
    }
    if (step.done) break;
    // Wait until each chunk has reached the kernel: the source reuses its buffer for the next one.
    await written(sink, step.value);
  }
  await finish(sink);
  return undefined;
}

function written(sink: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sink.destroyed) return reject(new Error('the child closed its input'));
    const onClose = (): void => reject(new Error('the child closed its input'));
    sink.once('close', onClose);
    sink.write(chunk, (error?: Error | null) => {
      sink.off('close', onClose);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Write the last bytes, close our end, and wait until the kernel has them all. */
function finish(sink: Writable, last?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sink.destroyed) return reject(new Error('the child closed its input'));
    const onClose = (): void => reject(new Error('the child closed its input'));
    sink.once('close', onClose);
    sink.end(last ?? Buffer.alloc(0), (error?: Error | null) => {
      sink.off('close', onClose);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Our fd 1 is qmail's log pipe: pass the child's output straight on. */
function relay(chunk: Buffer): void {
  try {
    for (let done = 0; done < chunk.length;) done += writeSync(1, chunk, done);
  } catch {
    // Nobody reads our output any more: the child's words are lost, the delivery is not.
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Node hands a child's path, cwd and environment over as UTF-8, so bytes that are not valid
 * UTF-8 cannot be passed directly. Those rare values go through /bin/sh, which rebuilds each one
 * from octal escapes with printf and then execs the program, so the child gets the exact bytes.
 */
function command(path: string, env: Record<string, string>, cwd: string): { file: string; args: string[]; env: Record<string, string>; cwd: string } {
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
