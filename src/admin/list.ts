import { byteString, printable } from '../bytes';
import { CdbError, CdbReader } from '../cdb-reader';
import { decodePasswordRecord } from '../password-record';
import { oldFormatDefaults } from '../password-table';
import { type AdminContext, tableError } from './context';
import { recordView } from './user-view';

/**
 * `list`: every record in table order, like vmailmgr's listvdomain, except that an invalid
 * record is reported and the listing goes on. Keys and fields are bytes, printed through printable().
 */
export function list(ctx: AdminContext, json: boolean): { out: string; errors: string[] } {
  // The reader itself, not PasswordTable.entries(): that one hands out keys decoded as UTF-8.
  let reader: CdbReader;
  try {
    reader = CdbReader.open(ctx.tablePath);
  } catch (error) {
    throw tableError(ctx, error);
  }
  const lines: string[] = json ? [] : ['User Mailbox Aliases'];
  const errors: string[] = [];
  try {
    for (const { key: keyBytes, data } of reader.records()) {
      const key = printable(byteString(keyBytes));
      const record = decodePasswordRecord(data, () => oldFormatDefaults(ctx.config), ctx.now);
      if (!record) {
        errors.push(`the record for '${key}' cannot be decoded (starts ${data.subarray(0, 8).toString('hex')})`);
        lines.push(json ? JSON.stringify({ name: key, valid: false }) : `${key} INVALID`);
        continue;
      }
      if (json) {
        lines.push(JSON.stringify({ name: key, valid: true, ...recordView(record) }));
        continue;
      }
      const mailbox = record.hasMailbox ? (record.mailboxEnabled ? 'Yes' : 'Yes(disabled)') : 'No';
      lines.push([key, mailbox, ...record.forwards.map(printable)].join(' '));
    }
  } catch (error) {
    if (error instanceof CdbError) throw tableError(ctx, error);
    throw error;
  } finally {
    reader.close();
  }
  return { out: lines.map((l) => `${l}\n`).join(''), errors };
}
