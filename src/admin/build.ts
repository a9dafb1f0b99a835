import { readFileSync } from 'node:fs';
import { byteString, fsPath, printable } from '../system/bytes';
import { encodePasswordRecord } from '../vmailmgr/password-record';
import { type AdminContext, AdminError } from './context';
import { ALLOW_OUTSIDE_HOME, keyOf, withTableLock, writeRecords } from './edit';
import { parseUsersFile } from './users-file';

/**
 * `build FILE`: write passwd.cdb from a users file, atomically, with vmailmgr's signed-char hash.
 * The file name and the file's contents are byte strings (src/system/bytes.ts), so every field is stored
 * as the bytes the file holds, whatever their encoding.
 */
export function build(ctx: AdminContext, args: string[], stdin: () => string): { out: string; errors: string[] } {
  const allowOutsideHome = args.includes(ALLOW_OUTSIDE_HOME);
  const rest = args.filter((a) => a !== ALLOW_OUTSIDE_HOME);
  const option = rest.find((a) => a.startsWith('-') && a !== '-');
  if (option) throw new AdminError(`unknown option ${printable(option)} (see vdeliver-admin build --help)`);
  if (rest.length !== 1) throw new AdminError('build: name one users file (or - for standard input)');
  const file = rest[0];
  let text: string;
  try {
    text = file === '-' ? stdin() : byteString(readFileSync(fsPath(file)));
  } catch (error) {
    throw new AdminError(`cannot read ${printable(file)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const users = parseUsersFile(text, printable(file), allowOutsideHome);
  // The old table is replaced, not read: it may be the broken one being rebuilt.
  withTableLock(ctx, () =>
    writeRecords(
      ctx,
      users.map((u) => ({ key: keyOf(u.key), value: encodePasswordRecord(u.record) })),
    ),
  );
  return { out: `wrote ${users.length} record${users.length === 1 ? '' : 's'} to ${printable(ctx.tablePath)}\n`, errors: [] };
}
