import type { ForwardAnswer } from './forward';
import type { HookRun } from './hooks';
import type { Plan } from './plan';
import type { QuotaCheck } from './quota';
import type { VirtualUser } from '../vmailmgr/lookup';

/** Watches a delivery step by step (the admin `test` command, the delivery log). Each step is optional. */
export interface DeliveryObserver {
  /** The table's answer: the user, or undefined when neither the name nor the catch-all exists. */
  found?(user: VirtualUser | undefined): void;
  planned?(plan: Plan): void;
  hooksRan?(chain: 'predeliver' | 'postdeliver', runs: HookRun[]): void;
  /** The quota check's decision and figures (only when quotas are enforced for a Maildir copy). */
  quotaChecked?(check: QuotaCheck): void;
  /** qmail-queue's answer, whether the copy was queued or not. */
  forwarded?(answer: ForwardAnswer): void;
  /** The file now in new/. */
  stored?(path: string): void;
}

/** What a delivery did, as far as it got. */
export interface Trace {
  user?: VirtualUser;
  plan?: Plan;
  predeliver: HookRun[];
  postdeliver: HookRun[];
  quota?: QuotaCheck;
  forward?: ForwardAnswer;
  stored?: string;
}

/** An observer that writes down every step in a new trace, and passes each on to `next`. */
export function tracing(next: DeliveryObserver = {}): { trace: Trace; observer: DeliveryObserver } {
  const trace: Trace = { predeliver: [], postdeliver: [] };
  return {
    trace,
    observer: {
      found(user) {
        trace.user = user;
        next.found?.(user);
      },
      planned(plan) {
        trace.plan = plan;
        next.planned?.(plan);
      },
      hooksRan(chain, runs) {
        trace[chain] = runs;
        next.hooksRan?.(chain, runs);
      },
      quotaChecked(check) {
        trace.quota = check;
        next.quotaChecked?.(check);
      },
      forwarded(answer) {
        trace.forward = answer;
        next.forwarded?.(answer);
      },
      stored(path) {
        trace.stored = path;
        next.stored?.(path);
      },
    },
  };
}
