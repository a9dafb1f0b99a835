import type { Usage } from '../maildir/maildirsize';
import { UNLIMITED } from '../vmailmgr/uint32';

/** A record's four limits (UNLIMITED: none), as vcheckquota reads them from VUSER_*. */
export interface QuotaLimits {
  hardquota: number;
  softquota: number;
  msgsize: number;
  msgcount: number;
}

export type QuotaRule = 'msgsize' | 'msgcount' | 'hardquota' | 'softquota';

export type QuotaDecision = { kind: 'accept'; overSoft: boolean } | { kind: 'refuse'; rule: QuotaRule; line: string };

/** vcheckquota's sentences, which senders and admins know; each ends in its enhanced status code. */
const SENTENCE: Record<QuotaRule, string> = {
  msgsize: 'Sorry, this message is larger than the current maximum message size limit. (#5.3.4)',
  msgcount: 'Sorry, the person you sent this message has too many messages stored in the mailbox (#5.2.2)',
  hardquota: "Message would exceed virtual user's disk quota. (#5.2.2)",
  softquota:
    "Sorry, your message cannot be delivered. User's disk quota exceeded. A small message will be delivered should you wish to inform this person. (#5.2.2)",
};

const refuse = (rule: QuotaRule): QuotaDecision => ({ kind: 'refuse', rule, line: `vdeliver: ${SENTENCE[rule]}` });

/** Whether the mailbox's usage matters at all: without these limits there is nothing to count. */
export const countsUsage = (limits: QuotaLimits): boolean => limits.msgcount !== UNLIMITED || limits.hardquota !== UNLIMITED || limits.softquota !== UNLIMITED;

/** A soft quota alone acts as the hard quota (vcheckquota's rule 4). */
export const effectiveHardQuota = (limits: QuotaLimits): number => (limits.hardquota === UNLIMITED ? limits.softquota : limits.hardquota);

/**
 * vcheckquota's rules, in its order: the message size, then (only when some limit needs it) the
 * message count, the hard quota, and the soft quota, which a message of at most `allowance`
 * bytes may pass so that the sender can still say the mailbox is full.
 * `message` is the size as received, `stored` the size of the Maildir file (with qmail's lines).
 */
export function judgeQuota(limits: QuotaLimits, message: number, stored: number, usage: () => Usage, allowance: number): QuotaDecision {
  if (limits.msgsize !== UNLIMITED && message > limits.msgsize) return refuse('msgsize');
  if (!countsUsage(limits)) return { kind: 'accept', overSoft: false };
  const { bytes, count } = usage();
  if (limits.msgcount !== UNLIMITED && count + 1 > limits.msgcount) return refuse('msgcount');
  const hard = effectiveHardQuota(limits);
  if (hard !== UNLIMITED && bytes + stored > hard) return refuse('hardquota');
  const overSoft = limits.softquota !== UNLIMITED && bytes + stored > limits.softquota;
  if (overSoft && message > allowance) return refuse('softquota');
  return { kind: 'accept', overSoft };
}
