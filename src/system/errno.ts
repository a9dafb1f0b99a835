type ErrnoTable = typeof import('node:os').constants.errno;

/**
 * System errors, classified by their number, never by Node's code string: Node 20's libuv has no
 * name for some (EDQUOT comes out as 'Unknown system error -122'), and those are exactly the ones
 * that matter here.
 */
let table: ErrnoTable | undefined;
let byNumber: Map<number, string> | undefined;
/** node:os, for its errno table, is loaded on the first question: a plain delivery asks none (0.25 ms saved). */
export const errnoNumbers = (): ErrnoTable => (table ??= (require('node:os') as typeof import('node:os')).constants.errno);
/** Descriptions for the errors libuv cannot name (strerror's words). */
const EXTRA: Record<string, string> = { EDQUOT: 'disk quota exceeded', ESTALE: 'stale file handle' };

/** The positive errno of a system error, or undefined for anything else. */
export function errnoOf(error: unknown): number | undefined {
  const n = (error as NodeJS.ErrnoException | undefined)?.errno;
  return typeof n === 'number' && n !== 0 ? Math.abs(n) : undefined;
}

export const errnoName = (errno: number): string =>
  (byNumber ??= new Map(Object.entries(errnoNumbers()).map(([name, number]) => [number, name]))).get(errno) ?? `errno ${errno}`;

/** Is this a system error with the given name (ENOENT, EEXIST...)? */
export function isErrno(error: unknown, ...names: string[]): boolean {
  const n = errnoOf(error);
  return n !== undefined && names.some((name) => errnoNumbers()[name as keyof ErrnoTable] === n);
}

/** `EDQUOT (disk quota exceeded)`; other errors by their message. */
export function errnoText(error: unknown): string {
  const n = errnoOf(error);
  if (n === undefined) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
    return String(error instanceof Error ? error.message : error);
  }
  const name = errnoName(n);
  // Node's message starts with libuv's words when libuv knows the error ("ENOSPC: no space left on
  // device, write"); node:util's error map would say the same but loads the stream modules.
  const e = error as NodeJS.ErrnoException;
  const words = e.code === name ? /^[A-Z0-9_]+: ([^,]+)/.exec(e.message)?.[1] : undefined;
  const detail = words ?? EXTRA[name];
  return detail ? `${name} (${detail})` : name;
}

/**
 * The one errno table (after notqmail's error_temp.c): only a file-system quota is permanent,
 * because retrying cannot make room in someone's quota; everything else may clear up, so defer.
 */
export function isPermanentErrno(error: unknown): boolean {
  const n = errnoOf(error);
  return n !== undefined && n === errnoNumbers().EDQUOT;
}
