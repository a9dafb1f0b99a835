import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { command, relay, type RunResult, startFailure } from './child-command';
import { errnoOf, errnoText } from './errno';

export type { RunResult } from './child-command';

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
    return Promise.resolve(startFailure(errnoOf(error) ?? 0, options.cwd));
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
      if (child.pid === undefined) done(undefined, undefined, startFailure(errnoOf(error) ?? 0, options.cwd).startError);
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

/** Run a program to its end for its standard output (vdeliver-admin asks `getent`); never throws. */
export function outputOf(path: string, args: string[]): { status?: number; stdout: Buffer; error?: string } {
  const result = spawnSync(path, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin' }, timeout: 10000 });
  if (result.error) return { stdout: Buffer.alloc(0), error: (result.error as NodeJS.ErrnoException).code ?? result.error.message };
  return { status: result.status ?? undefined, stdout: result.stdout };
}
