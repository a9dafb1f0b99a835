import { readFileSync } from 'node:fs';
import { byteString, fsPath, printable } from '../bytes';
import { encodePasswordRecord } from '../password-record';
import { type AdminContext, AdminError } from './context';
import { keyOf, withTableLock, writeRecords } from './edit';
import { parseUsersFile } from './users-file';

/**
 * `build FILE`: write passwd.cdb from a users file, atomically, with vmailmgr's signed-char hash.
 * The file name and the file's contents are byte strings (src/bytes.ts), so every field is stored
 * as the bytes the file holds, whatever their encoding.
 */
export function build(ctx: AdminContext, file: string | undefined, stdin: () => string): { out: string; errors: string[] } {
  if (!file) throw new AdminError('build: name the users file (or - for standard input)');
  let text: string;
  try {
    text = file === '-' ? stdin() : byteString(readFileSync(fsPath(file)));
  } catch (error) {
    throw new AdminError(`cannot read ${printable(file)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const users = parseUsersFile(text, printable(file));
  // The old table is replaced, not read: it may be the broken one being rebuilt.
  withTableLock(ctx, () => writeRecords(ctx, users.map((u) => ({ key: keyOf(u.key), value: encodePasswordRecord(u.record) }))));
  return { out: `wrote ${users.length} record${users.length === 1 ? '' : 's'} to ${ctx.tablePath}\n`, errors: [] };
}
