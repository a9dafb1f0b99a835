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

/**
 * A field of the header block at the start of `text` (a byte string), with continuation lines
 * unfolded; `name` in lower case. String scanning, no regular expression: compiling one costs more
 * than the whole scan of a usual header.
 */
export function headerField(text: string, name: string): string | undefined {
  for (let start = 0; start < text.length;) {
    const end = lineEnd(text, start);
    const line = text.slice(start, end);
    start = end + 1;
    // The header block ends at the first empty line (LF or CRLF line ends alike).
    if (line === '' || line === '\r') return undefined;
    if (line.length <= name.length || line.slice(0, name.length).toLowerCase() !== name) continue;
    let colon = name.length;
    while (line[colon] === ' ' || line[colon] === '\t') colon++;
    if (line[colon] !== ':') continue;
    // The value runs on through every line that starts with a space or a tab.
    let value = line.slice(colon + 1);
    while (text[start] === ' ' || text[start] === '\t') {
      const next = lineEnd(text, start);
      value += text.slice(start, next);
      start = next + 1;
    }
    return trimBlanks(value.split('\r').join('')).slice(0, MAX_VALUE) || undefined;
  }
  return undefined;
}

const lineEnd = (text: string, start: number): number => {
  const nl = text.indexOf('\n', start);
  return nl < 0 ? text.length : nl;
};

/** Spaces and tabs off both ends (String.trim would also take a Latin-1 byte 0xa0, a no-break space). */
function trimBlanks(value: string): string {
  let [from, to] = [0, value.length];
  while (value[from] === ' ' || value[from] === '\t') from++;
  while (to > from && (value[to - 1] === ' ' || value[to - 1] === '\t')) to--;
  return value.slice(from, to);
}
