import { isUtf8 } from 'node:buffer';

/**
 * Values from the password table, the config files, control/me and qmail-local's environment are
 * bytes, not text: qmail passes any byte on, and a Latin-1 address or directory must reach the
 * syscall, the envelope and the Maildir unchanged. The delivery code holds them as *byte strings*:
 * one char per byte (Latin-1 decoding), so string operations work and no byte is ever replaced.
 * They turn back into bytes at the edges: file names, the envelope, the Maildir copy, the report line.
 */
export const byteString = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

export const toBytes = (value: string): Buffer => Buffer.from(value, 'latin1');

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
export const isAscii = (value: string): boolean => ASCII.test(value);

/** A name for node:fs: ASCII as it is (the common case costs nothing), anything else as its exact bytes. */
export const fsPath = (value: string): string | Buffer => (isAscii(value) ? value : toBytes(value));

/** A JavaScript string (UTF-8 text) as a byte string: what process.env and process.argv hold, exactly. */
export const fromText = (text: string): string => (isAscii(text) ? text : Buffer.from(text, 'utf8').toString('latin1'));

/**
 * A byte string as the text Node needs for an API that encodes to UTF-8 (a child's environment
 * or argv): undefined when the bytes are not valid UTF-8, since no string would encode back to them.
 */
export function toText(value: string): string | undefined {
  if (isAscii(value)) return value;
  const bytes = toBytes(value);
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

/**
 * A byte string for people: valid UTF-8 as text; otherwise every byte of 0x80 and above as `\xNN`
 * (so `j\xf6rg` for a Latin-1 name), which keeps the exact value readable in one line.
 */
export function printable(value: string): string {
  return toText(value) ?? value.replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}
