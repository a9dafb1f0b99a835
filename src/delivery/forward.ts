import { accessSync, constants } from 'node:fs';
import { fsPath, toBytes } from '../system/bytes';
import { errnoText } from '../system/errno';
import type { MessageSource } from './message-source';
import { type DeliveryFailure, failBounce, failDefer } from '../qmail/outcome';
import type { RunResult } from '../system/exec';
import { qmailQueueVerdict } from '../qmail/exit-codes';

/** One qmail-queue run for all forwards. Every value is a byte string (src/system/bytes.ts). */
export interface ForwardPlan {
  qmailQueue: string;
  /** The envelope sender, byte for byte as qmail-local gave it. */
  sender: string;
  recipients: string[];
  /** Why the recipients cannot be completed (control/me is empty); raised when forwarding, after the hooks, as vmailmgr does. */
  unresolved?: string;
  /** Prepended to the copy (the Delivered-To line; empty with -d). */
  dtline: string;
  env: Record<string, string>;
  /** qmail's root: qmail.c runs qmail-queue (or $QMAILQUEUE) from there. */
  cwd: string;
  timeoutMs?: number;
}

/**
 * vmailmgr's completion rules: a bare name gets `@HOST`; a trailing `@` gets the first line of
 * control/me; anything else is used verbatim (no validation, no case change).
 */
export function completeForwards(forwards: string[], host: string, controlMe: string | undefined): { recipients: string[]; unresolved?: string } {
  const recipients = forwards.map((address) => {
    if (!address.includes('@')) return `${address}@${host}`;
    return address.endsWith('@') ? address + (controlMe ?? '') : address;
  });
  const needsMe = forwards.some((address) => address.includes('@') && address.endsWith('@'));
  return needsMe && !controlMe ? { recipients, unresolved: 'vdeliver: control/me is empty! (#4.3.0)' } : { recipients };
}

/** The qmail-queue envelope: `F<sender>\0`, one `T<address>\0` per recipient, then `\0`. */
export const envelope = (sender: string, recipients: string[]): Buffer => toBytes(`F${sender}\0${recipients.map((r) => `T${r}\0`).join('')}\0`);

/** What qmail-queue answered, for the admin test and the delivery log. */
export interface ForwardAnswer {
  queued: boolean;
  /** undefined when it was killed or never started. */
  exitCode?: number;
  signal?: string;
  timedOut?: boolean;
  startError?: string;
  ms: number;
}

/**
 * Queue one copy for all recipients through a single qmail-queue run: the message (DTLINE first)
 * streamed on fd 0, then the envelope on fd 1, written only once the whole message is written and
 * fd 0 closed, as qmail.c does. If we die at any point before that, qmail-queue finds no complete
 * envelope and queues nothing (it exits 54), so a kill never queues a truncated copy.
 * qmail-queue's exit code is read with qmail's own table; `answered` hears it either way.
 */
export async function forward(plan: ForwardPlan, message: MessageSource, answered?: (answer: ForwardAnswer) => void): Promise<void> {
  if (plan.unresolved) throw failDefer(plan.unresolved);
  // Loaded here only (a build puts it in a file of its own): a plain delivery never needs it.
  const { run } = require('../system/exec') as typeof import('../system/exec');
  const started = Date.now();
  const result = await run(plan.qmailQueue, {
    stdin: withPrefix(toBytes(plan.dtline), message),
    afterInput: envelope(plan.sender, plan.recipients),
    env: plan.env,
    cwd: plan.cwd,
    timeoutMs: plan.timeoutMs,
    errorChannel: true,
  });
  const failure = refusal(plan, result);
  const { exitCode, signal, timedOut, startError } = result;
  answered?.({ queued: !failure, exitCode, signal, timedOut: timedOut || undefined, startError, ms: Date.now() - started });
  if (failure) throw failure;
}

/** qmail-queue's run as a failure, or undefined when the copy is queued. */
function refusal(plan: ForwardPlan, result: RunResult): DeliveryFailure | undefined {
  // vmailmgr says "exited with an error" here too (its child exits 111); admins grep for those words.
  if (result.startError) return failDefer(`vdeliver: qmail-queue exited with an error! cannot run ${plan.qmailQueue}: ${result.startError} (#4.3.0)`);
  if (result.sourceError) return failDefer(`vdeliver: cannot read the message: ${result.sourceError} (#4.3.0)`);
  if (result.timedOut)
    return failDefer(
      `vdeliver: qmail-queue exited with an error! it was killed after ${Math.round((plan.timeoutMs ?? 0) / 1000)} s (vdeliver-queue-timeout) (#4.3.0)`,
    );
  const verdict = qmailQueueVerdict(result.exitCode, result.errorChannel, result.inputFailed);
  if (!verdict) return undefined;
  const line = `vdeliver: qmail-queue exited with an error! ${verdict.text}`;
  return verdict.permanent ? failBounce(line) : failDefer(line);
}

/** For a dry run: would the forward go ahead, and would qmail-queue start at all? */
export function checkForward(plan: ForwardPlan): void {
  if (plan.unresolved) throw failDefer(plan.unresolved);
  try {
    accessSync(fsPath(plan.qmailQueue), constants.X_OK);
  } catch (error) {
    throw failDefer(`vdeliver: qmail-queue exited with an error! cannot run ${plan.qmailQueue}: ${errnoText(error).split(' ')[0]} (#4.3.0)`, error);
  }
}

function* withPrefix(prefix: Buffer, message: MessageSource): Generator<Buffer> {
  if (prefix.length > 0) yield prefix;
  yield* message.chunks();
}
