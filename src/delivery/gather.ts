import { join, resolve } from 'node:path';
import { fsPath } from '../system/bytes';
import { readWhole } from '../system/read-whole';
import { CdbError } from '../cdb/cdb-reader';
import type { Config } from '../vmailmgr/config';
import type { DeliveryOptions } from './request';
import { findHooks } from './hooks';
import { lookupUser, requireDeliverable, type VirtualUser } from '../vmailmgr/lookup';
import { failBounce, failDefer } from '../qmail/outcome';
import { quoteName } from '../qmail/status-line';
import { oldFormatDefaults, PasswordTable, tablePath } from '../vmailmgr/password-table';
import type { Request } from './request';
import { UNLIMITED } from '../vmailmgr/uint32';

/**
 * Everything a delivery needs from the file system besides the message, read once and turned
 * into plain values, so that the plan can be worked out by pure code (plan.ts).
 */
export interface Surroundings {
  user: VirtualUser;
  /** The hooks that will run (none for a chain switched off by --no-predeliver / --no-postdeliver). */
  hooks: { predeliver: string[]; postdeliver: string[] };
  /** <qmail-root> as vmailmgr resolves it (relative to $HOME); read only when there are forwards. */
  qmailRoot?: string;
  /** First line of <qmail-root>control/me, read only when a forward ends in `@`. */
  controlMe?: string;
  /** undefined: no limit (`-` or `0` in the config). */
  hookTimeoutMs?: number;
  queueTimeoutMs?: number;
  /** Set when `vdeliver-enforce-quotas` is 1: how the records' limits are enforced. */
  quotas?: QuotaSettings;
}

export interface QuotaSettings {
  allowance: number;
  overQuotaText?: string;
  warning?: { template: string; percent: number; intervalMs: number };
}

/**
 * Read the config, look the user up (bouncing an unknown or expired one), find the hooks, and read
 * control/me where a forward needs it. `found` sees the lookup's answer before any bounce.
 */
export function gather(
  request: Request,
  options: DeliveryOptions,
  config: Config,
  nowMs: number,
  found?: (user: VirtualUser | undefined) => void,
): Surroundings {
  const answer = findUser(request, config, nowMs);
  found?.(answer);
  const user = deliverable(answer, request, config, nowMs);
  const hooks = {
    predeliver: options.predeliver ? findHooks('vdeliver-predeliver', config) : [],
    postdeliver: options.postdeliver ? findHooks('vdeliver-postdeliver', config) : [],
  };
  // Items read only when something uses them: each read is a system call on every delivery.
  const anyHook = hooks.predeliver.length + hooks.postdeliver.length > 0;
  const forwards = user.record.forwards.length > 0;
  const root = forwards ? qmailRoot(request.home, config) : undefined;
  return {
    user,
    hooks,
    qmailRoot: root,
    controlMe: root !== undefined && user.record.forwards.some((f) => f.endsWith('@')) ? readControlMe(root) : undefined,
    hookTimeoutMs: anyHook ? timeoutMs(config.number('vdeliver-hook-timeout')) : undefined,
    queueTimeoutMs: forwards ? timeoutMs(config.number('vdeliver-queue-timeout')) : undefined,
    quotas: config.number('vdeliver-enforce-quotas') === 1 ? quotaSettings(config) : undefined,
  };
}

/** An unknown user's bounce carries the admin's words first (vpopmail's .no-user.msg), when there are any. */
function deliverable(answer: VirtualUser | undefined, request: Request, config: Config, nowMs: number): VirtualUser {
  if (!answer) {
    const text = config.text('vdeliver-no-user-msg');
    if (text) throw failBounce(`vdeliver: Invalid or unknown virtual user '${quoteName(request.ext)}' (#5.1.1)`, undefined, text);
  }
  return requireDeliverable(answer, request.ext, Math.floor(nowMs / 1000));
}

function quotaSettings(config: Config): QuotaSettings {
  const template = config.text('vdeliver-quota-warning');
  const interval = config.number('vdeliver-quota-warn-interval');
  return {
    allowance: config.number('vdeliver-quota-allowance'),
    overQuotaText: config.text('vdeliver-over-quota-msg'),
    warning:
      template === undefined
        ? undefined
        : {
            template,
            percent: config.number('vdeliver-quota-warn-percent'),
            intervalMs: interval === UNLIMITED ? Infinity : interval * 1000,
          },
  };
}

export const qmailRoot = (home: string, config: Config): string => resolve(home, config.string('qmail-root'));

function findUser(request: Request, config: Config, nowMs: number): VirtualUser | undefined {
  const path = tablePath(request.home, config);
  let table: PasswordTable | undefined;
  try {
    table = PasswordTable.open(path, () => oldFormatDefaults(config), Math.floor(nowMs / 1000));
    return lookupUser(table, request.ext, config.string('default-username'));
  } catch (error) {
    // A broken table is the admin's fault: bouncing here would bounce mail for every user (decision 1).
    if (error instanceof CdbError) throw failDefer(`vdeliver: cannot read the password table ${path}: ${error.message} (#4.3.0)`, error);
    throw error;
  } finally {
    table?.close();
  }
}

/** The first line, untrimmed, as vmailmgr's read_me() takes it; its bytes as they are. */
export function readControlMe(root: string): string | undefined {
  try {
    return (
      readWhole(fsPath(join(root, 'control', 'me')))
        .toString('latin1')
        .split('\n')[0] || undefined
    );
  } catch {
    return undefined; // missing or unreadable: vmailmgr's "control/me is empty!", raised when forwarding
  }
}

/** Seconds from the config to a timer: `-` and 0 mean none; Node's timers stop at 2^31-1 ms (24.8 days). */
function timeoutMs(seconds: number): number | undefined {
  if (seconds === UNLIMITED || seconds === 0) return undefined;
  return Math.min(seconds * 1000, 0x7fffffff);
}
