import { readFileSync } from 'node:fs';

/**
 * The environment's exact bytes. Node decodes process.env as UTF-8 and replaces invalid bytes with
 * U+FFFD, but qmail passes envelope bytes through unchanged (an 8-bit sender, say), and vdeliver must
 * copy them into the Maildir and the envelope as they are. Linux keeps the original in /proc.
 */
export function readRawEnvironment(path = '/proc/self/environ'): Map<string, Buffer> | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  const env = new Map<string, Buffer>();
  for (let start = 0; start < bytes.length;) {
    let end = bytes.indexOf(0, start);
    if (end < 0) end = bytes.length;
    const eq = bytes.indexOf(0x3d, start);
    if (eq > start && eq < end) env.set(bytes.toString('latin1', start, eq), bytes.subarray(eq + 1, end));
    start = end + 1;
  }
  return env;
}

/** Only worth reading when a value we copy was not valid UTF-8 (it then holds U+FFFD). */
export const needsRawEnvironment = (env: Readonly<Record<string, string | undefined>>, names: readonly string[]): boolean =>
  names.some((name) => env[name]?.includes('\uFFFD'));
