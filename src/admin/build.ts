import { readFileSync, statSync } from 'node:fs';
import { byteString, fsPath, printable } from '../system/bytes';
import { linkReplacing } from '../system/files';
import { encodePasswordRecord } from '../vmailmgr/password-record';
import { type AdminContext, AdminError } from './context';
import { ALLOW_OUTSIDE_HOME, keyOf, withTableLock, writeRecords } from './edit';
import { createMaildir } from './maildir-create';
import { parseUsersFile, type UserLine } from './users-file';

const FORCE = '--force';
const CREATE_MAILDIRS = '--create-maildirs';
const FLAGS = [ALLOW_OUTSIDE_HOME, FORCE, CREATE_MAILDIRS];

/**
 * `build FILE`: write passwd.cdb from a users file, atomically, with vmailmgr's signed-char hash.
 * The file name and the file's contents are byte strings (src/system/bytes.ts), so every field is stored
 * as the bytes the file holds, whatever their encoding.
 */
export function build(ctx: AdminContext, args: string[], stdin: () => string): { out: string; errors: string[] } {
  const rest = args.filter((a) => !FLAGS.includes(a));
  const option = rest.find((a) => a.startsWith('-') && a !== '-');
  if (option) throw new AdminError(`unknown option ${printable(option)} (see vdeliver-admin build --help)`);
  if (rest.length !== 1) throw new AdminError('build: name one users file (or - for standard input)');
  const users = parseUsersFile(readUsersFile(rest[0], stdin), printable(rest[0]), args.includes(ALLOW_OUTSIDE_HOME));
  const table = printable(ctx.tablePath);
  // The old table is replaced, not read: it may be the broken one being rebuilt.
  const replaced = withTableLock(ctx, () => {
    const exists = statSync(fsPath(ctx.tablePath), { throwIfNoEntry: false }) !== undefined;
    if (exists && !args.includes(FORCE)) throw new AdminError(`${table} exists; give ${FORCE} to replace it (the old table is then kept as ${table}~)`);
    if (exists) keepBackup(ctx);
    writeRecords(
      ctx,
      users.map((u) => ({ key: keyOf(u.key), value: encodePasswordRecord(u.record) })),
    );
    return exists;
  });
  const notes = replaced ? [`the old table is kept as ${table}~`] : [];
  const errors: string[] = [];
  if (args.includes(CREATE_MAILDIRS)) notes.push(createMaildirs(ctx, users, errors));
  const count = `${users.length} record${users.length === 1 ? '' : 's'}`;
  return { out: `wrote ${count} to ${table}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}\n`, errors };
}

function readUsersFile(file: string, stdin: () => string): string {
  try {
    return file === '-' ? stdin() : byteString(readFileSync(fsPath(file)));
  } catch (error) {
    throw new AdminError(`cannot read ${printable(file)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** `<table>~` becomes the table being replaced, in one rename, so there is always a good copy to go back to. */
function keepBackup(ctx: AdminContext): void {
  try {
    linkReplacing(ctx.tablePath, `${ctx.tablePath}~`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new AdminError(`cannot keep the old table as ${printable(ctx.tablePath)}~: ${code}; nothing was changed`);
  }
}

/** The missing Maildirs of every user with a mailbox; the table is written, so a failure is reported, not thrown. */
function createMaildirs(ctx: AdminContext, users: readonly UserLine[], errors: string[]): string {
  let created = 0;
  let present = 0;
  for (const { record } of users) {
    if (!record.hasMailbox || record.directory === '') continue;
    try {
      if (createMaildir(ctx.home, record.directory)) created++;
      else present++;
    } catch (error) {
      errors.push(`the Maildir ${printable(record.directory)} could not be created: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  return `${created} Maildir${created === 1 ? '' : 's'} created, ${present} already there`;
}
