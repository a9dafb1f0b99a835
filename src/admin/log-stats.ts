import { fromLogBytes, type LogHook, type LogRecord } from '../delivery/delivery-log';
import { hookVerdict } from '../qmail/exit-codes';
import { printable } from '../system/bytes';
import { tableKey } from '../vmailmgr/password-table';
import { localTime, shown, userOf } from './log-view';

const SLOWEST = 5;

interface UserCounts {
  user: string;
  delivered: number;
  skipped: number;
  bounced: number;
  deferred: number;
  /** The sizes of the messages delivered or skipped (accepted). */
  bytes: number;
}

export interface LogStats {
  deliveries: number;
  users: UserCounts[];
  slowest: Array<{ time: string; user: string; outcome: string; ms: number; slowestHook?: { path: string; ms: number } }>;
  failedHooks: Array<{ path: string; failures: number; last: { time: string; user: string; what: string } }>;
}

const COUNTER = { delivered: 'delivered', skip: 'skipped', bounce: 'bounced', defer: 'deferred' } as const;

/** A hook's failure in words, or undefined when it said "continue" or "stop". */
export function hookFailure(hook: LogHook): string | undefined {
  if (hook.timed_out) return 'timed out';
  if (hook.error) return `could not be run (${hook.error})`;
  if (hook.signal) return `killed by ${hook.signal}`;
  const verdict = hookVerdict(hook.exit);
  return verdict === 'continue' || verdict === 'stop' ? undefined : `exited ${hook.exit}`;
}

/** `--stats`: the figures, gathered one record at a time (the log is never held in memory). */
export class StatsCollector {
  private readonly stats: LogStats = { deliveries: 0, users: [], slowest: [], failedHooks: [] };
  private readonly users = new Map<string, UserCounts>();
  private readonly hooks = new Map<string, LogStats['failedHooks'][number]>();

  add(record: LogRecord): void {
    this.stats.deliveries++;
    const user = record.ext === undefined ? '-' : printable(tableKey(fromLogBytes(record.ext)));
    let counts = this.users.get(user);
    if (!counts) this.users.set(user, (counts = { user, delivered: 0, skipped: 0, bounced: 0, deferred: 0, bytes: 0 }));
    counts[COUNTER[record.outcome]]++;
    if (record.outcome === 'delivered' || record.outcome === 'skip') counts.bytes += record.size ?? 0;
    this.noteSlow(record);
    for (const hook of record.hooks ?? []) {
      const what = hookFailure(hook);
      if (!what) continue;
      const path = shown(hook.path);
      const seen = this.hooks.get(path) ?? { path, failures: 0, last: { time: '', user: '', what: '' } };
      seen.failures++;
      seen.last = { time: record.time, user: userOf(record), what };
      this.hooks.set(path, seen);
    }
  }

  private noteSlow(record: LogRecord): void {
    const slow = this.stats.slowest;
    if (slow.length === SLOWEST && record.ms <= slow[SLOWEST - 1].ms) return;
    const hook = (record.hooks ?? []).reduce<LogHook | undefined>((a, b) => (a && a.ms >= b.ms ? a : b), undefined);
    slow.push({
      time: record.time,
      user: userOf(record),
      outcome: record.outcome,
      ms: record.ms,
      slowestHook: hook && { path: shown(hook.path), ms: hook.ms },
    });
    slow.sort((a, b) => b.ms - a.ms);
    slow.length = Math.min(slow.length, SLOWEST);
  }

  result(): LogStats {
    const users = [...this.users.values()].sort((a, b) => a.user.localeCompare(b.user));
    const failedHooks = [...this.hooks.values()].sort((a, b) => b.failures - a.failures || a.path.localeCompare(b.path));
    return { ...this.stats, users, failedHooks };
  }
}

export function formatStats(stats: LogStats): string {
  const out: string[] = [];
  const total = (key: keyof Omit<UserCounts, 'user'>): number => stats.users.reduce((sum, u) => sum + u[key], 0);
  out.push(
    `${stats.deliveries} deliveries: ${total('delivered')} delivered, ${total('skipped')} skipped, ${total('bounced')} bounced, ${total('deferred')} deferred; ${total('bytes')} bytes accepted`,
  );
  if (stats.users.length > 0) {
    const width = Math.max(4, ...stats.users.map((u) => u.user.length));
    const row = (cells: Array<string | number>): string => cells.map((c, i) => (i === 0 ? String(c).padEnd(width) : String(c).padStart(10))).join('  ');
    out.push('', row(['user', 'delivered', 'skipped', 'bounced', 'deferred', 'bytes']));
    for (const u of stats.users) out.push(row([u.user, u.delivered, u.skipped, u.bounced, u.deferred, u.bytes]));
  }
  if (stats.slowest.length > 0) {
    out.push('', 'slowest:');
    for (const s of stats.slowest) {
      const hook = s.slowestHook ? `; hook ${s.slowestHook.path} ${s.slowestHook.ms} ms` : '';
      out.push(`  ${String(s.ms).padStart(6)} ms  ${localTime(s.time)}  ${s.user} (${s.outcome})${hook}`);
    }
  }
  out.push('', stats.failedHooks.length > 0 ? 'hooks that failed:' : 'hooks that failed: none');
  for (const h of stats.failedHooks)
    out.push(`  ${h.path}: ${h.failures} time${h.failures === 1 ? '' : 's'}; last ${localTime(h.last.time)} for ${h.last.user}: ${h.last.what}`);
  return `${out.join('\n')}\n`;
}
