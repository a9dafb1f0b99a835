import { readFileSync } from 'node:fs';
import { encodePasswordRecord } from '../password-record';
import { type AdminContext, AdminError } from './context';
import { withTableLock, writeRecords } from './edit';
import { parseUsersFile } from './users-file';

/** `build FILE`: write passwd.cdb from a users file, atomically, with vmailmgr's signed-char hash. */
export function build(ctx: AdminContext, file: string | undefined, stdin: () => string): { out: string; errors: string[] } {
  if (!file) throw new AdminError('build: name the users file (or - for standard input)');
  let text: string;
  try {
    text = file === '-' ? stdin() : readFileSync(file, 'utf8');
  } catch (error) {
    throw new AdminError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const users = parseUsersFile(text, file);
  // The old table is replaced, not read: it may be the broken one being rebuilt.
  withTableLock(ctx, () => writeRecords(ctx, users.map((u) => ({ key: Buffer.from(u.key, 'utf8'), value: encodePasswordRecord(u.record) }))));
  return { out: `wrote ${users.length} record${users.length === 1 ? '' : 's'} to ${ctx.tablePath}\n`, errors: [] };
}
