import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsPath, printable } from '../system/bytes';
import { errnoName, errnoOf, isErrno } from '../system/errno';
import { logFile } from '../delivery/keep-log';
import type { AdminContext } from './context';
import { type Check, ok, warn } from './checks';
import { type BaseUser, chown, quote } from './fixes';

/**
 * The delivery log as a delivery meets it (doctor runs as the base user): the file `vdeliver-log`
 * names must be a regular file the base user can append to, or be creatable in its directory.
 * A log that cannot be written never changes a delivery, so each finding is a warning: every
 * delivery would add a warning line to qmail's log and keep no line of its own.
 */
export function checkLog(ctx: AdminContext, user: BaseUser): Check[] {
  const path = logFile(ctx.config, ctx.home);
  if (path === undefined) return [ok('no delivery log is kept (vdeliver-log is not set)')];
  const shown = printable(path);
  const lost = 'every delivery warns and logs nothing';
  let st;
  try {
    st = statSync(fsPath(path));
  } catch (error) {
    if (!isErrno(error, 'ENOENT'))
      return [warn(`delivery log ${shown} cannot be looked at (${code(error)}): ${lost}`, { hint: 'make its directory searchable by the base user' })];
    const dir = dirname(path);
    if (writable(dir)) return [ok(`delivery log ${shown} will be created by the first delivery`)];
    return [
      warn(`delivery log ${shown} cannot be created: the base user cannot write ${printable(dir)}: ${lost}`, {
        fix: `${chown(user, dir)} && chmod u+wx ${quote(dir)}`,
      }),
    ];
  }
  if (!st.isFile()) return [warn(`delivery log ${shown} is not a regular file: ${lost}`, { hint: 'point vdeliver-log at a file' })];
  if (writable(path)) return [ok(`delivery log ${shown} can be appended to`)];
  return [
    warn(`delivery log ${shown} cannot be written by the base user: ${lost}`, { fix: st.uid === user.uid ? `chmod u+w ${quote(path)}` : chown(user, path) }),
  ];
}

function writable(path: string): boolean {
  try {
    accessSync(fsPath(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const code = (error: unknown): string => errnoName(errnoOf(error) ?? 0);
