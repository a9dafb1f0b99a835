import { printable } from '../system/bytes';
import { CdbError } from '../cdb/cdb-reader';
import { type AdminContext, openTable, tableError } from './context';
import { recordView } from './user-view';

/**
 * `list`: every record in table order, like vmailmgr's listvdomain, except that an invalid
 * record is reported and the listing goes on. Keys and fields are bytes, printed through printable().
 */
export function list(ctx: AdminContext, json: boolean): { out: string; errors: string[] } {
  const table = openTable(ctx);
  const lines: string[] = json ? [] : ['User Mailbox Aliases'];
  const errors: string[] = [];
  try {
    for (const { key: keyBytes, record, value } of table.entries()) {
      const key = printable(keyBytes);
      if (!record) {
        errors.push(`the record for '${key}' cannot be decoded (starts ${value.subarray(0, 8).toString('hex')})`);
        lines.push(json ? JSON.stringify({ name: key, valid: false }) : `${key} INVALID`);
        continue;
      }
      if (json) {
        lines.push(JSON.stringify({ name: key, valid: true, ...recordView(record, ctx.now) }));
        continue;
      }
      const mailbox = record.hasMailbox ? (record.mailboxEnabled ? 'Yes' : 'Yes(disabled)') : 'No';
      lines.push([key, mailbox, ...record.forwards.map(printable)].join(' '));
    }
  } catch (error) {
    if (error instanceof CdbError) throw tableError(ctx, error);
    throw error;
  } finally {
    table.close();
  }
  return { out: lines.map((l) => `${l}\n`).join(''), errors };
}
