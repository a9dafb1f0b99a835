/**
 * Everything vdeliver prints is one line that ends up in qmail's log and in bounces. qmail-lspawn
 * keeps at most 3000 bytes of a report, so a line is capped well below that, and any name taken
 * from the envelope is quoted with control characters escaped so it cannot break the line.
 * Lines are byte strings (src/system/bytes.ts): a user's 8-bit name is printed as its own bytes, as
 * vmailmgr prints it, so one char is one byte here.
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
  if (flat.length <= MAX_LINE) return flat;
  // Cut the middle, never the enhanced status code at the end: qmail and admins read it there.
  const code = / \(#\d\.\d+\.\d+\)$/.exec(flat)?.[0] ?? '';
  return `${flat.slice(0, MAX_LINE - 3 - code.length)}...${code}`;
}
