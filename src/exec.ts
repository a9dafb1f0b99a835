import { spawn, type StdioOptions } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The one place child processes are started. Every run has an explicit environment, working
 * directory and timeout, never throws for the child's own failures, and returns a plain result.
 *
 * This is node:child_process rather than execa: loading execa costs about 24 ms and running a
 * child through it about 30 ms more than this (npm run bench), for each delivery with a hook or
 * a forward, which is most of what such a delivery costs.
 */
export interface RunOptions {
  env: Record<string, string>;
  cwd: string;
  /** A descriptor (the message file), or chunks to stream in with back-pressure. */
  stdin: number | Iterable<Uint8Array>;
  /** A descriptor to hand over as fd 1 (qmail-queue reads its envelope there), or our own stdout. */
  stdout?: number;
  /** Kill the child and everything it started after this long. */
  timeoutMs?: number;
  /** Collect stdout and stderr (interleaved) instead of passing them straight to ours. */
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
  /** We could not hand over all of stdin (the child stopped reading: EPIPE, early exit). */
  inputFailed: boolean;
  /** Reading our own input failed; the child was killed before it could see a (false) end of input. */
  sourceError?: string;
  errorChannel: string;
  /** What the child printed, when captured. */
  output?: string;
}

export function run(path: string, options: RunOptions): Promise<RunResult> {
  const streamed = typeof options.stdin !== 'number';
  const output = options.captureOutput ? 'pipe' : 'inherit';
  const stdio: StdioOptions = [streamed ? 'pipe' : (options.stdin as number), options.stdout ?? output, output];
  if (options.errorChannel) stdio.push('ignore', 'ignore', 'ignore', 'pipe');
  const child = spawn(path, [], {
    stdio,
    env: options.env,
    cwd: options.cwd,
    // Its own process group, so a timeout kills whatever the child started too: a grandchild
    // left holding our output pipe would keep qmail's delivery slot busy.
    detached: options.timeoutMs !== undefined,
  });
  const printed: Buffer[] = [];
  if (options.captureOutput) for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => printed.push(chunk));
  const channel: Buffer[] = [];
  (child.stdio as unknown as Array<Readable | null | undefined>)[6]?.on('data', (chunk: Buffer) => channel.push(chunk));
  // A child that stops reading early must not count as having taken the whole message: qmail-queue
  // exiting 0 after a short read has not queued it.
  let sourceError: string | undefined;
  const guarded = function* (source: Iterable<Uint8Array>): Generator<Uint8Array> {
    const chunks = source[Symbol.iterator]();
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = chunks.next();
      } catch (error) {
        // Reading the message failed (not the child's end). Kill before our end of the pipe closes:
        // qmail-queue would take that EOF for the end of a whole message and queue a truncated copy.
        sourceError = (error as NodeJS.ErrnoException).code ?? String(error);
        child.kill('SIGKILL');
        throw error;
      }
      if (step.done) return;
      yield step.value;
    }
  };
  const input = streamed && child.stdin
    ? pipeline(Readable.from(guarded(options.stdin as Iterable<Uint8Array>)), child.stdin).then(() => false, () => true)
    : Promise.resolve(false);
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, options.timeoutMs);
  const finished = new Promise<RunResult>((resolve) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) resolve(result(undefined, undefined, error.code ?? error.message));
    });
    child.on('close', (code, signal) => resolve(result(code ?? undefined, signal ?? undefined)));
  });
  const result = (exitCode: number | undefined, signal: string | undefined, startError?: string): RunResult => ({
    exitCode, signal, timedOut, startError, inputFailed: false,
    errorChannel: Buffer.concat(channel).toString('utf8'),
    output: options.captureOutput ? Buffer.concat(printed).toString('utf8') : undefined,
  });
  return Promise.all([finished, input]).then(([done, inputFailed]) => {
    if (timer) clearTimeout(timer);
    return { ...done, inputFailed: inputFailed && done.startError === undefined, sourceError };
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
