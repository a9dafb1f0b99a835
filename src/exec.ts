import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { execa } from 'execa';

/**
 * The one place child processes are started. Every run has an explicit environment, working
 * directory and timeout, never throws for the child's own failures, and returns a plain result.
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
  errorChannel: string;
  /** What the child printed, when captured. */
  output?: string;
}

export async function run(path: string, options: RunOptions): Promise<RunResult> {
  const streamed = typeof options.stdin !== 'number';
  const output = options.captureOutput ? 'pipe' : 'inherit';
  const stdio = [streamed ? 'pipe' : options.stdin, options.stdout ?? output, output, ...(options.errorChannel ? ['ignore', 'ignore', 'ignore', 'pipe'] : [])];
  const child = execa(path, [], {
    stdio: stdio as never,
    env: options.env,
    extendEnv: false,
    cwd: options.cwd,
    // Its own process group, so a timeout kills whatever the child started too: a grandchild
    // left holding our output pipe would keep qmail's delivery slot busy.
    detached: options.timeoutMs !== undefined,
    cleanup: true,
    reject: false,
    stripFinalNewline: false,
    all: options.captureOutput === true,
    encoding: 'utf8',
  });
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, options.timeoutMs);
  // Our own copy loop, not the library's: it must tell us when the child stopped reading early
  // (execa deliberately ignores EPIPE), because qmail-queue exiting 0 then has not queued the message.
  const stdin = child.stdin as NodeJS.WritableStream | null;
  const input = streamed && stdin
    ? pipeline(Readable.from(options.stdin as Iterable<Uint8Array>), stdin).then(() => false, () => true)
    : Promise.resolve(false);
  const [result, inputFailed] = await Promise.all([child, input]);
  if (timer) clearTimeout(timer);
  const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
  const started = child.pid !== undefined;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut,
    startError: started ? undefined : (code ?? result.shortMessage),
    inputFailed,
    errorChannel: options.errorChannel ? String((result.stdio as unknown[])[6] ?? '') : '',
    output: options.captureOutput ? String(result.all ?? '') : undefined,
  };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
