import { readWhole } from './read-whole';
import { byteString, fromText } from './bytes';

/**
 * The environment as byte strings (src/system/bytes.ts). Node decodes process.env as UTF-8 and replaces
 * invalid bytes with U+FFFD, but qmail passes envelope bytes through unchanged (an 8-bit sender, a
 * Latin-1 local part), and vdeliver must copy them as they are. Valid UTF-8 converts back exactly;
 * only when some value holds U+FFFD is the original read from `procPath`, for our own process
 * (Linux keeps it in /proc/self/environ).
 */
export function environmentBytes(env: Readonly<Record<string, string | undefined>>, procPath?: string): Record<string, string> {
  if (procPath !== undefined && Object.values(env).some((value) => value?.includes('\uFFFD'))) {
    const raw = readRawEnvironment(procPath);
    if (raw) return raw;
  }
  const bytes: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) bytes[name] = fromText(value);
  return bytes;
}

/** /proc/self/environ as byte strings, or undefined without /proc. */
export function readRawEnvironment(path = '/proc/self/environ'): Record<string, string> | undefined {
  let bytes: Buffer;
  try {
    bytes = readWhole(path);
  } catch {
    return undefined;
  }
  const env: Record<string, string> = {};
  for (let start = 0; start < bytes.length;) {
    let end = bytes.indexOf(0, start);
    if (end < 0) end = bytes.length;
    const eq = bytes.indexOf(0x3d, start);
    if (eq > start && eq < end) env[byteString(bytes.subarray(start, eq))] = byteString(bytes.subarray(eq + 1, end));
    start = end + 1;
  }
  return env;
}
