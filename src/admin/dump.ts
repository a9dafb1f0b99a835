import { byteString, printable } from '../system/bytes';
import { decodePasswordRecord, encodePasswordRecord, type PasswordRecord } from '../vmailmgr/password-record';
import { oldFormatDefaults, tableKey } from '../vmailmgr/password-table';
import { formatUint } from '../vmailmgr/uint32';
import { type AdminContext, AdminError } from './context';
import { checkDirectory, readRecords, type StoredRecord } from './edit';
import { parseUsersFile, USERS_FILE_COLUMNS } from './users-file';

export const DUMP_HELP = `usage: vdeliver-admin dump [--home DIR | --user NAME]

Writes the password table to standard output as the users file that build reads
(see vdeliver-admin build --help), records in table order, every field as its
exact bytes. dump > users.tsv, then build --force users.tsv, gives back the same
passwd.cdb byte for byte when every record is in vmailmgr's version-2 format.

Other records are written as build will store them:
  version-1 and old-format (:password:destination) records, and version-2 records
  stored in another layout, are converted to version 2 (an old-format record takes
  the configuration's default-* limits and expiry as they are now); a note says so.
A record build could not give back is left out, with a # line in its place and an
error on standard error (exit status 1): one that cannot be decoded, a second
record with the same key, a key with upper-case letters (delivery never finds it),
a field the users file cannot hold (a tab, a line break, a comma in a forward),
or one build refuses (a bad name or forward).
`;

/** `dump`: the table as a users file (a byte string), with the records build cannot give back left out and said why. */
export function dump(ctx: AdminContext, args: string[]): { out: string; errors: string[]; notes: string[]; bytes: true } {
  if (args.length > 0) throw new AdminError(`dump: unexpected argument '${printable(args[0])}' (it writes to standard output)`);
  const lines = [USERS_FILE_COLUMNS.join('\t')];
  const errors: string[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  for (const stored of readRecords(ctx, false)) {
    const key = byteString(stored.key);
    const outcome = dumpRecord(ctx, stored, seen);
    seen.add(key);
    if ('line' in outcome) {
      lines.push(outcome.line);
      notes.push(...outcome.notes.map((n) => `'${printable(key)}' ${n}`));
    } else {
      lines.push(`# left out '${oneLine(key)}': ${outcome.problem}`);
      errors.push(`left out '${oneLine(key)}': ${outcome.problem}`);
    }
  }
  return { out: lines.map((l) => `${l}\n`).join(''), errors, notes, bytes: true };
}

/** A key as a comment shows it: printable, and with no byte that would end the line. */
// eslint-disable-next-line no-control-regex
const oneLine = (key: string): string => printable(key).replace(/[\0-\x1f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

type Outcome = { line: string; notes: string[] } | { problem: string };

function dumpRecord(ctx: AdminContext, stored: StoredRecord, seen: ReadonlySet<string>): Outcome {
  const key = byteString(stored.key);
  if (seen.has(key)) return { problem: 'a second record with this key, which delivery never reads' };
  if (tableKey(key) !== key) return { problem: 'the key has upper-case letters, so delivery (which lower-cases the name) never finds it' };
  const record = decodePasswordRecord(stored.value, oldFormatDefaults(ctx.config), ctx.now);
  if (!record) return { problem: `the record cannot be decoded (starts ${stored.value.subarray(0, 8).toString('hex')})` };
  const line = usersLine(key, record);
  const problem = givenBack(line, key, record);
  if (problem) return { problem };
  const notes: string[] = [];
  if (!encodePasswordRecord(record).equals(stored.value))
    notes.push(record.version === 2 ? 'is stored in another version-2 layout; build writes the usual one' : formatNote(record.version));
  if (outsideHome(record.directory)) notes.push('has a directory outside the home: build needs --allow-outside-home');
  return { line, notes };
}

const formatNote = (version: 0 | 1): string =>
  version === 1
    ? 'is in the version-1 format; build writes it in version 2'
    : "is in the old :password:destination format; build writes it in version 2 with today's default limits and expiry";

function usersLine(key: string, r: PasswordRecord): string {
  const flag = (on: boolean): string => (on ? '1' : '0');
  const numbers = [r.hardquota, r.softquota, r.msgsize, r.msgcount, r.ctime, r.expiry].map(formatUint);
  return [key, r.password, r.directory, r.forwards.join(','), flag(r.hasMailbox), flag(r.mailboxEnabled), ...numbers, r.personal].join('\t');
}

/** Why `line` would not build back into `record` (build's own parser decides), or undefined when it would. */
function givenBack(line: string, key: string, record: PasswordRecord): string | undefined {
  if (/[\n\r]/.test(line)) return 'a field holds a line break, which the users file cannot';
  if (line.split('\t').length !== USERS_FILE_COLUMNS.length) return 'a field holds a tab, which the users file cannot';
  if (record.forwards.some((f) => f.includes(','))) return 'a forward holds a comma, which the users file puts between forwards';
  try {
    const parsed = parseUsersFile(`${USERS_FILE_COLUMNS.join('\t')}\n${line}\n`, 'dump', true);
    if (parsed.length === 0) return 'the key starts with #, which the users file reads as a comment';
    const same = parsed[0].key === key && encodePasswordRecord(parsed[0].record).equals(encodePasswordRecord(record));
    return same ? undefined : 'build would not give the same record back';
  } catch (error) {
    if (error instanceof AdminError) return `build would refuse it (${error.message.replace(/^dump:2: /, '')})`;
    throw error;
  }
}

function outsideHome(directory: string): boolean {
  try {
    checkDirectory(directory, false);
    return false;
  } catch {
    return true;
  }
}
