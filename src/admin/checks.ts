import { lstatSync, readFileSync, statSync, type Stats } from 'node:fs';
import { fsPath } from '../system/bytes';

/**
 * One line of `vdeliver-admin doctor`: what was checked and, when it is not ok, how to fix it: `fix`
 * is a shell command that works when pasted as printed (src/admin/fixes.ts); `hint` is advice,
 * for what no command can decide (which host name, whether a symlink is deliberate).
 */
export interface Check {
  status: 'ok' | 'warn' | 'fail';
  what: string;
  fix?: string;
  hint?: string;
}

/** How to put it right: a command to paste, or advice. */
export type Remedy = { fix: string } | { hint: string };

export const ok = (what: string): Check => ({ status: 'ok', what });
export const warn = (what: string, remedy?: Remedy): Check => ({ status: 'warn', what, ...remedy });
export const fail = (what: string, remedy?: Remedy): Check => ({ status: 'fail', what, ...remedy });
export const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/*
 * Doctor runs where things are broken: a file it cannot read or a directory it cannot search is
 * a finding with its fix, never an exception. These helpers report errors instead of throwing.
 * Paths are byte strings (src/system/bytes.ts), as the home, the config and the records give them;
 * messages show them through printable().
 */

/** The error code `work` fails with, or undefined when it succeeds. */
export function failure(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

/** stat, or undefined when the path is missing or cannot be reached. */
export function stat(path: string): Stats | undefined {
  let st: Stats | undefined;
  return failure(() => {
    st = statSync(fsPath(path));
  })
    ? undefined
    : st;
}

/** lstat (the link itself, not what it points at), or undefined likewise. */
export function lstat(path: string): Stats | undefined {
  let st: Stats | undefined;
  return failure(() => {
    st = lstatSync(fsPath(path));
  })
    ? undefined
    : st;
}

/** A file's bytes as a byte string, or the error code it could not be read with. */
export function readBytes(path: string): { text: string } | { code: string } {
  let text = '';
  const code = failure(() => {
    text = readFileSync(fsPath(path), 'latin1');
  });
  return code ? { code } : { text };
}
