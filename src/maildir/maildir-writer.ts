import { closeSync, fsyncSync, linkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_SIZE, createExclusive, randomTag, syncDirectory, writeAll } from '../system/files';
import { fsPath } from '../system/bytes';
import { errnoText, isErrno, isPermanentErrno } from '../system/errno';
import { type DeliveryFailure, failBounce, failDefer } from '../qmail/outcome';

/** A copy written to tmp/ and not yet visible. Paths are byte strings (src/system/bytes.ts). */
export interface Staged {
  maildir: string;
  name: string;
  tmpPath: string;
  newPath: string;
}

export interface Naming {
  now: () => number;
  pid: number;
  hostname: string;
}

const NOT_A_MAILDIR = 'vdeliver: Destination directory does not appear to be a maildir. (#4.2.1)';
/** link() refusals that mean "this file system does not do hard links", not "something is wrong". */
const NO_HARD_LINKS = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS', 'EMLINK'];

/**
 * A Maildir name unique across hosts, processes and deliveries within one process:
 * `<sec>.M<usec>P<pid>Q<n>R<random>.<host>,S=<size>`, with `/`, `:` and `,` in the host escaped
 * (maildir(5)). `,S=` is Maildir++'s: a quota rescan reads the size from the name, without a stat.
 */
export function uniqueName(naming: Naming, attempt: number, size: number): string {
  const ms = naming.now();
  const sec = Math.floor(ms / 1000);
  const usec = Math.floor((ms - sec * 1000) * 1000);
  const host = naming.hostname.replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');
  return `${sec}.M${usec}P${naming.pid}Q${attempt}R${randomTag()}.${host},S=${size}`;
}

/** What a Maildir copy is written from: the message (positional reads), or bytes at hand. */
export interface Content {
  size: number;
  read(buffer: Buffer, position: number): number;
}

const bytesContent = (bytes: Buffer): Content => ({
  size: bytes.length,
  read: (buffer, position) => bytes.copy(buffer, 0, position),
});

/**
 * Write `prefix` + the message into a new file in `<maildir>/tmp/`: exclusive create, mode 0600,
 * fsync, close. Nothing is visible to mail readers until `commit`. On any failure the tmp file
 * is removed before the failure is raised.
 */
export function stage(maildir: string, prefix: Buffer, message: Content, naming: Naming): Staged {
  checkMaildir(maildir);
  const { fd, name } = createInTmp(maildir, naming, prefix.length + message.size);
  const staged: Staged = { maildir, name, tmpPath: join(maildir, 'tmp', name), newPath: join(maildir, 'new', name) };
  try {
    try {
      writeAll(fd, prefix);
      const buffer = Buffer.allocUnsafe(Math.min(BLOCK_SIZE, Math.max(message.size, 4096)));
      for (let position = 0, n; (n = message.read(buffer, position)) > 0; position += n) writeAll(fd, buffer.subarray(0, n));
      // Maildir's guarantee: the bytes are on disk before the name appears in new/.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    unstage(staged);
    throw fileFailure('Error writing the output file.', error);
  }
  return staged;
}

/** Stage a message we made ourselves (the quota warning). */
export const stageBytes = (maildir: string, bytes: Buffer, naming: Naming): Staged => stage(maildir, Buffer.alloc(0), bytesContent(bytes), naming);

/** `tmp/` and `new/` must be directories (vmailmgr checks the same two; `cur/` is the reader's). */
export function checkMaildir(maildir: string): void {
  for (const sub of ['tmp', 'new']) {
    let isDir: boolean;
    try {
      isDir = statSync(fsPath(join(maildir, sub))).isDirectory();
    } catch (error) {
      throw failDefer(NOT_A_MAILDIR, error);
    }
    if (!isDir) throw failDefer(NOT_A_MAILDIR);
  }
}

/** Make the staged file visible: link into new/ (rename where hard links are refused), fsync new/, drop tmp/. */
export function commit(staged: Staged): { warning?: string } {
  let linked = true;
  try {
    linkSync(fsPath(staged.tmpPath), fsPath(staged.newPath));
  } catch (error) {
    if (!isErrno(error, ...NO_HARD_LINKS)) {
      unstage(staged);
      throw fileFailure('Error linking the temp file to the new file.', error);
    }
    try {
      renameSync(fsPath(staged.tmpPath), fsPath(staged.newPath));
      linked = false;
    } catch (renameError) {
      unstage(staged);
      throw fileFailure('Error linking the temp file to the new file.', renameError);
    }
  }
  try {
    syncDirectory(join(staged.maildir, 'new'));
  } catch (error) {
    // Not known to be durable: take it back and let qmail retry, rather than risk a silent loss.
    try {
      unlinkSync(fsPath(staged.newPath));
    } catch {
      /* it stays; the retry then makes a second copy, not a loss */
    }
    unstage(staged);
    throw fileFailure('Error syncing the new directory.', error);
  }
  if (!linked) return {};
  try {
    unlinkSync(fsPath(staged.tmpPath));
  } catch (error) {
    // The message is delivered; deferring now would deliver it twice.
    return { warning: `vdeliver: warning: could not remove ${staged.tmpPath}: ${errnoText(error)}` };
  }
  return {};
}

/** Remove the staged file (a later step failed). Never throws: the original failure matters more. */
export function unstage(staged: Staged): void {
  try {
    unlinkSync(fsPath(staged.tmpPath));
  } catch {
    /* already gone */
  }
}

function createInTmp(maildir: string, naming: Naming, size: number): { fd: number; name: string } {
  try {
    return createExclusive(join(maildir, 'tmp'), (attempt) => uniqueName(naming, attempt, size));
  } catch (error) {
    throw fileFailure('Error creating the output file.', error);
  }
}

/**
 * A file-system failure as a delivery outcome, through the errno table: a quota bounces with
 * vmailmgr's sentence, anything else defers with the sentence for the step and the errno.
 */
export function fileFailure(sentence: string, error: unknown): DeliveryFailure {
  if (isPermanentErrno(error)) return failBounce('vdeliver: Delivery failed due to system quota violation (#5.2.2)', error);
  return failDefer(`vdeliver: ${sentence} ${errnoText(error)} (#4.3.0)`, error);
}
