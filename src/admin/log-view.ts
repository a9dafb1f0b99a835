import { printable } from '../system/bytes';
import { fromLogBytes, type LogBytes, type LogRecord } from '../delivery/delivery-log';
import { tableKey } from '../vmailmgr/password-table';

const KINDS = new Set(['delivered', 'skip', 'bounce', 'defer']);

/** A line of the log read back: its record and JSON text, or why it is broken (both, when a cut line ran into a whole one). */
export interface Entry {
  record?: LogRecord;
  text?: string;
  problem?: string;
}

/**
 * Read one line. A write cut short (a full disk, a crash) leaves a line without its newline, so
 * the next delivery's line is glued to it: that line is still found, after the broken bytes.
 */
export function readEntry(bytes: Buffer): Entry {
  const text = bytes.toString('utf8');
  const whole = parseRecord(text);
  if (typeof whole !== 'string') return { record: whole, text };
  const glued = text.lastIndexOf('{"time":');
  const tail = glued > 0 ? parseRecord(text.slice(glued)) : undefined;
  if (tail && typeof tail !== 'string')
    return {
      record: tail,
      text: text.slice(glued),
      problem: `a line cut short runs into this one: its first ${Buffer.byteLength(text.slice(0, glued))} bytes are skipped`,
    };
  return { problem: whole };
}

/** The record, or why the text is not one. */
function parseRecord(text: string): LogRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trim() === '' ? 'an empty line' : 'not JSON';
  }
  const r = value as LogRecord | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.time !== 'string' ||
    Number.isNaN(Date.parse(r.time)) ||
    !KINDS.has(r.outcome) ||
    typeof r.exit !== 'number'
  )
    return 'not a delivery record (time, outcome and exit are needed)';
  return r;
}

export interface LogFilter {
  /** Milliseconds since the epoch. */
  since?: number;
  outcomes?: Set<string>;
  /** A table key (a byte string). */
  user?: string;
}

export function matches(record: LogRecord, filter: LogFilter): boolean {
  if (filter.since !== undefined && Date.parse(record.time) < filter.since) return false;
  if (filter.outcomes && !filter.outcomes.has(record.outcome)) return false;
  if (filter.user !== undefined) {
    const ext = record.ext === undefined ? undefined : tableKey(fromLogBytes(record.ext));
    const key = record.key === undefined ? undefined : fromLogBytes(record.key);
    if (ext !== filter.user && key !== filter.user) return false;
  }
  return true;
}

/** A log value for people: text, or the \xNN form of printable(). */
export const shown = (value: LogBytes | undefined): string => (value === undefined ? '' : printable(fromLogBytes(value)));

/** The user column: the name as addressed, and the catch-all that answered for it. */
export function userOf(record: LogRecord): string {
  const ext = record.ext === undefined ? '-' : shown(record.ext) || "''";
  return record.via === 'catch-all' ? `${ext} (${shown(record.user)})` : ext;
}

/** Local time, to the second: what an admin compares with the clock and with qmail's log. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export const TABLE_HEAD = `${'time'.padEnd(19)}  ${'user'.padEnd(16)}  ${'outcome'.padEnd(9)}  ${'size'.padStart(8)}  ${'ms'.padStart(6)}  where\n`;

/** One delivery as a row of the table; `home` (a byte string) shortens Maildir paths under it. */
export function tableRow(record: LogRecord, home: string): string {
  const size = record.size === undefined ? '-' : String(record.size);
  return `${localTime(record.time)}  ${userOf(record).padEnd(16)}  ${record.outcome.padEnd(9)}  ${size.padStart(8)}  ${String(record.ms).padStart(6)}  ${destination(record, home)}\n`;
}

/** Where the message went: the Maildir file, the forwards, or why it went nowhere. */
export function destination(record: LogRecord, home: string): string {
  const parts: string[] = [];
  if (record.maildir !== undefined) {
    const path = fromLogBytes(record.maildir);
    parts.push(printable(path.startsWith(`${home}/`) ? path.slice(home.length + 1) : path));
  }
  if (record.forward?.queued) parts.push(`-> ${record.forward.to.map(shown).join(', ')}`);
  if (record.outcome === 'bounce' || record.outcome === 'defer') return [...parts, said(record.status)].join('  ');
  if (parts.length > 0) return parts.join('  ');
  const stopper = record.hooks?.find((h) => h.exit === 99);
  if (record.outcome === 'skip' && stopper) return `dropped: ${stopper.chain} ${shown(stopper.path)} exited 99`;
  return said(record.status ?? record.notes?.[0]) || '-';
}

/** A status line without the program's name: the sentence is what matters in a table. */
const said = (line: LogBytes | undefined): string => shown(line).replace(/^vdeliver: /, '');
