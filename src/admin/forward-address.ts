import { printable } from '../system/bytes';
import { AdminError } from './context';

/**
 * qmail-queue refuses an address longer than this: its ADDR buffer is 1003 bytes with the NUL
 * (qmail-queue.c). A stored forward is checked as stored; completing a bare name with `@HOST` or a
 * trailing `@` with control/me at delivery time can only make it longer.
 */
export const MAX_FORWARD_BYTES = 1002;

/**
 * Why `forward` (a byte string) is not one address qmail-queue can take, or undefined when it is.
 * A record holds a list of single addresses: a space, comma or angle bracket means the admin typed
 * a list or a display form, which qmail-queue would queue as one broken recipient. A bare name and
 * a trailing `@` are vmailmgr's short forms (completed at delivery), so the domain may be empty.
 */
export function forwardProblem(forward: string): string | undefined {
  if (forward === '') return 'is empty';
  if (forward.length > MAX_FORWARD_BYTES) return `is ${forward.length} bytes long; qmail-queue takes at most ${MAX_FORWARD_BYTES}`;
  const bad = /[\0-\x20\x7f,<>]/.exec(forward);
  if (bad) return `contains ${describe(bad[0])}: give one plain address per forward`;
  const at = forward.indexOf('@');
  if (at >= 0 && forward.indexOf('@', at + 1) >= 0) return 'contains more than one @';
  if (at === 0) return 'has nothing before the @';
  return undefined;
}

const describe = (c: string): string =>
  ({ ' ': 'a space', ',': 'a comma', '<': 'an angle bracket', '>': 'an angle bracket', '\t': 'a tab', '\n': 'a line break', '\r': 'a line break' })[c] ??
  `the control byte 0x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Throws the one-line error that names the bad forward. */
export function checkForwardAddress(forward: string): void {
  const problem = forwardProblem(forward);
  if (!problem) return;
  const shown = forward.length > 60 ? `${forward.slice(0, 40)}...` : forward;
  // eslint-disable-next-line no-control-regex
  throw new AdminError(`the forward '${printable(shown.replace(/[\0-\x1f\x7f]/g, ' '))}' ${problem}`);
}
