import { failBounce, failDefer } from '../qmail/outcome';
import type { PasswordRecord } from './password-record';
import type { TableAnswer } from './password-table';
import { quoteName } from '../qmail/status-line';

export interface VirtualUser {
  /** The name that was asked for and answered: EXT as typed, or the catch-all name (VUSER). */
  name: string;
  key: string;
  via: 'direct' | 'catch-all';
  record: PasswordRecord;
}

interface Table {
  find(name: string): TableAnswer;
}

/**
 * vmailmgr's lookup (spec §5.5): EXT verbatim (never split on `-`), then the catch-all.
 * Unlike vmailmgr, a record that exists but cannot be decoded defers instead of silently
 * handing the user's mail to the catch-all (decision 2).
 */
export function lookupUser(table: Table, ext: string, catchAll: string): VirtualUser | undefined {
  // An empty EXT goes straight to the catch-all, as in vmailmgr.
  const direct = ext === '' ? undefined : table.find(ext);
  if (direct?.status === 'found') return { name: ext, key: direct.key, via: 'direct', record: direct.record };
  if (direct?.status === 'invalid') throw failDefer(`vdeliver: the password table entry for '${quoteName(ext)}' is corrupt (#4.3.0)`);
  const fallback = table.find(catchAll);
  if (fallback.status === 'found') return { name: catchAll, key: fallback.key, via: 'catch-all', record: fallback.record };
  if (fallback.status === 'invalid') throw failDefer(`vdeliver: the password table entry for the catch-all '${quoteName(catchAll)}' is corrupt (#4.3.0)`);
  return undefined;
}

/** Bounces for an unknown name or an expired account; returns the user otherwise. */
export function requireDeliverable(user: VirtualUser | undefined, ext: string, now: number): VirtualUser {
  if (!user) throw failBounce(`vdeliver: Invalid or unknown virtual user '${quoteName(ext)}' (#5.1.1)`);
  // Expiry applies to the catch-all too, and the message still names what was asked for.
  if (user.record.expiry < now) throw failBounce(`vdeliver: Virtual user '${quoteName(ext)}' has expired (#5.2.1)`);
  return user;
}

/** What the entry asks for: a Maildir copy only with a mailbox that is enabled and has a directory. */
export function wantsMailbox(record: PasswordRecord): boolean {
  return record.hasMailbox && record.mailboxEnabled && record.directory !== '';
}
