import { closeSync, fstatSync, readSync } from 'node:fs';
import { command, relay, type RunResult, startFailure } from './child-command';
import { anonymousFile } from './files';
import { spawnToExit } from './spawn-to-exit';

export interface ExitRunOptions {
  env: Record<string, string>;
  cwd: string;
  /** A file the child reads as its fd 0, from the descriptor's current offset. */
  stdin: number;
  /** A file for the child's fd 1 (qmail-queue's envelope); without it, fd 1 and 2 are the child's output. */
  envelope?: number;
  /** Kill the child and everything it started after this long. */
  timeoutMs?: number;
  /** Collect stdout and stderr (interleaved) instead of passing them on to our fd 1. */
  captureOutput?: boolean;
  /** Also give the child an fd 6 and collect what it writes there (qmail-queue's error channel). */
  errorChannel?: boolean;
  /** Where the unnamed files for the child's output are made ($TMPDIR). */
  scratch: string;
}

/**
 * Run a child to its exit with a file on every descriptor (src/system/spawn-to-exit.ts): the
 * cheap way, for hooks and small forwards. Its output goes to an unnamed file and is passed on
 * (or captured) once it has exited, so a background process it leaves holding its output keeps
 * nobody waiting, where a pipe would hold qmail's delivery slot. Returns undefined when no such
 * file can be made ($TMPDIR full or not writable): the caller then streams through pipes (exec.ts).
 */
export function runToExit(path: string, options: ExitRunOptions): RunResult | undefined {
  const files = outputFiles(options.scratch, options.errorChannel === true);
  if (!files) return undefined;
  const { output, channel } = files;
  try {
    const { file, args, env, cwd } = command(path, options.env, options.cwd);
    const stdio: Array<number | 'ignore'> = [options.stdin, options.envelope ?? output, output];
    if (channel !== undefined) stdio.push('ignore', 'ignore', 'ignore', channel);
    const exited = spawnToExit({ file, args, env, cwd, stdio, timeoutMs: options.timeoutMs });
    if (exited.startErrno !== undefined) return startFailure(exited.startErrno, options.cwd);
    let printed: string | undefined;
    if (options.captureOutput) printed = readAll(output).toString('latin1');
    else forEachBlock(output, relay);
    return {
      exitCode: exited.exitCode,
      signal: exited.signal,
      timedOut: exited.timedOut,
      inputFailed: false,
      errorChannel: channel === undefined ? '' : readAll(channel).toString('latin1'),
      output: printed,
    };
  } finally {
    closeSync(output);
    if (channel !== undefined) closeSync(channel);
  }
}

/**
 * Appending files: a child that opens /dev/stderr (or /dev/stdout) again, as `echo >>/dev/stderr`
 * does, gets a description of its own on the same file, and without O_APPEND its fd 1 and 2 would
 * then write over those lines and leave NUL-filled holes in what is passed on. (A truncating
 * `echo >/dev/stderr` still drops what came before it, as it would with a plain file.)
 */
function outputFiles(scratch: string, errorChannel: boolean): { output: number; channel?: number } | undefined {
  let output: number | undefined;
  try {
    output = anonymousFile(scratch, true);
    return { output, channel: errorChannel ? anonymousFile(scratch, true) : undefined };
  } catch {
    if (output !== undefined) closeSync(output);
    return undefined;
  }
}

/** A child's output is usually a line or two: read it in small blocks, whatever its size. */
const OUTPUT_BLOCK = 64 * 1024;

/**
 * What the file held when the child exited, block by block. A background process the child left
 * may go on writing to it; reading only up to the size it had keeps that from holding us.
 */
function forEachBlock(fd: number, use: (block: Buffer) => void): void {
  const size = fstatSync(fd).size;
  const buffer = Buffer.allocUnsafe(Math.min(OUTPUT_BLOCK, Math.max(size, 1)));
  for (let position = 0; position < size;) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (n === 0) return;
    use(buffer.subarray(0, n));
    position += n;
  }
}

function readAll(fd: number): Buffer {
  const blocks: Buffer[] = [];
  forEachBlock(fd, (block) => blocks.push(Buffer.from(block)));
  return Buffer.concat(blocks);
}
