import { byteString, toBytes } from '../system/bytes';
import { strtou, UNLIMITED, formatUint } from './uint32';

/**
 * One virtual user as stored in vmailmgr's passwd.cdb (lib/vpwentry). Numbers are uint32;
 * UNLIMITED (UINT_MAX) means unlimited or never. Text fields are byte strings (src/system/bytes.ts):
 * a Latin-1 directory or forward is kept byte for byte, and encodes back to the same bytes.
 */
export interface PasswordRecord {
  version: 0 | 1 | 2;
  password: string;
  directory: string;
  forwards: string[];
  personal: string;
  hardquota: number;
  softquota: number;
  msgsize: number;
  msgcount: number;
  ctime: number;
  expiry: number;
  hasMailbox: boolean;
  mailboxEnabled: boolean;
}

/** Limits the old `:pass:dest` format leaves to the config (`default-*`, read at lookup time). */
export interface OldFormatDefaults {
  hardquota: number;
  softquota: number;
  msgsize: number;
  msgcount: number;
  /** Relative: the expiry becomes now + this, or never when it is UNLIMITED. */
  expiry: number;
}

const FLAG_MAILBOX_ENABLED = 8;
const FLAG_HAS_MAILBOX = 10;
const NUMBER_FIELDS = ['hardquota', 'softquota', 'msgsize', 'msgcount', 'ctime', 'expiry'] as const;

/**
 * Decode a stored value, or return undefined when vmailmgr would call it invalid:
 * unknown version byte, unknown flag, a field running past the end, trailing bytes,
 * a number not followed immediately by its NUL.
 */
export function decodePasswordRecord(value: Uint8Array, defaults: OldFormatDefaults | (() => OldFormatDefaults), now: number): PasswordRecord | undefined {
  if (value.length === 0) return undefined;
  switch (value[0]) {
    case 2:
      return decodeVersioned(value, 2);
    case 1:
      return decodeVersioned(value, 1);
    // Only the old format needs the config's defaults, so a caller may pass them lazily.
    case 0x3a:
      return decodeOld(value, typeof defaults === 'function' ? defaults() : defaults, now);
    default:
      return undefined;
  }
}

function decodeVersioned(value: Uint8Array, version: 1 | 2): PasswordRecord | undefined {
  // vmailmgr refuses a value whose last byte is not NUL, so no field can run off the end.
  const end = value.length;
  if (value[end - 1] !== 0) return undefined;
  const cursor = { pos: 1 };
  let hasMailbox = true;
  let mailboxEnabled = true;
  if (version === 2) {
    const flags = decodeFlags(value, cursor);
    if (!flags) return undefined;
    ({ hasMailbox, mailboxEnabled } = flags);
  }
  const password = field(value, cursor);
  if (cursor.pos >= end) return undefined;
  const directory = field(value, cursor);
  if (cursor.pos >= end) return undefined;
  const forwards: string[] = [];
  while (cursor.pos < end && value[cursor.pos] !== 0) forwards.push(field(value, cursor));
  if (cursor.pos++ >= end) return undefined;
  const personal = field(value, cursor);
  if (cursor.pos >= end) return undefined;
  const numbers: number[] = [];
  for (let i = 0; i < NUMBER_FIELDS.length; i++) {
    const { value: n, next } = strtou(value, cursor.pos, end);
    if (next >= end || value[next] !== 0) return undefined;
    cursor.pos = next + 1;
    const last = i === NUMBER_FIELDS.length - 1;
    if (last ? cursor.pos > end : cursor.pos >= end) return undefined;
    numbers.push(n);
  }
  if (cursor.pos !== end) return undefined;
  const [hardquota, softquota, msgsize, msgcount, ctime, expiry] = numbers;
  return {
    version,
    password,
    directory,
    forwards,
    personal,
    hardquota,
    softquota,
    msgsize,
    msgcount,
    ctime,
    expiry,
    // An account without a directory cannot have a mailbox, whatever the flag says.
    hasMailbox: (version === 1 || hasMailbox) && directory !== '',
    mailboxEnabled,
  };
}

function decodeFlags(value: Uint8Array, cursor: { pos: number }): { hasMailbox: boolean; mailboxEnabled: boolean } | undefined {
  const flags = { hasMailbox: true, mailboxEnabled: true };
  while (cursor.pos < value.length) {
    const flag = value[cursor.pos++];
    if (flag === 0) return flags;
    if (cursor.pos >= value.length) return undefined;
    const on = value[cursor.pos++] !== 0;
    if (flag === FLAG_MAILBOX_ENABLED) flags.mailboxEnabled = on;
    else if (flag === FLAG_HAS_MAILBOX) flags.hasMailbox = on;
    else return undefined;
  }
  return undefined;
}

/** A NUL-terminated string starting at the cursor; the cursor moves past the NUL. */
function field(value: Uint8Array, cursor: { pos: number }): string {
  let nul = value.indexOf(0, cursor.pos);
  if (nul < 0) nul = value.length;
  const text = byteString(value.subarray(cursor.pos, nul));
  cursor.pos = nul + 1;
  return text;
}

/** `:password:destination`, where a destination starting with `.` or `/` is a mailbox. */
function decodeOld(value: Uint8Array, defaults: OldFormatDefaults, now: number): PasswordRecord | undefined {
  // vmailmgr handles this form as a C string: nothing after a NUL counts.
  let text = byteString(value.subarray(1));
  const nul = text.indexOf('\0');
  if (nul >= 0) text = text.slice(0, nul);
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const password = text.slice(0, colon);
  let destination = text.slice(colon + 1);
  const isMailbox = destination.startsWith('.') || destination.startsWith('/');
  if (!isMailbox && destination.startsWith('&')) destination = destination.slice(1);
  const expiry = defaults.expiry === UNLIMITED ? UNLIMITED : (now + defaults.expiry) >>> 0;
  return {
    version: 0,
    password,
    directory: isMailbox ? destination : '',
    forwards: isMailbox ? [] : destination.split(',').filter((f) => f !== ''),
    personal: '',
    hardquota: defaults.hardquota,
    softquota: defaults.softquota,
    msgsize: defaults.msgsize,
    msgcount: defaults.msgcount,
    ctime: 0,
    expiry,
    hasMailbox: isMailbox && destination !== '',
    mailboxEnabled: true,
  };
}

/** Encode as vmailmgr 0.97 writes version 2: flags `0A hm 08 en 00`, then the NUL-terminated fields. */
export function encodePasswordRecord(record: Omit<PasswordRecord, 'version'>): Buffer {
  const hasMailbox = record.hasMailbox && record.directory !== '';
  const flags = Buffer.from([2, FLAG_HAS_MAILBOX, hasMailbox ? 1 : 0, FLAG_MAILBOX_ENABLED, record.mailboxEnabled ? 1 : 0, 0]);
  const fields = [record.password, record.directory, ...record.forwards, '', record.personal, ...NUMBER_FIELDS.map((name) => formatUint(record[name]))];
  return Buffer.concat([flags, ...fields.map((f) => toBytes(`${f}\0`))]);
}
