import { isAbsolute, join, resolve } from 'node:path';
import { toBytes } from '../system/bytes';
import type { DeliveryOptions } from './request';
import { completeForwards, type ForwardPlan } from './forward';
import { type VirtualUser, wantsMailbox } from '../vmailmgr/lookup';
import type { Request } from './request';
import type { QuotaSettings, Surroundings } from './gather';
import { quotaDefinition, type QuotaPlan } from './quota';
import { formatUint } from '../vmailmgr/uint32';
import { quoteName } from '../qmail/status-line';

/** Everything one delivery will do, worked out before anything is done (and printable by a dry run). */
export interface Plan {
  user: VirtualUser;
  /** qmail-local's environment plus VUSER, MAILDIR and VUSER_*: what hooks and qmail-queue see. */
  env: Record<string, string>;
  predeliver: string[];
  postdeliver: string[];
  maildir?: { path: string; prefix: Buffer };
  /** Set when quotas are enforced and the message gets a Maildir copy (aliases have no mailbox to fill). */
  quota?: QuotaPlan;
  forward?: ForwardPlan;
  /** Set when the message is accepted but stored nowhere (disabled mailbox, alias without forwards). */
  dropped?: string;
  /** undefined: hooks may run as long as they like (`-` or `0` in the config). */
  hookTimeoutMs?: number;
}

/**
 * Work out the whole delivery from the request and its surroundings: pure, no I/O. The only
 * failure is the one the plan records for later (control/me missing), raised when forwarding.
 */
export function makePlan(request: Request, options: DeliveryOptions, surroundings: Surroundings): Plan {
  const { user, hooks, controlMe, qmailRoot } = surroundings;
  const { record } = user;
  const env = { ...request.env, ...userEnvironment(user) };
  const plan: Plan = {
    user,
    env,
    predeliver: hooks.predeliver,
    postdeliver: hooks.postdeliver,
    hookTimeoutMs: surroundings.hookTimeoutMs,
  };
  if (wantsMailbox(record)) {
    const { ufline, rpline, dtline } = request;
    const prefix = toBytes((options.fromLine ? ufline : '') + (options.returnPath ? rpline : '') + (options.deliveredTo ? dtline : ''));
    plan.maildir = { path: resolve(request.home, record.directory), prefix };
    if (surroundings.quotas) plan.quota = quotaPlan(user, surroundings.quotas);
  }
  if (record.forwards.length > 0 && qmailRoot !== undefined) {
    plan.forward = {
      qmailQueue: qmailQueuePath(request.env.QMAILQUEUE, qmailRoot),
      sender: request.sender,
      ...completeForwards(record.forwards, request.host, controlMe),
      dtline: options.deliveredTo ? request.dtline : '',
      env: { ...env, ...senderParts(request.sender) },
      cwd: qmailRoot,
      timeoutMs: surroundings.queueTimeoutMs,
    };
  }
  if (!plan.maildir && !plan.forward) {
    const why = record.hasMailbox && !record.mailboxEnabled ? 'its mailbox is disabled' : 'it has no mailbox and no forwards';
    plan.dropped = `vdeliver: accepted and discarded: virtual user '${quoteName(user.name)}' exists but ${why} (#2.0.0)`;
  }
  return plan;
}

function quotaPlan({ record }: VirtualUser, settings: QuotaSettings): QuotaPlan {
  const limits = { hardquota: record.hardquota, softquota: record.softquota, msgsize: record.msgsize, msgcount: record.msgcount };
  return { limits, allowance: settings.allowance, definition: quotaDefinition(limits), bounceText: settings.overQuotaText, warning: settings.warning };
}

/** The environment after forwarding: vmailmgr leaves QMAILUSER/QMAILHOST set, and postdeliver sees them. */
export const postdeliverEnv = (plan: Plan): Record<string, string> => plan.forward?.env ?? plan.env;

/** vmailmgr's export_env(): names and formats exactly (`-` for unlimited, `1`/`0` for flags). */
export function userEnvironment(user: VirtualUser): Record<string, string> {
  const r = user.record;
  return {
    VUSER: user.name,
    MAILDIR: r.directory,
    VUSER_CTIME: formatUint(r.ctime),
    VUSER_EXPIRY: formatUint(r.expiry),
    VUSER_HARDQUOTA: formatUint(r.hardquota),
    VUSER_SOFTQUOTA: formatUint(r.softquota),
    VUSER_MSGSIZE: formatUint(r.msgsize),
    VUSER_MSGCOUNT: formatUint(r.msgcount),
    VUSER_PERSONAL: r.personal,
    VUSER_HAS_MAILBOX: r.hasMailbox ? '1' : '0',
    VUSER_MAILBOX_ENABLED: r.mailboxEnabled ? '1' : '0',
  };
}

/** QMAILUSER/QMAILHOST, set by vmailmgr when SENDER has an `@` after its first character. */
function senderParts(sender: string): Record<string, string> {
  const at = sender.indexOf('@');
  return at > 0 ? { QMAILUSER: sender.slice(0, at), QMAILHOST: sender.slice(at + 1) } : {};
}

/** QMAILQUEUE wins (the qmail-qfilter / notqmail convention); a relative value is relative to qmail's root. */
export function qmailQueuePath(override: string | undefined, qmailRoot: string): string {
  if (override) return isAbsolute(override) ? override : join(qmailRoot, override);
  return join(qmailRoot, 'bin', 'qmail-queue');
}
