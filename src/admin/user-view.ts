import { printable } from '../system/bytes';
import type { VirtualUser } from '../vmailmgr/lookup';
import type { PasswordRecord } from '../vmailmgr/password-record';
import { UNLIMITED } from '../vmailmgr/uint32';

/**
 * The `show --json` object: exactly these keys, numbers null for unlimited / never. The record's
 * fields are bytes; here they are printable() text (valid UTF-8 as it is, other bytes as `\xNN`),
 * the same in the text and the JSON output.
 */
export interface UserView {
  name: string;
  found: boolean;
  via: 'direct' | 'catch-all' | null;
  password: string | null;
  directory: string | null;
  forwards: string[];
  personal: string | null;
  hardquota: number | null;
  softquota: number | null;
  msgsize: number | null;
  msgcount: number | null;
  ctime: number | null;
  expiry: number | null;
  /** Past its expiry: delivery bounces mail to it (null when not found). */
  expired: boolean | null;
  hasMailbox: boolean | null;
  mailboxEnabled: boolean | null;
}

/** A limit or time as JSON shows it: null for unlimited / never (UINT_MAX). */
export const limit = (n: number): number | null => (n === UNLIMITED ? null : n);

export function userView(name: string, user: VirtualUser | undefined, now: number): UserView {
  if (!user) {
    return {
      name,
      found: false,
      via: null,
      password: null,
      directory: null,
      forwards: [],
      personal: null,
      hardquota: null,
      softquota: null,
      msgsize: null,
      msgcount: null,
      ctime: null,
      expiry: null,
      expired: null,
      hasMailbox: null,
      mailboxEnabled: null,
    };
  }
  return { name, found: true, via: user.via, ...recordView(user.record, now) };
}

export function recordView(r: PasswordRecord, now: number): Omit<UserView, 'name' | 'found' | 'via'> {
  return {
    password: printable(r.password),
    directory: printable(r.directory),
    forwards: r.forwards.map(printable),
    personal: printable(r.personal),
    hardquota: limit(r.hardquota),
    softquota: limit(r.softquota),
    msgsize: limit(r.msgsize),
    msgcount: limit(r.msgcount),
    ctime: r.ctime,
    expiry: limit(r.expiry),
    // The delivery's own test (lookup.ts): an expiry before now bounces.
    expired: r.expiry < now,
    hasMailbox: r.hasMailbox,
    mailboxEnabled: r.mailboxEnabled,
  };
}

/** A dumpvuser-like block, plus the personal field and which entry answered. */
export function formatUser(view: UserView, catchAll: string): string {
  if (!view.found) return `Name: ${view.name}\nFound: no (neither the name nor the catch-all '${catchAll}' exists)\n`;
  const n = (v: number | null): string => (v === null ? 'unlimited' : String(v));
  const lines = [
    `Name: ${view.name}`,
    `Found: ${view.via === 'direct' ? 'yes' : `via the catch-all '${catchAll}'`}`,
    `Encrypted-Password: ${view.password}`,
    `Directory: ${view.directory}`,
    ...view.forwards.map((f) => `Forward: ${f}`),
    `Personal: ${view.personal}`,
    `Hard-Quota: ${n(view.hardquota)}`,
    `Soft-Quota: ${n(view.softquota)}`,
    `Message-Size-Limit: ${n(view.msgsize)}`,
    `Message-Count-Limit: ${n(view.msgcount)}`,
    `Creation-Time: ${view.ctime === 0 ? 'not recorded' : isoTime(view.ctime)}`,
    `Expiry-Time: ${view.expiry === null ? 'never' : isoTime(view.expiry)}${view.expired ? ' (expired: mail to it bounces)' : ''}`,
    `Has-Mailbox: ${view.hasMailbox}`,
    `Mailbox-Enabled: ${view.mailboxEnabled}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Seconds since the epoch as an ISO 8601 UTC time, to the second. */
const isoTime = (seconds: number | null): string => (seconds === null ? 'never' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z'));
