import { closeSync, constants, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath, toBytes } from '../system/bytes';
import { isErrno } from '../system/errno';
import { randomTag } from '../system/files';
import { readMaildirSize, type Tally, type Usage } from '../maildir/maildirsize';
import { commit, type Naming, stageBytes } from '../maildir/maildir-writer';
import { effectiveHardQuota, judgeQuota, type QuotaDecision, type QuotaLimits } from './quota-rules';
import { UNLIMITED } from '../vmailmgr/uint32';

/** The maildirsize definition line for a record's limits: bytes (the effective hard quota) and count, `-` left out. */
export function quotaDefinition(limits: QuotaLimits): string {
  const hard = effectiveHardQuota(limits);
  return [hard === UNLIMITED ? '' : `${hard}S`, limits.msgcount === UNLIMITED ? '' : `${limits.msgcount}C`].filter(Boolean).join(',');
}

/** Quota enforcement for one Maildir delivery, worked out by the plan. */
export interface QuotaPlan {
  limits: QuotaLimits;
  /** vcheckquota's -a: a message this small passes a full soft quota. */
  allowance: number;
  /** The maildirsize definition line these limits make. */
  definition: string;
  /** The admin's own words, printed before the status line of an over-quota bounce. */
  bounceText?: string;
  warning?: { template: string; percent: number; intervalMs: number };
}

/** What the check found: the decision and the figures behind it (for the dry run, admin test, the log). */
export interface QuotaCheck {
  decision: QuotaDecision;
  /** undefined when no limit needs the mailbox's usage. */
  usage?: Usage;
  recalculated?: string;
  message: number;
  stored: number;
}

/**
 * vcheckquota's rules against the maildirsize figures; a refusal bounces with its sentence.
 * Runs after the predeliver hooks and before staging, like vcheckquota as a predeliver hook.
 */
export function checkQuota(maildir: string, quota: QuotaPlan, message: number, stored: number, nowMs: number, persist = true): QuotaCheck {
  const check: QuotaCheck = { decision: { kind: 'accept', overSoft: false }, message, stored };
  check.decision = judgeQuota(
    quota.limits,
    message,
    stored,
    () => {
      const found = readMaildirSize(maildir, quota.definition, nowMs, (usage) => wouldRefuse(quota, usage, message, stored), persist);
      check.usage = found.usage;
      check.recalculated = found.recalculated;
      return found.usage;
    },
    quota.allowance,
  );
  return check;
}

const wouldRefuse = (quota: QuotaPlan, usage: Usage, message: number, stored: number): boolean =>
  judgeQuota(quota.limits, message, stored, () => usage, quota.allowance).kind === 'refuse';

/**
 * After the commit: count the stored message through the tally opened before it (one O_APPEND
 * line), and store the warning message when usage has crossed the percentage, at most once per
 * interval. Returns warnings: nothing here may undo the delivery.
 */
export function afterCommit(maildir: string, quota: QuotaPlan, check: QuotaCheck, tally: Tally, naming: Naming, nowMs: number): string[] {
  if (!check.usage) return [];
  const notes: string[] = [];
  const appended = tally.add(check.stored, 1);
  if (appended) notes.push(appended);
  const usage = { bytes: check.usage.bytes + check.stored, count: check.usage.count + 1 };
  if (quota.warning && crossed(quota, usage) && warnNow(maildir, quota.warning.intervalMs, nowMs)) {
    try {
      commit(stageBytes(maildir, toBytes(quota.warning.template), naming));
      const warned = tally.add(toBytes(quota.warning.template).length, 1);
      if (warned) notes.push(warned);
    } catch {
      notes.push(`vdeliver: warning: could not store the quota warning in ${maildir}`);
    }
  }
  return notes;
}

function crossed(quota: QuotaPlan, usage: Usage): boolean {
  const share = quota.warning!.percent / 100;
  const hard = effectiveHardQuota(quota.limits);
  const { msgcount } = quota.limits;
  return (hard !== UNLIMITED && usage.bytes >= hard * share) || (msgcount !== UNLIMITED && usage.count >= msgcount * share);
}

/**
 * Courier's `quotawarn` file in the Maildir: its time is the last warning. A delivery claims the
 * right to warn with an exclusive create, or, when the file is older than the interval, by renaming
 * it away (only one of several racing renames succeeds): two deliveries never both warn.
 */
function warnNow(maildir: string, intervalMs: number, nowMs: number): boolean {
  const path = join(maildir, 'quotawarn');
  try {
    if (nowMs - statSync(fsPath(path)).mtimeMs < intervalMs) return false;
    const claimed = `${path}.${randomTag()}`;
    renameSync(fsPath(path), fsPath(claimed));
    unlinkSync(fsPath(claimed));
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) return false; // cannot tell: no warning rather than two
  }
  try {
    closeSync(openSync(fsPath(path), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
    return true;
  } catch {
    return false; // another delivery made it first: it warns
  }
}
