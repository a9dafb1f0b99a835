import { accessSync, closeSync, constants, openSync, unlinkSync } from 'node:fs';
import { writeAll } from './write-all';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomTag } from './random-tag';
import type { MessageSource } from './message-source';
import { failBounce, failDefer } from './outcome';
import { qmailQueueVerdict } from './qmail-queue-codes';

export interface ForwardPlan {
  qmailQueue: string;
  /** The envelope sender, byte for byte as qmail-local gave it. */
  sender: Buffer;
  recipients: string[];
  /** Prepended to the copy (the Delivered-To line; empty with -d). */
  dtline: Buffer;
  env: Record<string, string>;
  cwd: string;
}

/**
 * vmailmgr's completion rules: a bare name gets `@HOST`; a trailing `@` gets the first line of
 * control/me; anything else is used verbatim (no validation, no case change).
 */
export function completeForwards(forwards: string[], host: string, controlMe: () => string | undefined): string[] {
  return forwards.map((address) => {
    if (!address.includes('@')) return `${address}@${host}`;
    if (!address.endsWith('@')) return address;
    const me = controlMe();
    if (!me) throw failDefer('vdeliver: control/me is empty! (#4.3.0)');
    return address + me;
  });
}

/** The qmail-queue envelope: `F<sender>\0`, one `T<address>\0` per recipient, then `\0`. */
export function envelope(sender: Buffer, recipients: string[]): Buffer {
  return Buffer.concat([Buffer.from('F'), sender, Buffer.from(`\0${recipients.map((r) => `T${r}\0`).join('')}\0`, 'utf8')]);
}

/**
 * Queue one copy for all recipients through a single qmail-queue run: the message (DTLINE first)
 * streamed on fd 0, the envelope on fd 1 (a small private file, which qmail-queue reads after the
 * message, exactly like a pipe). qmail-queue's exit code is read with qmail's own table.
 */
export async function forward(plan: ForwardPlan, message: MessageSource): Promise<void> {
  const envelopeFd = envelopeFile(envelope(plan.sender, plan.recipients));
  const { run } = await import('./exec');
  let result;
  try {
    result = await run(plan.qmailQueue, {
      stdin: withPrefix(plan.dtline, message),
      stdout: envelopeFd,
      env: plan.env,
      cwd: plan.cwd,
      errorChannel: true,
    });
  } finally {
    closeSync(envelopeFd);
  }
  // vmailmgr says "exited with an error" here too (its child exits 111); admins grep for those words.
  if (result.startError) throw failDefer(`vdeliver: qmail-queue exited with an error! cannot run ${plan.qmailQueue}: ${result.startError} (#4.3.0)`);
  if (result.sourceError) throw failDefer(`vdeliver: cannot read the message: ${result.sourceError} (#4.3.0)`);
  const verdict = qmailQueueVerdict(result.exitCode, result.errorChannel, result.inputFailed);
  if (!verdict) return;
  const line = `vdeliver: qmail-queue exited with an error! ${verdict.text}`;
  throw verdict.permanent ? failBounce(line) : failDefer(line);
}

/** For a dry run: would qmail-queue start at all? */
export function checkQmailQueue(path: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch (error) {
    throw failDefer(`vdeliver: qmail-queue exited with an error! cannot run ${path}: ${(error as NodeJS.ErrnoException).code} (#4.3.0)`, error);
  }
}

function* withPrefix(prefix: Buffer, message: MessageSource): Generator<Buffer> {
  if (prefix.length > 0) yield prefix;
  yield* message.chunks();
}

/** Write the envelope to a private file and return a read-only descriptor on it (the file is already unlinked). */
function envelopeFile(bytes: Buffer): number {
  const path = join(tmpdir(), `vdeliver-envelope-${process.pid}-${randomTag()}`);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    throw failDefer(`vdeliver: cannot create the envelope file in ${tmpdir()}: ${(error as NodeJS.ErrnoException).code} (#4.3.0)`, error);
  }
  try {
    writeAll(fd, bytes);
    return openSync(path, 'r');
  } catch (error) {
    throw failDefer(`vdeliver: cannot write the envelope file: ${(error as NodeJS.ErrnoException).code} (#4.3.0)`, error);
  } finally {
    closeSync(fd);
    try { unlinkSync(path); } catch { /* best effort: the descriptor is what qmail-queue reads */ }
  }
}
