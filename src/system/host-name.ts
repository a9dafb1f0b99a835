import { readWhole } from './read-whole';
import { fromText } from './bytes';

/**
 * This machine's name, as uname(2) gives it (what os.hostname() returns), for Maildir file names.
 * Linux keeps it in /proc/sys/kernel/hostname: reading that costs a few microseconds, where loading
 * node:os for it costs a quarter of a millisecond on every delivery. Without /proc, node:os answers.
 */
export function hostName(): string {
  try {
    const name = readWhole('/proc/sys/kernel/hostname').toString('latin1').replace(/\n$/, '');
    if (name) return name;
  } catch {
    // No /proc (a chroot, another system): ask node:os.
  }
  return fromText((require('node:os') as typeof import('node:os')).hostname());
}
