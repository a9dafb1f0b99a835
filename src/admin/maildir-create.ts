import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fsPath } from '../system/bytes';

/**
 * Creates the Maildir `directory` (a byte string, relative to the home unless absolute) with its
 * tmp, new and cur, mode 0700, unless it is there: what exists is never changed, only a missing
 * part is added. The files belong to whoever runs this, which is why vdeliver-admin runs as the
 * home's owner when started as root. Returns whether the Maildir itself was new; throws the errno.
 */
export function createMaildir(home: string, directory: string): boolean {
  const path = resolve(home, directory);
  mkdirSync(fsPath(dirname(path)), { recursive: true, mode: 0o700 });
  const created = mkdirIfMissing(fsPath(path));
  for (const sub of ['tmp', 'new', 'cur']) mkdirIfMissing(fsPath(join(path, sub)));
  return created;
}

function mkdirIfMissing(path: string | Buffer): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}
