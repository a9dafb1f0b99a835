/**
 * The fault-injection suite (test/faults/run.mjs) in its quick mode: about 60 deliveries of 4 KiB,
 * 2 MiB and 20 MiB messages killed with SIGKILL at random times (plain stores, during a predeliver
 * hook, forwards through a slow strict qmail-queue), then ENOSPC, EDQUOT, EIO, EACCES and EROFS
 * injected into the real process. It must pass: nothing lost, nothing partial, the right exit codes
 * and lines. CI runs the full suite (npm run faults: 1,008 killed deliveries and the cdb fuzzer).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers/fixtures';

test('the quick fault-injection run passes', () => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // it triples Node's start-up, and qmail never sets it
  const run = spawnSync(process.execPath, [join(ROOT, 'test', 'faults', 'run.mjs'), '--quick'], { env, encoding: 'utf8', timeout: 300000 });
  // The whole report on failure: the table says which fault, the notes say what went wrong.
  expect({ exit: run.status, report: run.stdout + run.stderr }).toEqual({ exit: 0, report: expect.stringMatching(/\nall rows passed in \d+ s\n$/) });
}, 310000);
