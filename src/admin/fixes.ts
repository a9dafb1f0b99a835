import { dirname } from 'node:path';
import { toText } from '../system/bytes';
import { stat } from './checks';

/*
 * Doctor's fixes are shell commands that work when pasted as printed, by root or by the base user:
 * what they create belongs to the base user (install -o/-g, not mkdir, which would make root's
 * directories when run as root), and what they rewrite keeps its owner (sed -i does).
 * Only a change of owner needs root, and says so by being a chown.
 */

/** The base user, as the home's owner: qmail-local runs as this uid and gid. */
export interface BaseUser {
  uid: number;
  gid: number;
}

/**
 * A word for /bin/sh: as is when it is plainly safe, else single-quoted; bytes that are not UTF-8
 * (a Latin-1 name) are rebuilt by printf from octal escapes, the one form every /bin/sh reads.
 */
export function quote(value: string): string {
  const text = toText(value);
  if (text === undefined)
    return `"$(printf '${[...value].map((c) => (/[A-Za-z0-9_@+=:,./-]/.test(c) ? c : `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)).join('')}')"`;
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The numeric owner for chown and install: names may be missing or ambiguous, numbers are what qmail uses. */
const owner = (user: BaseUser): string => `${user.uid}:${user.gid}`;

export const chown = (user: BaseUser, path: string, recursive = false): string => `chown ${recursive ? '-R ' : ''}${owner(user)} ${quote(path)}`;

/**
 * Create `dirs` (byte strings) and every missing directory above them up to `home`, all owned by the
 * base user, mode 0700. install -d would make a missing parent root's, so the parents are named too.
 */
export function makeDirs(user: BaseUser, home: string, dirs: string[]): string {
  const all: string[] = [];
  for (const dir of dirs) {
    const chain: string[] = [];
    for (let d = dir; d !== home && d !== dirname(d) && !stat(d); d = dirname(d)) chain.unshift(d);
    for (const d of chain) if (!all.includes(d)) all.push(d);
  }
  return `install -d -o ${user.uid} -g ${user.gid} -m 700 ${all.map(quote).join(' ')}`;
}

/** Write `text` as a new file owned by the base user, readable by all (a .qmail file). */
export const writeFile = (user: BaseUser, path: string, text: string): string =>
  `printf '%s\\n' ${quote(text)} | install -o ${user.uid} -g ${user.gid} -m 644 /dev/stdin ${quote(path)}`;

/** Replace line `line` (1-based) of an existing file, keeping its owner and mode. */
export const replaceLine = (path: string, line: number, text: string): string => `sed -i ${quote(`${line}c ${text.replace(/\\/g, '\\\\')}`)} ${quote(path)}`;

/** Write a config item, readable by the base user whoever writes it (its directory made first if missing). */
export function writeItem(user: BaseUser, home: string, path: string, value: string): string {
  const write = `(umask 022 && echo ${quote(value)} > ${quote(path)})`;
  return stat(dirname(path)) ? write : `${makeDirs(user, home, [dirname(path)])} && ${write}`;
}
