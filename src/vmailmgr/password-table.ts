import { resolve } from 'node:path';
import { byteString, fsPath, toBytes } from '../system/bytes';
import { CdbError, CdbReader } from '../cdb/cdb-reader';
import type { Config } from './config';
import { decodePasswordRecord, type OldFormatDefaults, type PasswordRecord } from './password-record';

export type TableAnswer =
  { status: 'found'; key: string; record: PasswordRecord } | { status: 'absent'; key: string } | { status: 'invalid'; key: string; value: Buffer };

/** vmailmgr's keys are the name (a byte string) with ASCII A-Z lower-cased; other bytes are left alone. */
export const tableKey = (name: string): string => name.replace(/[A-Z]+/g, (s) => s.toLowerCase());

/** `<password-file>.cdb`, relative to $HOME unless absolute, as vmailmgr opens it after chdir($HOME). */
export const tablePath = (home: string, config: Config): string => resolve(home, `${config.string('password-file')}.cdb`);

export function oldFormatDefaults(config: Config): OldFormatDefaults {
  return {
    hardquota: config.number('default-hardquota'),
    softquota: config.number('default-softquota'),
    msgsize: config.number('default-msgsize'),
    msgcount: config.number('default-msgcount'),
    expiry: config.number('default-expiry'),
  };
}

/** The virtual users of one base user, read from passwd.cdb with a handful of positional reads. */
export class PasswordTable {
  private constructor(
    readonly path: string,
    private readonly cdb: CdbReader,
    private readonly defaults: () => OldFormatDefaults,
    private readonly now: number,
  ) {}

  /** Throws CdbError when the file is missing, unreadable or not a cdb. */
  static open(path: string, defaults: OldFormatDefaults | (() => OldFormatDefaults), now: number): PasswordTable {
    let cached: OldFormatDefaults | undefined;
    const lazy = typeof defaults === 'function' ? () => (cached ??= defaults()) : () => defaults;
    return new PasswordTable(path, CdbReader.open(fsPath(path)), lazy, now);
  }

  get bytesRead(): number {
    return this.cdb.bytesRead;
  }

  /** Keys and names are byte strings (src/system/bytes.ts). */
  find(name: string): TableAnswer {
    const key = tableKey(name);
    const value = this.cdb.get(toBytes(key));
    if (value === undefined) return { status: 'absent', key };
    const record = decodePasswordRecord(value, this.defaults, this.now);
    return record ? { status: 'found', key, record } : { status: 'invalid', key, value };
  }

  /** Every record in file order; an invalid one is reported and the listing goes on. */
  *entries(): Generator<{ key: string; record?: PasswordRecord; value: Buffer }> {
    for (const { key, data } of this.cdb.records()) {
      yield { key: byteString(key), record: decodePasswordRecord(data, this.defaults, this.now), value: data };
    }
  }

  close(): void {
    this.cdb.close();
  }
}

export { CdbError };
