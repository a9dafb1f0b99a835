import { accessSync, closeSync, constants } from 'node:fs';
import { fsPath, toBytes } from '../system/bytes';
import type { RunResult } from '../system/child-command';
import { anonymousFile, readToEnd, scratchDir, writeAll } from '../system/files';
import { runToExit } from '../system/run-to-exit';
import { errnoText } from '../system/errno';
import type { MessageSource } from './message-source';
import { type DeliveryFailure, failBounce, failDefer } from '../qmail/outcome';
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
 * on fd 0, then the envelope on fd 1, which qmail-queue reads only once fd 0 has ended, as
 * qmail.c sends them. A copy is never queued cut off: either qmail-queue gets the whole copy as
 * a file before it starts, or (queueStreaming) the envelope is written only once the whole
 * message is. qmail-queue's exit code is read with qmail's own table; `answered` hears it either way.
 */
export async function forward(plan: ForwardPlan, message: MessageSource, answered?: (answer: ForwardAnswer) => void): Promise<void> {
  if (plan.unresolved) throw failDefer(plan.unresolved);
  const started = Date.now();
  const result = queueFromFiles(plan, message) ?? (await queueStreaming(plan, message));
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

/**
 * Up to this size a copy is handed over whole whichever way it goes (a pipe holds 64 KiB), so a
 * kill of vdeliver after qmail-queue started queues the whole copy in both ways: it is given
 * as files, started and waited for without loading Node's child-process and stream modules.
 */
const FILE_HANDOVER_MAX = 64 * 1024;

/**
 * The copy and the envelope as unnamed files, complete before qmail-queue starts; then it must
 * have read both to their end (a qmail-queue that exits 0 without reading them queued nothing
 * whole). undefined when the copy is too large for this or the files cannot be made: stream it.
 */
function queueFromFiles(plan: ForwardPlan, message: MessageSource): RunResult | undefined {
  const dtline = toBytes(plan.dtline);
  if (dtline.length + message.size > FILE_HANDOVER_MAX) return undefined;
  const files: number[] = [];
  let copy: number;
  let envelopeFile: number;
  const scratch = scratchDir(plan.env);
  try {
    copy = dtline.length === 0 ? message.openFresh() : prefixedCopy(anonymousFile(scratch), dtline, message);
    files.push(copy);
    files.push((envelopeFile = anonymousFile(scratch)));
    writeAll(envelopeFile, envelope(plan.sender, plan.recipients), 0);
  } catch {
    // $TMPDIR full or not writable, or the message unreadable: the streaming way says which.
    for (const fd of files) closeSync(fd);
    return undefined;
  }
  try {
    const options = { stdin: copy, envelope: envelopeFile, env: plan.env, cwd: plan.cwd, timeoutMs: plan.timeoutMs, errorChannel: true, scratch };
    const result = runToExit(plan.qmailQueue, options);
    if (result && result.exitCode === 0) result.inputFailed = !readToEnd(copy) || !readToEnd(envelopeFile);
    return result;
  } finally {
    for (const fd of files) closeSync(fd);
  }
}

function prefixedCopy(fd: number, prefix: Buffer, message: MessageSource): number {
  try {
    writeAll(fd, prefix, 0);
    let position = prefix.length;
    for (const chunk of message.chunks()) {
      writeAll(fd, chunk, position);
      position += chunk.length;
    }
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * The message streamed into a pipe (node:child_process, loaded from a file of its own), and the
 * envelope written only once the whole message is written and fd 0 closed. If we die before
 * that, qmail-queue finds no complete envelope and queues nothing (it exits 54).
 */
function queueStreaming(plan: ForwardPlan, message: MessageSource): Promise<RunResult> {
  const { run } = require('../system/exec') as typeof import('../system/exec');
  return run(plan.qmailQueue, {
    stdin: withPrefix(toBytes(plan.dtline), message),
    afterInput: envelope(plan.sender, plan.recipients),
    env: plan.env,
    cwd: plan.cwd,
    timeoutMs: plan.timeoutMs,
    errorChannel: true,
  });
}

function* withPrefix(prefix: Buffer, message: MessageSource): Generator<Buffer> {
  if (prefix.length > 0) yield prefix;
  yield* message.chunks();
}
