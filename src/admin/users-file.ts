import { printable } from '../system/bytes';
import type { PasswordRecord } from '../vmailmgr/password-record';
import { tableKey } from '../vmailmgr/password-table';
import { AdminError } from './context';
import { checkDirectory, checkName, strictNumber } from './edit';
import { checkForwardAddress } from './forward-address';

/**
 * The plain-text source of a table: tab-separated, one user per line, with the columns of
 * vmailmgr's test data (`large/records.tsv`):
 *   key password directory forwards has_mailbox mailbox_enabled hardquota softquota msgsize msgcount ctime expiry personal
 * forwards are comma-separated; numbers are decimal or `-` (unlimited / never); flags are 1 or 0.
 * A first line starting with `key<TAB>` is a header; lines starting with `#` and empty lines are skipped.
 * The text is a byte string (src/system/bytes.ts), and so is every field; `source` names the file in messages.
 */
export const USERS_FILE_COLUMNS = [
  'key',
  'password',
  'directory',
  'forwards',
  'has_mailbox',
  'mailbox_enabled',
  'hardquota',
  'softquota',
  'msgsize',
  'msgcount',
  'ctime',
  'expiry',
  'personal',
] as const;

export interface UserLine {
  key: string;
  record: Omit<PasswordRecord, 'version'>;
}

export function parseUsersFile(text: string, source: string, allowOutsideHome = false): UserLine[] {
  const users: UserLine[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const where = `${source}:${index + 1}`;
    if (line === '' || line.startsWith('#') || (index === 0 && line.startsWith('key\t'))) return;
    const cols = line.split('\t');
    if (cols.length !== USERS_FILE_COLUMNS.length) {
      throw new AdminError(`${where}: expected ${USERS_FILE_COLUMNS.length} tab-separated columns, found ${cols.length}`);
    }
    const [name, password, directory, forwards, hm, en, hq, sq, ms, mc, ct, ex, personal] = cols;
    try {
      checkName(name);
      checkDirectory(directory, allowOutsideHome);
    } catch (error) {
      throw new AdminError(`${where}: ${(error as Error).message}`);
    }
    const key = tableKey(name);
    if (seen.has(key)) throw new AdminError(`${where}: '${printable(key)}' appears twice`);
    seen.add(key);
    if ([password, directory, forwards, personal].some((f) => f.includes('\0'))) throw new AdminError(`${where}: NUL byte in a field`);
    users.push({
      key,
      record: {
        password,
        directory,
        forwards: forwards === '' ? [] : forwards.split(','),
        personal,
        hardquota: number(hq, where, 'hardquota'),
        softquota: number(sq, where, 'softquota'),
        msgsize: number(ms, where, 'msgsize'),
        msgcount: number(mc, where, 'msgcount'),
        ctime: number(ct, where, 'ctime'),
        expiry: number(ex, where, 'expiry'),
        hasMailbox: flag(hm, where, 'has_mailbox'),
        mailboxEnabled: flag(en, where, 'mailbox_enabled'),
      },
    });
    for (const forward of users[users.length - 1].record.forwards) {
      try {
        checkForwardAddress(forward);
      } catch (error) {
        throw new AdminError(`${where}: ${(error as Error).message}`);
      }
    }
  });
  return users;
}

const number = (text: string, where: string, column: string): number => strictNumber(text, `${where}: ${column}`);

function flag(text: string, where: string, column: string): boolean {
  if (text !== '0' && text !== '1') throw new AdminError(`${where}: ${column} must be 1 or 0, not '${printable(text)}'`);
  return text === '1';
}
