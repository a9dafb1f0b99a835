import { closeSync, constants, fsyncSync, linkSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fromText, fsPath } from './bytes';
import { isErrno } from './errno';

/** Reads and writes of a message go in blocks this large: big messages stay fast, memory stays flat; small ones get a buffer their own size. */
export const BLOCK_SIZE = 1 << 20;

/** write(2) until every byte is written (a short write is not an error), optionally at a position. */
export function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  for (let done = 0; done < bytes.length;) {
    done += writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done);
  }
}

/**
 * 64 random bits as 16 hex digits, for temporary and Maildir names. Uniqueness comes from the
 * exclusive create (and, for Maildir names, time, pid and a counter); this only makes names
 * unguessable enough, so Math.random suffices and saves loading node:crypto on every delivery.
 */
export function randomTag(): string {
  const part = (): string =>
    Math.floor(Math.random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return part() + part();
}

const ATTEMPTS = 3;

/**
 * The one way a new file is made: `<dir>/<name(attempt)>` with O_CREAT|O_EXCL (never an existing
 * file, never through a symlink), a fresh name on a collision, a few attempts at most. Other
 * errors are thrown as they are, for the caller's errno table.
 */
export function createExclusive(
  dir: string,
  name: (attempt: number) => string,
  mode = 0o600,
  flags = constants.O_WRONLY,
): { fd: number; path: string; name: string } {
  for (let attempt = 1; ; attempt++) {
    const file = name(attempt);
    const path = join(dir, file);
    try {
      return { fd: openSync(fsPath(path), flags | constants.O_CREAT | constants.O_EXCL, mode), path, name: file };
    } catch (error) {
      if (!isErrno(error, 'EEXIST') || attempt >= ATTEMPTS) throw error;
    }
  }
}

/** A private temporary file (mode 0600) in `dir`, open for reading and writing. */
export const temporaryFile = (dir: string, prefix: string): { fd: number; path: string } =>
  createExclusive(dir, () => `${prefix}-${randomTag()}`, 0o600, constants.O_RDWR);

/**
 * $TMPDIR (or /tmp) as a byte string, like every other path here: from the environment a child is
 * given (os.tmpdir()'s rule, without loading node:os for it), else from our own.
 */
export function scratchDir(env?: Readonly<Record<string, string | undefined>>): string {
  if (!env) return fromText((require('node:os') as typeof import('node:os')).tmpdir());
  const dir = env.TMPDIR || env.TMP || env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** Linux's O_TMPFILE (include/uapi/asm-generic/fcntl.h): an unnamed file in a directory. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/**
 * An unnamed file in `dir`, open for reading and writing: it goes away with its last descriptor,
 * so nothing is left behind whatever happens, a kill included. Where the file system or kernel
 * cannot make one, a named private file that is unlinked at once. `append` opens it O_APPEND
 * (every write lands at its end; Linux's pwrite too, so not for files written by position).
 */
export function anonymousFile(dir: string, append = false): number {
  const flags = constants.O_RDWR | (append ? constants.O_APPEND : 0);
  try {
    return openSync(fsPath(dir), flags | O_TMPFILE, 0o600);
  } catch (error) {
    if (!isErrno(error, 'EOPNOTSUPP', 'EISDIR', 'EINVAL')) throw error;
  }
  const { fd, path } = createExclusive(dir, () => `.vdeliver-scratch-${randomTag()}`, 0o600, flags);
  unlinkSync(fsPath(path));
  return fd;
}

/** Has the descriptor's offset reached the end of its file (did whoever shared it read it all)? */
export const readToEnd = (fd: number): boolean => readSync(fd, Buffer.alloc(1), 0, 1, null) === 0;

/**
 * Replace `path` with `chunks` so that readers see either the old file or the complete new one:
 * write a temporary file (in `tempDir`, by default beside the target), fsync it unless told not
 * to, rename it over the target, then fsync the directory so the rename survives a crash.
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>, options: { tempDir?: string; durable?: boolean } = {}): void {
  const durable = options.durable ?? true;
  const { fd, path: tmp } = temporaryFile(options.tempDir ?? dirname(path), '.vdeliver-new');
  try {
    try {
      for (const chunk of chunks) writeAll(fd, chunk);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(fsPath(tmp), fsPath(path));
  } catch (error) {
    try {
      unlinkSync(fsPath(tmp));
    } catch {
      /* already renamed or never written: nothing to clean */
    }
    throw error;
  }
  if (durable) syncDirectory(dirname(path));
}

/**
 * Give `existing` the second name `target`, replacing an old `target` in one rename: whoever
 * reads `target` sees the old file or the new one, never none (a backup, `passwd.cdb~`).
 */
export function linkReplacing(existing: string, target: string): void {
  const tmp = join(dirname(target), `.vdeliver-link-${randomTag()}`);
  linkSync(fsPath(existing), fsPath(tmp));
  try {
    renameSync(fsPath(tmp), fsPath(target));
  } catch (error) {
    try {
      unlinkSync(fsPath(tmp));
    } catch {
      /* never made or already gone: nothing to clean */
    }
    throw error;
  }
}

export function syncDirectory(dir: string): void {
  const fd = openSync(fsPath(dir), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Append `bytes` to `path` with one write(2) on a descriptor opened with O_APPEND (the file is made,
 * mode 0600, when missing): lines from concurrent writers never interleave, and a file renamed
 * away (log rotation) is left alone by the next writer, who opens the new one. O_NONBLOCK, so a
 * FIFO never makes us wait: with no reader the open fails (ENXIO), a full one fails the write.
 */
export function appendWhole(path: string, bytes: Uint8Array): void {
  const fd = openSync(fsPath(path), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o600);
  try {
    const written = writeSync(fd, bytes);
    // A second write would let another writer's line in between: a short write stays short.
    if (written !== bytes.length) throw new Error(`only ${written} of ${bytes.length} bytes were written`);
  } finally {
    closeSync(fd);
  }
}
