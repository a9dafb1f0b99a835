import { fromText, toText } from '../system/bytes';
import type { Trace } from './delivery-trace';
import type { HookRun } from './hooks';
import { exitCode, type Outcome } from '../qmail/outcome';
import type { QuotaLimits } from './quota-rules';
import { tableKey } from '../vmailmgr/password-table';
import { UNLIMITED } from '../vmailmgr/uint32';

/**
 * A byte string in the log (src/system/bytes.ts): its text when the bytes are valid UTF-8, else
 * `{"bytes": "..."}` holding every byte below 0x80 as itself and every byte of 0x80 and above, and
 * the backslash, as `\xNN` (so a Latin-1 `jörg` is `{"bytes":"j\\xf6rg"}` in the file). Exact either way.
 */
export type LogBytes = string | { bytes: string };

export const logBytes = (value: string): LogBytes =>
  toText(value) ?? { bytes: value.replace(/[\\\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) };

/** The byte string a log value stands for. */
export const fromLogBytes = (value: LogBytes): string =>
  typeof value === 'string' ? fromText(value) : value.bytes.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

export interface LogHook {
  chain: 'predeliver' | 'postdeliver';
  path: LogBytes;
  exit?: number;
  signal?: string;
  timed_out?: true;
  error?: string;
  ms: number;
}

/** One line of the delivery log, as JSON. Fields that do not apply are left out. */
export interface LogRecord {
  time: string;
  pid: number;
  outcome: Outcome['kind'];
  exit: number;
  status?: LogBytes;
  ext?: LogBytes;
  key?: LogBytes;
  via?: 'direct' | 'catch-all';
  user?: LogBytes;
  sender?: LogBytes;
  host?: LogBytes;
  size?: number;
  message_id?: LogBytes;
  maildir?: LogBytes;
  forward?: { to: LogBytes[]; queued: boolean; exit?: number; signal?: string; timed_out?: true; error?: string; ms: number };
  hooks?: LogHook[];
  quota?: {
    decision: 'accept' | 'refuse';
    rule?: string;
    over_soft?: true;
    message: number;
    stored: number;
    bytes?: number;
    count?: number;
    recounted?: string;
    limits: Partial<QuotaLimits>;
  };
  notes?: LogBytes[];
  ms: number;
}

/** What the delivery knows once its outcome stands. Strings are byte strings. */
export interface LogFacts {
  time: number;
  pid: number;
  /** qmail-local's environment: EXT, SENDER and HOST are logged as given. */
  env: Readonly<Record<string, string | undefined>>;
  outcome: Outcome;
  notes: string[];
  trace: Trace;
  size?: number;
  messageId?: string;
  ms: number;
}

const bytesOf = (value: string | undefined): LogBytes | undefined => (value === undefined || value === '' ? undefined : logBytes(value));

/** The record a delivery's facts make: pure, small values only (no hook output, nothing of the message but its Message-ID). */
export function logRecord(facts: LogFacts): LogRecord {
  const { trace, outcome } = facts;
  const { EXT: ext, SENDER: sender, HOST: host } = facts.env;
  const user = trace.user;
  return {
    time: isoTime(facts.time),
    pid: facts.pid,
    outcome: outcome.kind,
    exit: exitCode(outcome),
    status: bytesOf(outcome.line),
    ext: ext === undefined ? undefined : logBytes(ext),
    key: bytesOf(user?.key ?? (ext === undefined ? undefined : tableKey(ext))),
    via: user?.via,
    user: bytesOf(user?.name),
    sender: sender === undefined ? undefined : logBytes(sender),
    host: bytesOf(host),
    size: facts.size,
    message_id: bytesOf(facts.messageId),
    maildir: bytesOf(trace.stored),
    forward: forwardOf(trace),
    hooks: hooksOf(trace),
    quota: quotaOf(trace),
    notes: facts.notes.length > 0 ? facts.notes.map(logBytes) : undefined,
    ms: facts.ms,
  };
}

/**
 * `Date.prototype.toISOString()`'s text, worked out by arithmetic: a Date's first use loads the time
 * zone (about 0.2 ms of the log's cost), and UTC needs none. Days to a civil date: H. Hinnant's
 * `civil_from_days`.
 */
export function isoTime(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const inDay = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const [h, m, sec, milli] = [Math.floor(inDay / 3_600_000), Math.floor(inDay / 60_000) % 60, Math.floor(inDay / 1000) % 60, inDay % 1000];
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(h)}:${pad(m)}:${pad(sec)}.${pad(milli, 3)}Z`;
}

/** The record as one line of the log: JSON text and a newline. */
export const logLine = (record: LogRecord): string => `${JSON.stringify(record)}\n`;

function forwardOf({ plan, forward }: Trace): LogRecord['forward'] {
  if (!plan?.forward || !forward) return undefined;
  const { queued, exitCode: exit, signal, timedOut, startError, ms } = forward;
  return { to: plan.forward.recipients.map(logBytes), queued, exit, signal, timed_out: timedOut || undefined, error: startError, ms };
}

function hooksOf(trace: Trace): LogHook[] | undefined {
  const hook = (chain: LogHook['chain']) => (run: HookRun) => ({
    chain,
    path: logBytes(run.path),
    exit: run.exitCode,
    signal: run.signal,
    timed_out: run.timedOut || undefined,
    error: run.startError,
    ms: run.ms,
  });
  const hooks = [...trace.predeliver.map(hook('predeliver')), ...trace.postdeliver.map(hook('postdeliver'))];
  return hooks.length > 0 ? hooks : undefined;
}

function quotaOf({ plan, quota }: Trace): LogRecord['quota'] {
  if (!plan?.quota || !quota) return undefined;
  const { decision, usage } = quota;
  const limits = Object.fromEntries(Object.entries(plan.quota.limits).filter(([, limit]) => limit !== UNLIMITED));
  return {
    decision: decision.kind,
    rule: decision.kind === 'refuse' ? decision.rule : undefined,
    over_soft: (decision.kind === 'accept' && decision.overSoft) || undefined,
    message: quota.message,
    stored: quota.stored,
    bytes: usage?.bytes,
    count: usage?.count,
    recounted: quota.recalculated,
    limits,
  };
}
