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
  timeoutMs?: number;
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
  /** We could not write all of stdin (the child exited early: EPIPE). */
  inputFailed: boolean;
  errorChannel: string;
}

export async function run(path: string, options: RunOptions): Promise<RunResult> {
  const stdio = [options.stdin, options.stdout ?? 'inherit', 'inherit', ...(options.errorChannel ? ['ignore', 'ignore', 'ignore', 'pipe'] : [])];
  const result = await execa(path, [], {
    stdio: stdio as never,
    env: options.env,
    extendEnv: false,
    cwd: options.cwd,
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
    reject: false,
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
  const started = result.exitCode !== undefined || result.signal !== undefined;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    startError: started ? undefined : (code ?? result.shortMessage),
    inputFailed: code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET',
    errorChannel: options.errorChannel ? String((result.stdio as unknown[])[6] ?? '') : '',
  };
}
