// What a run left behind, checked byte for byte and then cleared, so the next run in the same home
// starts from empty directories. A copy counts only when it is exactly the complete message as it
// must arrive; anything else in new/ or in the queue is a bad copy (truncated or otherwise damaged).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { markerOf } from './messages.mjs';

/** A short description of a bad copy, for the notes under the table. */
function describe(where, bytes, expected) {
  const marker = markerOf(bytes);
  return `${where}: ${bytes.length} of ${expected.length} bytes${marker ? ` (run ${marker})` : ', no marker'}`;
}

/**
 * The Maildir: every file in new/ and cur/ must be `expected` (Return-Path + Delivered-To + the
 * message). Files in tmp/ are counted, not judged: a SIGKILL may leave one (readers remove tmp/
 * files after 36 hours).
 */
export function drainMaildir(maildir, expected) {
  const found = { complete: 0, bad: [], tmp: 0 };
  for (const sub of ['new', 'cur']) {
    for (const name of readdirSync(join(maildir, sub))) {
      const path = join(maildir, sub, name);
      const bytes = readFileSync(path);
      if (bytes.equals(expected)) found.complete++;
      else found.bad.push(describe(`${sub}/${name}`, bytes, expected));
      rmSync(path);
    }
  }
  for (const name of readdirSync(join(maildir, 'tmp'))) {
    found.tmp++;
    rmSync(join(maildir, 'tmp', name));
  }
  return found;
}

/**
 * The slow qmail-queue's records: each queued copy must be `expected` (Delivered-To + the message)
 * with exactly `envelope`. Records it never finished (its staging directories) do not count as queued.
 */
export function drainQueue(queueDir, expected, envelope) {
  const found = { complete: 0, bad: [] };
  for (const name of readdirSync(queueDir)) {
    const path = join(queueDir, name);
    if (name.startsWith('queued-')) {
      const message = readFileSync(join(path, 'message'));
      const env = readFileSync(join(path, 'envelope'));
      if (message.equals(expected) && env.equals(envelope)) found.complete++;
      else
        found.bad.push(`${describe(`queue/${name}`, message, expected)}${env.equals(envelope) ? '' : `, envelope ${JSON.stringify(env.toString('latin1'))}`}`);
    }
    rmSync(path, { recursive: true, force: true });
  }
  return found;
}

/** Files vdeliver left in its $TMPDIR (spool or envelope files); removed. */
export function drainDir(dir) {
  const names = readdirSync(dir);
  for (const name of names) rmSync(join(dir, name), { recursive: true, force: true });
  return names.length;
}
