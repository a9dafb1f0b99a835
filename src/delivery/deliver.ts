import type { DeliveryOptions } from './request';
import { errnoText } from '../system/errno';
import { checkForward, forward } from './forward';
import { gather } from './gather';
import { describeHook, type HookRun, runHooks } from './hooks';
import { checkMaildir, commit, type Naming, stage, type Staged, unstage } from '../maildir/maildir-writer';
import type { MessageSource } from './message-source';
import { defer, delivered, DeliveryFailure, failBounce, failDefer, type Outcome, skip } from '../qmail/outcome';
import { makePlan, type Plan, postdeliverEnv } from './plan';
import { afterCommit, checkQuota, type QuotaCheck } from './quota';
import { openTally } from '../maildir/maildirsize';
import { readRequest } from './request';
import { Config } from '../vmailmgr/config';
import { type DeliveryObserver, tracing } from './delivery-trace';
import { keepLog, type LogResult } from './keep-log';

export interface DeliveryInput {
  options: DeliveryOptions;
  /** qmail-local's environment as byte strings (src/system/bytes.ts). */
  env: Readonly<Record<string, string | undefined>>;
  globalDir: string;
  /** Opened only once the message is needed (a pipe is spooled then). */
  openMessage: () => Promise<MessageSource>;
  /** The clock for expiry; Maildir names have their own (`naming`), with sub-millisecond digits. */
  now: () => number;
  naming: Naming;
  /** Walk the pipeline up to the plan and its checks; write, forward and run nothing. */
  dryRun?: boolean;
  /** Keep hook output in the hook runs instead of passing it on to our fd 1 (admin test runs). */
  captureHookOutput?: boolean;
  /** Make the log line even when no log is kept (admin test runs show it). */
  showLogLine?: boolean;
}

export interface Report {
  outcome: Outcome;
  /** Lines printed besides the outcome's own (warnings after a successful delivery). */
  notes: string[];
  /** The delivery's log line, when `vdeliver-log` names a file or `showLogLine` asks for it. */
  log?: LogResult;
}

export type { DeliveryObserver } from './delivery-trace';

/** What a delivery has got hold of so far: what its log line and its clean-up need. */
interface Progress {
  config?: Config;
  message?: MessageSource;
  notes: string[];
}

/**
 * One delivery, top to bottom, as qmail-local's main() reads: request, surroundings (config, user,
 * hooks), plan, predeliver hooks, stage the Maildir copy, forward, commit, postdeliver hooks,
 * outcome. Every failure is a DeliveryFailure raised where it happens and turned into an outcome
 * here, and nowhere else. A dry run stops after the plan and its checks (the quota's included).
 * Once the outcome stands, the delivery log gets its line (keep-log.ts), which cannot change it.
 */
export async function deliver(input: DeliveryInput, observer: DeliveryObserver = {}): Promise<Report> {
  const started = input.now();
  const progress: Progress = { notes: [] };
  const { trace, observer: watched } = tracing(observer);
  const outcome = await attempt(input, progress, watched);
  // Before the message is closed: the Message-ID is read from it.
  const facts = { time: input.now(), pid: input.naming.pid, env: input.env, outcome, notes: [...progress.notes], trace, ms: input.now() - started };
  const log = keepLog({ config: progress.config, dryRun: input.dryRun, showLine: input.showLogLine }, facts, progress.message, progress.notes);
  closeMessage(progress.message, progress.notes);
  return { outcome, notes: progress.notes, log };
}

async function attempt(input: DeliveryInput, progress: Progress, observer: DeliveryObserver): Promise<Outcome> {
  const { notes } = progress;
  try {
    if (input.env.HOME) progress.config = new Config(input.env.HOME, input.globalDir);
    const read = readRequest(input.env);
    if ('outcome' in read) return read.outcome;
    const { request } = read;
    const plan = makePlan(request, input.options, gather(request, input.options, progress.config!, input.now(), observer.found));
    observer.planned?.(plan);
    const message = (progress.message = await openMessage(input));
    if (input.dryRun) return checkPlan(plan, message, input, observer);
    const refusal = await predeliver(plan, request.home, message, input, observer);
    if (refusal) return refusal;
    const quota = enforceQuota(plan, message, input, observer);
    await store(plan, message, input, observer, notes, quota);
    return await postdeliver(plan, request.home, message, input, observer, notes);
  } catch (error) {
    if (error instanceof DeliveryFailure) return error.outcome;
    // Without a positive answer the message must not be lost: defer.
    return defer(`vdeliver: internal error: ${errnoText(error)} (#4.3.0)`);
  }
}

/** A dry run's verdict: the checks the real run would meet before writing anything (hooks aside). */
function checkPlan(plan: Plan, message: MessageSource, input: DeliveryInput, observer: DeliveryObserver): Outcome {
  if (plan.maildir) checkMaildir(plan.maildir.path);
  enforceQuota(plan, message, input, observer, false);
  if (plan.forward) checkForward(plan.forward);
  return delivered(plan.dropped);
}

async function openMessage(input: DeliveryInput): Promise<MessageSource> {
  try {
    return await input.openMessage();
  } catch (error) {
    throw failDefer(`vdeliver: cannot read the message: ${errnoText(error)} (#4.3.0)`, error);
  }
}

/** The predeliver chain's verdict: undefined goes on, 99 accepts silently, a refusal keeps vmailmgr's words. */
async function predeliver(plan: Plan, home: string, message: MessageSource, input: DeliveryInput, observer: DeliveryObserver): Promise<Outcome | undefined> {
  const runs = await runHooks(plan.predeliver, plan.env, home, message, plan.hookTimeoutMs, input.captureHookOutput);
  observer.hooksRan?.('predeliver', runs);
  const last = runs[runs.length - 1];
  if (!last || last.verdict === 'continue') return undefined;
  if (last.verdict === 'stop') return skip();
  const line = `vdeliver: Execution of vdeliver-predeliver failed: ${describeHook(last)}`;
  if (last.verdict === 'bounce') throw failBounce(`${line} (#5.3.0)`);
  throw failDefer(`${line} (#4.3.0)`);
}

/** vcheckquota's rules, after the predeliver hooks and before anything is stored. */
function enforceQuota(plan: Plan, message: MessageSource, input: DeliveryInput, observer: DeliveryObserver, persist = true): QuotaCheck | undefined {
  if (!plan.quota || !plan.maildir) return undefined;
  const check = checkQuota(plan.maildir.path, plan.quota, message.size, plan.maildir.prefix.length + message.size, input.now(), persist);
  observer.quotaChecked?.(check);
  if (check.decision.kind === 'refuse') throw failBounce(check.decision.line, undefined, plan.quota.bounceText);
  return check;
}

/** Stage the Maildir copy, forward, then commit and count it: a failed forward leaves nothing in the Maildir. */
async function store(plan: Plan, message: MessageSource, input: DeliveryInput, observer: DeliveryObserver, notes: string[], quota?: QuotaCheck): Promise<void> {
  const staged = plan.maildir ? stage(plan.maildir.path, plan.maildir.prefix, message, input.naming) : undefined;
  try {
    if (plan.forward) await forward(plan.forward, message, observer.forwarded);
  } catch (error) {
    if (staged) unstage(staged);
    throw error;
  }
  if (staged) {
    // Opened before the commit, so a rescan racing this delivery never counts it twice (maildirsize.ts).
    const tally = quota?.usage ? openTally(staged.maildir) : undefined;
    try {
      const { warning } = commitAfterForward(staged, plan.forward !== undefined);
      observer.stored?.(staged.newPath);
      if (warning) notes.push(warning);
      if (tally) notes.push(...afterCommit(staged.maildir, plan.quota!, quota!, tally, input.naming, input.now()));
    } finally {
      tally?.close();
    }
  }
  if (plan.dropped) notes.push(plan.dropped);
}

/**
 * Commit the Maildir copy. A quota refusal here, once forwards are queued, defers instead of
 * bouncing: a bounce would tell the sender nothing arrived although the forwarded copies did,
 * and would lose the mailbox copy for good; a retry only repeats the forwards (deviation 14).
 */
function commitAfterForward(staged: Staged, forwarded: boolean): { warning?: string } {
  try {
    return commit(staged);
  } catch (error) {
    if (forwarded && error instanceof DeliveryFailure && error.outcome.kind === 'bounce') {
      throw failDefer('vdeliver: Delivery failed due to system quota violation; the forwarded copies are queued already (#4.2.2)', error);
    }
    throw error;
  }
}

/** After delivery nothing may undo it: a failing postdeliver is a warning (decision 3); 99 stays 99. */
async function postdeliver(
  plan: Plan,
  home: string,
  message: MessageSource,
  input: DeliveryInput,
  observer: DeliveryObserver,
  notes: string[],
): Promise<Outcome> {
  let runs: HookRun[];
  try {
    runs = await runHooks(plan.postdeliver, postdeliverEnv(plan), home, message, plan.hookTimeoutMs, input.captureHookOutput);
  } catch (error) {
    // The message is stored and forwarded: nothing that happens now may make qmail deliver it again.
    notes.push(`vdeliver: warning: vdeliver-postdeliver could not be run: ${errnoText(error)}`);
    return delivered();
  }
  observer.hooksRan?.('postdeliver', runs);
  const last = runs[runs.length - 1];
  if (last && last.verdict === 'stop') return skip();
  if (last && last.verdict !== 'continue') notes.push(`vdeliver: warning: vdeliver-postdeliver ${describeHook(last)}`);
  return delivered();
}

/** Removing a private copy can fail; the outcome already stands, so that is only a warning. */
function closeMessage(message: MessageSource | undefined, notes: string[]): void {
  try {
    message?.close();
  } catch (error) {
    notes.push(`vdeliver: warning: could not remove the private copy of the message: ${errnoText(error)}`);
  }
}
