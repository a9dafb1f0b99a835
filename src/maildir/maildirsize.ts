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
 * Add one delivery's figures with a single O_APPEND write, so concurrent deliveries never lose a
 * line. Returns a warning instead of throwing: the message is already delivered.
 */
export function appendMaildirSize(maildir: string, bytes: number, count: number): string | undefined {
  const path = join(maildir, MAILDIRSIZE);
  try {
    const fd = openSync(fsPath(path), constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const line = Buffer.from(`${bytes} ${count}\n`);
      if (writeSync(fd, line) !== line.length) return `vdeliver: warning: a short write to ${path}; its next rescan repairs it`;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    // Gone (a rescan raced us and removed it): the next delivery rescans.
    if (isErrno(error, 'ENOENT')) return undefined;
    return `vdeliver: warning: could not update ${path}; its next rescan repairs it`;
  }
  return undefined;
}

/**
 * The Maildir++ recalculation: count new/ and cur/ of the Maildir and of every folder but Trash,
 * sizes from `,S=<bytes>` in the name where a Maildir++ writer put it (no stat needed), then write
 * a fresh file atomically. If a directory changed while we counted, count once more; if it changes
 * again, remove the file so the next delivery counts afresh (its figures would be off).
 * `persist: false` only counts (a dry run changes nothing).
 */
export function recalculate(maildir: string, definition: string, persist = true): Usage {
  for (let attempt = 1; ; attempt++) {
    const { usage, times } = scan(maildir);
    if (!persist) return usage;
    const written = writeCache(maildir, definition, usage);
    if (!written || unchanged(maildir, times)) return usage;
    if (attempt >= 2) {
      try {
        unlinkSync(fsPath(join(maildir, MAILDIRSIZE)));
      } catch {
        /* already gone */
      }
      return usage;
    }
  }
}

const SIZE_IN_NAME = /,S=(\d+)(?:[:,]|$)/;

function scan(maildir: string): { usage: Usage; times: Map<string, number> } {
  const usage = { bytes: 0, count: 0 };
  const times = new Map<string, number>();
  for (const dir of countedDirectories(maildir)) {
    let names: string[];
    try {
      times.set(dir, statSync(fsPath(dir)).mtimeMs);
      names = readdirSync(fsPath(dir), { encoding: 'latin1' });
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) continue; // a folder removed while we count
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

/** Whether every counted directory still has the time it had when it was counted (one by one: coarse clocks tie). */
function unchanged(maildir: string, times: Map<string, number>): boolean {
  const now = countedDirectories(maildir);
  // A folder that came (its directories have no time here) or went (fewer directories) is a change.
  return (
    now.length >= times.size &&
    now.every((dir) => {
      try {
        return statSync(fsPath(dir)).mtimeMs === times.get(dir);
      } catch {
        return !times.has(dir);
      }
    })
  );
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
