import { readFileSync } from 'node:fs';
import { byteString, toText } from './bytes';
import { outputOf } from './exec';

/** One entry of the system's password database; name and home are byte strings (src/system/bytes.ts). */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** `name:x:uid:gid:gecos:home:shell`, or undefined for a line that is not one. */
export function parsePasswdLine(line: string): SystemUser | undefined {
  const fields = line.split(':');
  if (fields.length !== 7 || !/^\d+$/.test(fields[2]) || !/^\d+$/.test(fields[3])) return undefined;
  return { name: fields[0], uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] };
}

/** The entry for `name` in the text of an /etc/passwd file. */
export function findInPasswd(text: string, name: string): SystemUser | undefined {
  for (const line of text.split('\n')) {
    const user = parsePasswdLine(line);
    if (user?.name === name) return user;
  }
  return undefined;
}

/**
 * The user `name` (a byte string) as the system knows it: `getent passwd`, which also asks NSS
 * (LDAP, NIS...), and /etc/passwd where getent is missing or the name cannot be passed to it as text.
 * Undefined when there is no such user; throws what keeps both from answering.
 */
export function systemUser(name: string, passwdFile = '/etc/passwd'): SystemUser | undefined {
  const text = toText(name);
  if (text !== undefined && text !== '' && !text.startsWith('-')) {
    const result = outputOf('getent', ['passwd', text]);
    // getent: 0 found, 2 not found; anything else (no getent, a broken NSS) falls back to the file.
    if (result.status === 0) return parsePasswdLine(byteString(result.stdout).split('\n')[0]);
    if (result.status === 2) return undefined;
  }
  return findInPasswd(byteString(readFileSync(passwdFile)), name);
}

/** The user whose uid is `uid`, as systemUser() finds a name (getent, else /etc/passwd); undefined when there is none. */
export function systemUserById(uid: number, passwdFile = '/etc/passwd'): SystemUser | undefined {
  const result = outputOf('getent', ['passwd', String(uid)]);
  if (result.status === 0) return parsePasswdLine(byteString(result.stdout).split('\n')[0]);
  if (result.status === 2) return undefined;
  return byteString(readFileSync(passwdFile))
    .split('\n')
    .map(parsePasswdLine)
    .find((user) => user?.uid === uid);
}
