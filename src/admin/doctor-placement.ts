import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { byteString, fsPath, printable } from '../system/bytes';
import { type Check, failure, lstat, warn } from './checks';
import type { User } from './doctor-maildirs';

/**
 * Where a directory really leads from `home` (both byte strings), walked one component at a time
 * as the kernel does: a symlink is followed where it stands, so `link/..` is the parent of the
 * link's target, not the directory holding the link. Components that do not exist (or cannot be
 * reached) are taken as written. Returns the real path and the symlinks passed on the way.
 */
function realTarget(home: string, directory: string): { path: string; symlinks: string[] } {
  let current = isAbsolute(directory) ? '/' : home;
  const symlinks: string[] = [];
  const parts = directory.split('/').filter((p) => p !== '' && p !== '.');
  for (const [i, part] of parts.entries()) {
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    const st = lstat(next);
    if (!st) return { path: join(next, ...parts.slice(i + 1)), symlinks };
    if (st.isSymbolicLink()) {
      symlinks.push(next);
      const real = realpathBytes(next);
      if (real === undefined) return { path: join(next, ...parts.slice(i + 1)), symlinks };
      current = real;
    } else current = next;
  }
  return { path: current, symlinks };
}

function realpathBytes(path: string): string | undefined {
  let real: Buffer | undefined;
  return failure(() => {
    real = realpathSync(fsPath(path), { encoding: 'buffer' });
  }) || !real
    ? undefined
    : byteString(real);
}

/**
 * Records whose directory leads outside the home (absolute, or `..` climbing out, once symlinks
 * are followed) or passes through a symlink: legitimate sometimes, but mail then lands where
 * vdeliver-admin would refuse to put it, and where the home's backups and permissions do not reach.
 */
export function checkPlacement(homeDir: string, users: User[]): Check[] {
  const home = realpathBytes(homeDir);
  if (home === undefined) return [];
  const checks: Check[] = [];
  for (const { key, record } of users.filter((u) => u.record.directory !== '')) {
    const { path, symlinks } = realTarget(home, record.directory);
    const inside = relative(home, path);
    const outside = inside === '..' || inside.startsWith('../');
    const via = symlinks.length > 0 ? ` through the symlink ${printable(symlinks[0])}` : '';
    const what = `${printable(key)}: directory ${printable(record.directory)}`;
    if (outside)
      checks.push(
        warn(`${what} leads outside the home${via}, to ${printable(path)}`, {
          hint: `unless that is deliberate, move the Maildir into the home and give the record its place with vdeliver-admin set ${printable(key)} --directory`,
        }),
      );
    else if (via) checks.push(warn(`${what} goes${via}`, { hint: 'unless that is deliberate, point the record at the real directory' }));
  }
  return checks;
}
