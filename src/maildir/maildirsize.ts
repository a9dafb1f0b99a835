import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath } from '../system/bytes';
import { errnoText, isErrno } from '../system/errno';
import { failDefer } from '../qmail/outcome';
import { quoteName } from '../qmail/status-line';
import { writeFileAtomic } from '../system/files';

/**
 * The Maildir++ usage cache (Courier's README.maildirquota, also read and written by maildrop's
 * deliverquota and Dovecot's maildir quota): `maildirsize` in the Maildir root holds the quota
 * definition (`<bytes>S,<count>C`) on its first line, then one `<bytes> <count>` line per change.
 * Adding the lines up costs one small read whatever the mailbox holds; a full rescan happens only
 * when the file cannot be trusted.
 */
export const MAILDIRSIZE = 'maildirsize';
/** A file this long has had enough appends: rescan, which also repairs any drift. */
const MAX_SIZE = 5120;
/** An over-quota figure older than this is rescanned: mail may have been deleted by a client that does not append. */
const STALE_MS = 15 * 60 * 1000;

/** What a mailbox holds: bytes and messages (Maildir++ counts bytes, not disk blocks). */
export interface Usage {
  bytes: number;
  count: number;
}

export interface MaildirSize {
  usage: Usage;
  /** Why the mailbox was rescanned, or undefined when the file's figures were used. */
  recalculated?: string;
}

/**
 * The mailbox's usage. `over` says whether figures would refuse the next message: an over-quota
 * answer from the file is rescanned when it has more than one line of figures or is 15 minutes
 * old (the Maildir++ rule), so a deletion elsewhere is noticed before mail is refused for it.
 */
export function readMaildirSize(maildir: string, definition: string, nowMs: number, over: (usage: Usage) => boolean, persist = true): MaildirSize {
  const cached = readCache(join(maildir, MAILDIRSIZE), definition);
  if (typeof cached === 'string') return { usage: recalculate(maildir, definition, persist), recalculated: cached };
  if (over(cached.usage) && (cached.lines > 1 || nowMs - cached.mtimeMs >= STALE_MS)) {
    return { usage: recalculate(maildir, definition, persist), recalculated: 'over quota by its figures' };
  }
  return { usage: cached.usage };
}

/** The file's figures, or why they cannot be used. */
function readCache(path: string, definition: string): { usage: Usage; lines: number; mtimeMs: number } | string {
  let fd: number;
  try {
    // Never follow a symlink: the file could then name anything, and a rescan replaces the link itself.
    fd = openSync(fsPath(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'missing';
    return isErrno(error, 'ELOOP') ? 'a symlink' : 'unreadable';
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return 'not a file';
    if (stat.size >= MAX_SIZE) return `${MAX_SIZE} bytes or more`;
    const buffer = Buffer.alloc(MAX_SIZE);
    let length = 0;
    for (let n; length < MAX_SIZE && (n = readSync(fd, buffer, length, MAX_SIZE - length, length)) > 0;) length += n;
    if (length >= MAX_SIZE) return `${MAX_SIZE} bytes or more`;
    const parsed = parse(buffer.toString('latin1', 0, length), definition);
    return typeof parsed === 'string' ? parsed : { ...parsed, mtimeMs: stat.mtimeMs };
  } catch {
    return 'unreadable';
  } finally {
    closeSync(fd);
  }
}

const FIGURES = /^[ \t]*(-?\d+)[ \t]+(-?\d+)[ \t]*$/;

function parse(text: string, definition: string): { usage: Usage; lines: number } | string {
  // A last line without its newline is an append cut short (or a hand edit): not to be trusted.
  if (!text.endsWith('\n')) return 'corrupt';
  const [header, ...lines] = text.slice(0, -1).split('\n');
  if (header.trim() !== definition) return 'its limits differ from the record';
  const usage = { bytes: 0, count: 0 };
  for (const line of lines) {
    const figures = FIGURES.exec(line);
    if (!figures) return 'corrupt';
    usage.bytes += Number(figures[1]);
    usage.count += Number(figures[2]);
  }
  if (!Number.isSafeInteger(usage.bytes) || usage.bytes < 0 || usage.count < 0) return 'corrupt';
  return { usage, lines: lines.length };
}

/**
 * Where one delivery counts itself. It is opened just before the commit (the link into new/) and
 * written just after, and the file's identity is checked once more after the write. That order is
 * what keeps the figures exact while a rescan races the delivery:
 * - a rescan that counted the message ran after the link, so after the open: the line went to the
 *   file that rescan replaced, and is not counted twice;
 * - a rescan that missed the message and replaced the file after the open has dropped the line:
 *   the identity check sees the new file and removes it, so the next delivery counts afresh;
 * - a rescan that missed the message and replaced the file before the open gets the line.
 * The rescan's own rule (`settled`) covers a link while it counts.
 */
export interface Tally {
  /** Count a stored message; a warning instead of a throw: the message is delivered already. */
  add(bytes: number, count: number): string | undefined;
  close(): void;
}

export function openTally(maildir: string): Tally {
  const path = join(maildir, MAILDIRSIZE);
  let fd: number | undefined;
  let opened: { dev: number; ino: number } | undefined;
  let unusable = false;
  try {
    fd = openSync(fsPath(path), constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    opened = fstatSync(fd);
  } catch (error) {
    // Gone (a rescan gave up on it): the next delivery counts afresh, this one included.
    unusable = !isErrno(error, 'ENOENT');
  }
  return {
    add(bytes, count) {
      let written = !unusable;
      if (fd !== undefined && written) {
        const line = Buffer.from(`${bytes} ${count}\n`);
        try {
          written = writeSync(fd, line) === line.length;
        } catch {
          written = false;
        }
      }
      if (written && sameFile(path, opened)) return undefined;
      // A figure is missing or may be counted twice: no figures rather than wrong ones.
      return removeFigures(path) ? undefined : `vdeliver: warning: could not update ${path}; its next rescan repairs it`;
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

function sameFile(path: string, opened: { dev: number; ino: number } | undefined): boolean {
  try {
    const now = lstatSync(fsPath(path));
    return opened !== undefined && now.ino === opened.ino && now.dev === opened.dev;
  } catch (error) {
    return opened === undefined && isErrno(error, 'ENOENT');
  }
}

/** Remove the file: the next delivery then counts the mailbox afresh. */
function removeFigures(path: string): boolean {
  try {
    unlinkSync(fsPath(path));
    return true;
  } catch (error) {
    return isErrno(error, 'ENOENT');
  }
}

/**
 * The Maildir++ recalculation: count new/ and cur/ of the Maildir and of every folder but Trash,
 * sizes from `,S=<bytes>` in the name where a Maildir++ writer put it (no stat needed), then write
 * a fresh file atomically. The count is kept only if it has `settled`; otherwise count once more
 * after a pause, and if the mailbox still moves, remove the file so a later delivery counts afresh.
 * `persist: false` only counts (a dry run changes nothing).
 */
export function recalculate(maildir: string, definition: string, persist = true): Usage {
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    const { usage, times } = scan(maildir);
    if (!persist) return usage;
    const written = writeCache(maildir, definition, usage);
    const unsettled = written ? unsettledFor(maildir, times, started) : 0;
    if (unsettled === 0) return usage;
    if (attempt >= 2) {
      removeFigures(join(maildir, MAILDIRSIZE));
      return usage;
    }
    pause(unsettled);
  }
}

/**
 * A directory's time comes from the kernel's coarse clock, up to a tick (1 to 10 ms) behind the
 * real one, and two changes within a tick leave the same time. So a time that did not change proves
 * nothing; a time older than the start of the count by more than a tick proves that the directory
 * has not changed since.
 */
const CLOCK_TICK_MS = 20;

/**
 * 0 when every counted directory is unchanged since `started` (and no folder came or went), so the
 * count is exact; otherwise how long to wait until the newest change is a tick old.
 */
function unsettledFor(maildir: string, times: Map<string, number | undefined>, started: number): number {
  const now = countedDirectories(maildir);
  if (now.length !== times.size || !now.every((dir) => times.has(dir))) return CLOCK_TICK_MS;
  let newest = -Infinity;
  for (const dir of now) {
    let mtimeMs: number | undefined;
    try {
      mtimeMs = statSync(fsPath(dir)).mtimeMs;
    } catch {
      mtimeMs = undefined;
    }
    if (mtimeMs !== times.get(dir)) return CLOCK_TICK_MS;
    if (mtimeMs !== undefined) newest = Math.max(newest, mtimeMs);
  }
  if (newest < started - CLOCK_TICK_MS) return 0;
  return Math.min(2 * CLOCK_TICK_MS, Math.max(1, Math.ceil(newest + CLOCK_TICK_MS + 1 - Date.now())));
}

/** A synchronous sleep: the delivery path is synchronous here, and a rescan that has to wait is rare. */
let sleeper: Int32Array | undefined;
const pause = (ms: number) => Atomics.wait((sleeper ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, ms);

const SIZE_IN_NAME = /,S=(\d+)(?:[:,]|$)/;

function scan(maildir: string): { usage: Usage; times: Map<string, number | undefined> } {
  const usage = { bytes: 0, count: 0 };
  // Each counted directory's time before it was read; undefined for one that is not there.
  const times = new Map<string, number | undefined>();
  for (const dir of countedDirectories(maildir)) {
    let names: string[];
    try {
      times.set(dir, statSync(fsPath(dir)).mtimeMs);
      names = readdirSync(fsPath(dir), { encoding: 'latin1' });
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) {
        times.set(dir, undefined); // a folder removed while we count
        continue;
      }
      throw uncountable(dir, error);
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const inName = SIZE_IN_NAME.exec(name);
      let size: number;
      if (inName) size = Number(inName[1]);
      else {
        try {
          const stat = lstatSync(fsPath(join(dir, name)));
          if (!stat.isFile()) continue;
          size = stat.size;
        } catch {
          continue; // removed while we counted
        }
      }
      usage.bytes += size;
      usage.count += 1;
    }
  }
  return { usage, times };
}

/** A mailbox we cannot count cannot be judged against its quota: defer rather than guess. */
const uncountable = (dir: string, error: unknown) =>
  failDefer(`vdeliver: cannot count the mailbox for its quota: ${quoteName(dir)}: ${errnoText(error)} (#4.3.0)`, error);

function countedDirectories(maildir: string): string[] {
  const dirs = [join(maildir, 'new'), join(maildir, 'cur')];
  let entries: string[];
  try {
    entries = readdirSync(fsPath(maildir), { encoding: 'latin1' });
  } catch (error) {
    throw uncountable(maildir, error);
  }
  for (const entry of entries) {
    // Folders are `.name` (Maildir++); Trash does not count (the Maildir++ default).
    if (!entry.startsWith('.') || entry === '.' || entry === '..' || entry === '.Trash') continue;
    dirs.push(join(maildir, entry, 'new'), join(maildir, entry, 'cur'));
  }
  return dirs;
}

/**
 * Write the file in tmp/ and rename it into place (the Maildir++ procedure), so a reader sees the
 * old figures or the new ones. No fsync: after a crash the figures are recounted anyway.
 */
function writeCache(maildir: string, definition: string, usage: Usage): boolean {
  try {
    writeFileAtomic(join(maildir, MAILDIRSIZE), [Buffer.from(`${definition}\n${usage.bytes} ${usage.count}\n`)], {
      tempDir: join(maildir, 'tmp'),
      durable: false,
    });
    return true;
  } catch {
    return false; // the figures still count for this delivery; the next one tries again
  }
}
