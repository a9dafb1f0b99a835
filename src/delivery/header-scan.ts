import { byteString } from '../system/bytes';
import type { MessageSource } from './message-source';

/** The most of a message the scan reads: the log stays cheap whatever the message's size. */
const HEADER_LIMIT = 64 * 1024;
/** RFC 5322's line limit: no Message-ID worth logging is longer. */
const MAX_VALUE = 998;

/**
 * The message's Message-ID (unfolded, trimmed, a byte string), or undefined when its header block
 * has none within the first 64 KiB. One positional read, no MIME parsing: this runs on every
 * delivery that keeps a log.
 */
export function messageId(message: MessageSource): string | undefined {
  const buffer = Buffer.allocUnsafe(Math.min(message.size, HEADER_LIMIT));
  const n = buffer.length > 0 ? message.read(buffer, 0) : 0;
  return headerField(byteString(buffer.subarray(0, n)), 'message-id');
}

const FIELD = /(?:^|\n)([!-9;-~]+)[ \t]*:/g;

/** A field of the header block at the start of `text` (a byte string), with continuation lines unfolded. */
export function headerField(text: string, name: string): string | undefined {
  // The header block ends at the first empty line (LF or CRLF line ends alike).
  if (/^\r?\n/.test(text)) return undefined;
  const end = /\n\r?\n/.exec(text);
  const head = end ? text.slice(0, end.index + 1) : text;
  FIELD.lastIndex = 0;
  for (let m = FIELD.exec(head); m; m = FIELD.exec(head)) {
    if (m[1].toLowerCase() !== name) continue;
    const start = m.index + m[0].length;
    // The value runs on through every line that starts with a space or a tab.
    const next = /\n(?![ \t])/.exec(head.slice(start));
    const raw = next ? head.slice(start, start + next.index) : head.slice(start);
    return raw.replace(/\r?\n/g, '').trim().slice(0, MAX_VALUE) || undefined;
  }
  return undefined;
}
