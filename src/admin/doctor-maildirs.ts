import { accessSync, constants, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fsPath, printable } from '../system/bytes';
import { checkMaildir } from '../maildir/maildir-writer';
import type { PasswordRecord } from '../vmailmgr/password-record';
import { type Check, fail, failure, lstat, ok, stat, warn } from './checks';
import { type BaseUser, chown, makeDirs, quote } from './fixes';

/** A valid record of the table; the key and the record's fields are byte strings (src/system/bytes.ts). */
export interface User {
  key: string;
  record: PasswordRecord;
}

const can = (path: string, mode: number): boolean => failure(() => accessSync(fsPath(path), mode)) === undefined;
export const searchable = (dir: string): boolean => can(dir, constants.X_OK);

/** The first directory on the way to `path` (from /) that cannot be searched, if any. */
export function firstUnsearchable(path: string): string | undefined {
  let prefix = '';
  for (const part of path.split('/').filter(Boolean)) {
    prefix += `/${part}`;
    const st = stat(prefix);
    if (!st) return undefined;
    if (st.isDirectory() && !searchable(prefix)) return prefix;
  }
  return undefined;
}

/** The delivery's own test: would vdeliver take this directory for a Maildir? */
function deliverable(dir: string): boolean {
  try {
    checkMaildir(dir);
    return true;
  } catch {
    return false;
  }
}

const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

/**
 * Every mailbox as the base user meets it (doctor runs as that user): reachable, a Maildir, tmp/
 * and new/ writable, owned by the base user. A directory on the way that cannot be searched hides
 * every Maildir behind it: one line for it, naming them.
 */
export function checkMaildirs(home: string, user: BaseUser, users: User[]): Check[] {
  const checks: Check[] = [];
  const blocked = new Map<string, string[]>();
  for (const { key, record } of users.filter((u) => u.record.hasMailbox && u.record.mailboxEnabled)) {
    const dir = resolve(home, record.directory);
    const [name, shown] = [printable(key), printable(record.directory)];
    const missing = ['tmp', 'new', 'cur'].filter((sub) => !stat(join(dir, sub))?.isDirectory());
    const wall = firstUnsearchable(join(dir, 'new'));
    const owned = stat(join(dir, 'new'))?.uid === user.uid && stat(join(dir, 'tmp'))?.uid === user.uid;
    // A Maildir someone else owns is given back whole; anything else is the base user's to fix.
    const giveBack = chown(user, dir, true);
    if (wall) blocked.set(wall, [...(blocked.get(wall) ?? []), name]);
    else if (!deliverable(dir))
      checks.push(
        fail(`${name}: ${shown} is not a Maildir (no ${missing.join(', ')}): mail defers`, {
          fix: makeDirs(user, home, [dir, ...missing.map((m) => join(dir, m))]),
        }),
      );
    else if (!['tmp', 'new'].every((sub) => can(join(dir, sub), constants.W_OK | constants.X_OK)))
      checks.push(
        fail(`${name}: ${shown} cannot be written by the base user (uid ${user.uid}): mail defers`, {
          fix: owned ? `chmod u+rwx ${quote(join(dir, 'tmp'))} ${quote(join(dir, 'new'))}` : giveBack,
        }),
      );
    else if (!owned) checks.push(fail(`${name}: ${shown}/new is not owned by the base user (uid ${user.uid}): delivery may fail`, { fix: giveBack }));
    else if (missing.length)
      checks.push(warn(`${name}: ${shown} has no cur/: mail is delivered, but Maildir readers expect it`, { fix: makeDirs(user, home, [join(dir, 'cur')]) }));
  }
  for (const [wall, names] of blocked) checks.push(blockedBy(home, user, wall, names, users));
  if (checks.length === 0) checks.push(ok('every mailbox is a Maildir owned by the base user'));
  return checks;
}

function blockedBy(home: string, user: BaseUser, wall: string, names: string[], users: User[]): Check {
  const listed = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
  const maildir = users.map((u) => resolve(home, u.record.directory)).find((dir) => inside(wall, dir));
  const st = stat(wall);
  const fix = st?.uid === user.uid ? `chmod u+rx ${quote(wall)}` : maildir ? chown(user, maildir, true) : chown(user, wall);
  return fail(`${printable(wall)} cannot be searched: ${names.length} Maildir(s) behind it cannot be reached (${listed}), so their mail defers`, { fix });
}

/** djb's Maildir rule: a reader removes a file in tmp/ that has not been touched for 36 hours. */
const STALE_SECONDS = 36 * 3600;

/** Files left in tmp/ by deliveries that died half way (vdeliver itself never leaves one). */
export function checkStaleTmp(home: string, now: number, users: User[]): Check[] {
  const checks: Check[] = [];
  const before = (now - STALE_SECONDS) * 1000;
  for (const { key, record } of users.filter((u) => u.record.hasMailbox)) {
    const tmp = join(resolve(home, record.directory), 'tmp');
    let names: string[] = [];
    // A tmp/ that cannot be listed is checkMaildirs' business.
    if (
      failure(() => {
        names = readdirSync(fsPath(tmp), { encoding: 'latin1' });
      })
    )
      continue;
    const stale = names.filter((name) => {
      const st = lstat(join(tmp, name));
      // Neither written nor read since: atime alone is unreliable under noatime.
      return st?.isFile() && Math.max(st.atimeMs, st.mtimeMs) < before;
    });
    if (stale.length > 0) {
      checks.push(
        warn(`${printable(key)}: ${stale.length} file(s) in tmp/ older than 36 hours, left by an interrupted delivery; Maildir readers remove them`, {
          fix: `find ${quote(tmp)} -type f -amin +2160 -mmin +2160 -delete`,
        }),
      );
    }
  }
  return checks;
}
