/**
 * Everything vdeliver prints is one line that ends up in qmail's log and in bounces. qmail-lspawn
 * keeps at most 3000 bytes of a report, so a line is capped well below that, and any name taken
 * from the envelope is quoted with control characters escaped so it cannot break the line.
 */
const MAX_LINE = 1000;
const MAX_NAME = 200;

export function quoteName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const escaped = name.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > MAX_NAME ? `${escaped.slice(0, MAX_NAME)}...` : escaped;
}

export function oneLine(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ').trimEnd();
  if (Buffer.byteLength(flat) <= MAX_LINE) return flat;
  // Cut the middle, never the enhanced status code at the end: qmail and admins read it there.
  const code = / \(#\d\.\d+\.\d+\)$/.exec(flat)?.[0] ?? '';
  const head = Buffer.from(flat.slice(0, flat.length - code.length), 'utf8').subarray(0, MAX_LINE - 3 - code.length);
  return `${head.toString('utf8').replace(/\uFFFD$/, '')}...${code}`;
}

/** The short description Node puts after the errno code, e.g. "no space left on device". */
export function errnoText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    const detail = /^[A-Z0-9_]+: ([^,]+)/.exec(e.message)?.[1];
    return detail ? `${e.code} (${detail})` : e.code;
  }
  return String(error instanceof Error ? error.message : error);
}
