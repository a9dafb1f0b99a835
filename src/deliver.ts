import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath } from './bytes';
import { CdbError } from './cdb-reader';
import { Config } from './config';
import type { DeliveryOptions } from './delivery-options';
import { errnoText } from './errno';
import { checkForward, forward } from './forward';
import { findHooks, type HookRun, runHooks } from './hooks';
import { lookupUser, requireDeliverable, type VirtualUser } from './lookup';
import { checkMaildir, commit, type Naming, stage, type Staged, unstage } from './maildir-writer';
import type { MessageSource } from './message-source';
import { defer, delivered, DeliveryFailure, failBounce, failDefer, type Outcome, skip } from './outcome';
import { oldFormatDefaults, PasswordTable, tablePath } from './password-table';
import { makePlan, needsControlMe, type Plan, postdeliverEnv, qmailRoot } from './plan';
import { readRequest, type Request } from './request';
import { quoteName } from './status-line';

export interface DeliveryInput {
  options: DeliveryOptions;
  /** qmail-local's environment as byte strings (src/bytes.ts). */
  env: Readonly<Record<string, string | undefined>>;
  globalDir: string;
  /** Opened only once the message is needed (a pipe is spooled then). */
  openMessage: () => Promise<MessageSource>;
  now: () => number;
  naming: Naming;
  /** Walk the pipeline up to the plan and its checks; write, forward and run nothing. */
  dryRun?: boolean;
  /** Keep hook output in the trace instead of passing it to our stdout (admin test runs). */
  captureHookOutput?: boolean;
}

export interface Report {
  outcome: Outcome;
  /** Lines printed besides the outcome's own (warnings after a successful delivery). */
  notes: string[];
  /** What happened, step by step, as far as the delivery got (for admin test runs). */
  trace: DeliveryTrace;
}

export interface DeliveryTrace {
  user?: VirtualUser;
  plan?: Plan;
  predeliver: HookRun[];
  /** The file now in new/, once committed. */
  stored?: string;
  forwarded: boolean;
  postdeliver: HookRun[];
}

/**
 * One delivery, top to bottom: request, config, user, plan, predeliver hooks, stage the
 * Maildir copy, forward, commit, postdeliver hooks, outcome. Every failure is a DeliveryFailure
 * raised where it happens and turned into an outcome here, and nowhere else. A dry run stops
 * after the plan and its checks: nothing is written, forwarded or run.
 */
export async function deliver(input: DeliveryInput): Promise<Report> {
  const notes: string[] = [];
  const trace: DeliveryTrace = { predeliver: [], forwarded: false, postdeliver: [] };
  let message: MessageSource | undefined;
  try {
    const read = readRequest(input.env);
    if ('outcome' in read) return { outcome: read.outcome, notes, trace };
    const { request } = read;
    const config = new Config(request.home, input.globalDir);
    const user = requireDeliverable(findUser(request, config, input.now()), request.ext, nowSeconds(input));
    trace.user = user;
    const plan = makePlan({
      request, options: input.options, user, config,
      hooks: {
        predeliver: input.options.predeliver ? findHooks('vdeliver-predeliver', config) : [],
        postdeliver: input.options.postdeliver ? findHooks('vdeliver-postdeliver', config) : [],
      },
      controlMe: needsControlMe(user) ? readControlMe(qmailRoot(request, config)) : undefined,
    });
    trace.plan = plan;
    if (input.dryRun) return { outcome: checkPlan(plan), notes, trace };
    message = await openMessage(input);

    trace.predeliver = await runHooks(plan.predeliver, plan.env, request.home, message, plan.hookTimeoutMs, input.captureHookOutput);
    const refusal = predeliverOutcome(trace.predeliver);
    if (refusal) return { outcome: refusal, notes, trace };

    const staged = plan.maildir ? stage(plan.maildir.path, plan.maildir.prefix, message, input.naming) : undefined;
    try {
      if (plan.forward) await forward(plan.forward, message);
      trace.forwarded = plan.forward !== undefined;
    } catch (error) {
      if (staged) unstage(staged);
      throw error;
    }
    if (staged) {
      const { warning } = commitAfterForward(staged, trace.forwarded);
      trace.stored = staged.newPath;
      if (warning) notes.push(warning);
    }
    if (plan.discard) notes.push(plan.discard);

    try {
      trace.postdeliver = await runHooks(plan.postdeliver, postdeliverEnv(plan), request.home, message, plan.hookTimeoutMs, input.captureHookOutput);
    } catch (error) {
      // The message is stored and forwarded: nothing that happens now may make qmail deliver it again.
      notes.push(`vdeliver: warning: vdeliver-postdeliver could not be run: ${errnoText(error)}`);
    }
    return { ...postdeliverOutcome(trace.postdeliver, notes), trace };
  } catch (error) {
    if (error instanceof DeliveryFailure) return { outcome: error.outcome, notes, trace };
    // Without a positive answer the message must not be lost: defer.
    return { outcome: defer(`vdeliver: internal error: ${errnoText(error)} (#4.3.0)`), notes, trace };
  } finally {
    closeMessage(message, notes);
  }
}

/** Removing a private copy can fail; the outcome already stands, so that is only a warning. */
function closeMessage(message: MessageSource | undefined, notes: string[]): void {
  try {
    message?.close();
  } catch (error) {
    notes.push(`vdeliver: warning: could not remove the private copy of the message: ${errnoText(error)}`);
  }
}

/**
 * Commit the Maildir copy. A quota refusal here, once forwards are queued, defers instead of
 * bouncing: a bounce would tell the sender nothing arrived although the forwarded copies did,
 * and would lose the mailbox copy for good; a retry only repeats the forwards (a deviation).
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

/** A dry run's verdict: the checks the real run would meet before writing anything. */
function checkPlan(plan: Plan): Outcome {
  if (plan.maildir) checkMaildir(plan.maildir.path);
  if (plan.forward) checkForward(plan.forward);
  return delivered(plan.discard);
}

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

const nowSeconds = (input: DeliveryInput): number => Math.floor(input.now() / 1000);

async function openMessage(input: DeliveryInput): Promise<MessageSource> {
  try {
    return await input.openMessage();
  } catch (error) {
    throw failDefer(`vdeliver: cannot read the message: ${errnoText(error)} (#4.3.0)`, error);
  }
}

function readControlMe(qmailRoot: string): string | undefined {
  try {
    // The first line, untrimmed, as vmailmgr's read_me() takes it; its bytes as they are.
    return readFileSync(fsPath(join(qmailRoot, 'control', 'me')), 'latin1').split('\n')[0] || undefined;
  } catch {
    return undefined;
  }
}

/** The chain's verdict before delivery: 99 accepts silently, a refusal keeps vmailmgr's words. */
function predeliverOutcome(runs: HookRun[]): Outcome | undefined {
  const last = runs[runs.length - 1];
  if (!last || last.verdict === 'continue') return undefined;
  if (last.verdict === 'stop') return skip();
  const line = `vdeliver: Execution of vdeliver-predeliver failed: ${describeHook(last)}`;
  if (last.verdict === 'bounce') throw failBounce(`${line} (#5.3.0)`);
  throw failDefer(`${line} (#4.3.0)`);
}

/** After delivery nothing may undo it: a failing postdeliver is a warning (decision 3); 99 stays 99. */
function postdeliverOutcome(runs: HookRun[], notes: string[]): Omit<Report, 'trace'> {
  const last = runs[runs.length - 1];
  if (last && last.verdict === 'stop') return { outcome: skip(), notes };
  if (last && last.verdict !== 'continue') notes.push(`vdeliver: warning: vdeliver-postdeliver ${describeHook(last)}`);
  return { outcome: delivered(), notes };
}

function describeHook(run: HookRun): string {
  const name = quoteName(run.path);
  if (run.timedOut) return `${name} timed out and was killed`;
  if (run.startError) return `${name} could not be run (${run.startError})`;
  if (run.signal) return `${name} was killed by ${run.signal}`;
  return `${name} exited ${run.exitCode}`;
}

