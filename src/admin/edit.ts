import { closeSync, openSync, unlinkSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { fsPath, printable, toBytes } from '../system/bytes';
import { CdbError, CdbReader } from '../cdb/cdb-reader';
import { writeCdb } from '../cdb/cdb-writer';
import { decodePasswordRecord, encodePasswordRecord, type PasswordRecord } from '../vmailmgr/password-record';
import { oldFormatDefaults, tableKey } from '../vmailmgr/password-table';
import { UNLIMITED } from '../vmailmgr/uint32';
import { type AdminContext, AdminError, tableError, tableFile } from './context';
import { checkForwardAddress } from './forward-address';

/**
 * One record exactly as stored. Edits carry every record they do not change as raw bytes, so
 * invalid records, old formats and keys that are not UTF-8 survive a rewrite untouched, as they
 * do with vmailmgr's own tools (lib/vpwtable/cdb_put.cc copies them with `out.put(d->key, d->data)`).
 */
export interface StoredRecord {
  key: Buffer;
  value: Buffer;
}

export type NewRecord = Omit<PasswordRecord, 'version'>;

/*
 * Names, forwards and every other field are byte strings (src/system/bytes.ts), as they come from the
 * command line, a users file or the table: a key is the name's exact bytes, and messages show
 * them through printable().
 */

/** The table key of a name: its bytes, ASCII upper case folded as delivery looks it up. */
export const keyOf = (name: string): Buffer => toBytes(tableKey(name));
/** The key as messages show it. */
export const shownKey = (name: string): string => printable(tableKey(name));

/** vmailmgr's validate_username(): not empty, none of `/ : \n \r \t` or space. */
export function checkName(name: string): void {
  if (name === '') throw new AdminError('the name of a virtual user cannot be empty');
  const bad = /[/:\n\r\t ]/.exec(name);
  if (bad) throw new AdminError(`the name '${printable(name.replace(/[\n\r\t]/g, ' '))}' contains ${describe(bad[0])}, which vmailmgr forbids in names`);
  if (name.includes('\0')) throw new AdminError('the name of a virtual user cannot contain a NUL byte');
}

const describe = (c: string): string => ({ '\n': 'a newline', '\r': 'a carriage return', '\t': 'a tab', ' ': 'a space' })[c] ?? `'${c}'`;

export const ALLOW_OUTSIDE_HOME = '--allow-outside-home';

/**
 * A record's directory must lie inside the home unless the admin says otherwise: delivery uses it
 * as given from the home, so an absolute path or `..` that climbs out stores mail (and makes add
 * create directories) wherever the base user can write. Checked on the name alone, as stored.
 */
export function checkDirectory(directory: string, allowOutsideHome: boolean): void {
  if (allowOutsideHome || directory === '') return;
  const why = isAbsolute(directory) ? 'is absolute' : normalize(directory).split('/')[0] === '..' ? 'climbs out of the home with ..' : undefined;
  if (why) throw new AdminError(`the directory '${printable(directory)}' ${why}; give ${ALLOW_OUTSIDE_HOME} to store a directory outside the home`);
}

/** A number for a record: decimal below UINT_MAX, or `-` for unlimited / never. `what` names it in the error. */
export function strictNumber(text: string, what: string): number {
  if (text === '-') return UNLIMITED;
  if (!/^\d{1,10}$/.test(text) || Number(text) >= UNLIMITED) throw new AdminError(`${what} must be a number below 4294967295 or '-', not '${printable(text)}'`);
  return Number(text);
}

/** vmailmgr's validate_forward(): one address (forward-address.ts), and a bare name must be a virtual user here. */
export function checkForwards(records: readonly StoredRecord[], forwards: readonly string[]): void {
  for (const forward of forwards) {
    checkForwardAddress(forward);
    if (!forward.includes('@') && findRecord(records, forward) < 0)
      throw new AdminError(`the forward '${printable(forward)}' names no virtual user of this domain (add @domain for another one)`);
  }
}

/** Every record of the table, in file order. A missing table is an empty one only when asked for (add). */
export function readRecords(ctx: AdminContext, missingIsEmpty: boolean): StoredRecord[] {
  let reader: CdbReader;
  try {
    reader = CdbReader.open(tableFile(ctx));
  } catch (error) {
    if (error instanceof CdbError && error.kind === 'missing' && missingIsEmpty) return [];
    throw tableError(ctx, error);
  }
  try {
    return Array.from(reader.records(), ({ key, data }) => ({ key, value: data }));
  } catch (error) {
    throw tableError(ctx, error);
  } finally {
    reader.close();
  }
}

/** Index of the record the delivery lookup answers for `name` (the first with its key), or -1. */
export function findRecord(records: readonly StoredRecord[], name: string): number {
  const key = keyOf(name);
  return records.findIndex((r) => r.key.equals(key));
}

/** The decoded record at `index`, or undefined when it is invalid; old formats get the config's defaults. */
export function decodeAt(ctx: AdminContext, records: readonly StoredRecord[], index: number): PasswordRecord | undefined {
  return decodePasswordRecord(records[index].value, oldFormatDefaults(ctx.config), ctx.now);
}

const stored = (name: string, record: NewRecord): StoredRecord => ({ key: keyOf(name), value: encodePasswordRecord(record) });

/** A new record goes at the end; the name must not be in the table yet. */
export function addRecord(records: readonly StoredRecord[], name: string, record: NewRecord): StoredRecord[] {
  if (findRecord(records, name) >= 0) throw new AdminError(`the virtual user '${shownKey(name)}' already exists`);
  return [...records, stored(name, record)];
}

/** The changed record keeps its position; a later duplicate of the key is left as it is (vmailmgr does the same). */
export function replaceRecord(records: readonly StoredRecord[], name: string, record: NewRecord): StoredRecord[] {
  const index = findRecord(records, name);
  if (index < 0) throw new AdminError(`no virtual user '${shownKey(name)}'`);
  return records.map((r, i) => (i === index ? stored(name, record) : r));
}

/** Drops every record with the name's key, as vmailmgr's cdb_del.cc does, so no duplicate surfaces afterwards. */
export function removeRecords(records: readonly StoredRecord[], name: string): StoredRecord[] {
  if (findRecord(records, name) < 0) throw new AdminError(`no virtual user '${shownKey(name)}'`);
  const key = keyOf(name);
  return records.filter((r) => !r.key.equals(key));
}

/** The whole table, atomically, with vmailmgr's signed-char hash so its own tools still read it. */
export function writeRecords(ctx: AdminContext, records: readonly StoredRecord[]): void {
  try {
    // A byte string, as writeCdb's files are named (src/system/files.ts): the path's exact bytes, UTF-8 or not.
    writeCdb(
      ctx.tablePath,
      records.map((r): [Buffer, Buffer] => [r.key, r.value]),
      { hash: 'signed' },
    );
  } catch (error) {
    throw new AdminError(`cannot write ${printable(ctx.tablePath)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/**
 * Read, change and rewrite the table while holding `<table>.tmp`, the file vmailmgr's writers
 * create with O_EXCL: two edits (ours or vmailmgr's) cannot interleave and lose one another's change.
 */
export function editTable<T>(ctx: AdminContext, missingIsEmpty: boolean, change: (records: StoredRecord[]) => { records: StoredRecord[]; result: T }): T {
  return withTableLock(ctx, () => {
    const { records, result } = change(readRecords(ctx, missingIsEmpty));
    writeRecords(ctx, records);
    return result;
  });
}

/** Run `work` while holding `<table>.tmp`, created with O_EXCL as vmailmgr's own writers do. */
export function withTableLock<T>(ctx: AdminContext, work: () => T): T {
  const lock = fsPath(`${ctx.tablePath}.tmp`);
  const shown = printable(`${ctx.tablePath}.tmp`);
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new AdminError(`${shown} exists: another program is changing the table (remove the file if none is)`);
    throw new AdminError(`cannot create ${shown}: ${code ?? String(error)}`);
  }
  try {
    return work();
  } finally {
    closeSync(fd);
    releaseLock(lock);
  }
}

function releaseLock(lock: string | Buffer): void {
  try {
    unlinkSync(lock);
  } catch {
    // Gone already, or not removable: the edit's own outcome matters more than the lock file's.
  }
}
