// SIGKILL at random times: each run delivers a message of its own and is killed 0-300 ms after it
// started; a run that did not deliver is retried as qmail would (same environment, same message,
// no kill). Then everything in the Maildir and the queue is checked byte for byte:
//   - a run that exited 0 has each copy exactly once;
//   - a killed run, once retried, has each copy at least once (more is a duplicate: allowed after a
//     kill between the forward and the commit, but counted);
//   - nothing anywhere is a partial copy;
//   - files a kill left in tmp/ (or in $TMPDIR) are counted; a run that was not killed leaves none.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { drainDir, drainMaildir, drainQueue } from './audit.mjs';
import { makeMessage } from './messages.mjs';
import { deliver } from './qmail-local.mjs';
import { forwardsOf, makeHome, SENDER } from './sandbox.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;
export const SIZES = [
  ['4 KiB', 4 * KiB],
  ['2 MiB', 2 * MiB],
  ['20 MiB', 20 * MiB],
];
const MAX_KILL_MS = 300;

/** A predeliver hook that reads the whole message, then takes a moment, as a virus scanner would. */
const SLOW_HOOK = '#!/bin/sh\ncat > /dev/null\nsleep 0.05\nexit 0\n';

export const SCENARIOS = [
  { key: 'store', title: 'plain store', user: 'alice' },
  { key: 'hook', title: 'during predeliver hook', user: 'alice', hook: SLOW_HOOK },
  { key: 'forward', title: 'forward, slow qmail-queue', user: 'bob', forwards: forwardsOf('bob') },
];

/** The qmail-queue envelope for `recipients` from SENDER (qmail-contract.md §9). */
const envelopeFor = (recipients) => Buffer.from(`F${SENDER}\0${recipients.map((r) => `T${r}\0`).join('')}\0`);

function newRow(scenario, [sizeLabel, size]) {
  return {
    fault: `SIGKILL, ${scenario.title}, ${sizeLabel}`,
    scenario,
    size,
    runs: 0,
    exits: new Map(),
    killed: 0,
    retryExits: new Map(),
    lost: 0,
    truncated: 0,
    duplicated: 0,
    tmpLeft: 0,
    failures: [],
    badCopies: [],
  };
}

const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

/** One run and, if it did not deliver, its retry; then the audit of everything they left. */
async function oneRun(home, row, id, killAfterMs) {
  const { scenario } = row;
  const message = makeMessage(id, row.size);
  writeFileSync(home.message, message);
  const env = home.env(scenario.user);
  const first = await deliver({ env, messagePath: home.message, killAfterMs });
  row.runs++;
  if (first.killed) row.killed++;
  else count(row.exits, first.code);
  const problems = [];
  if (first.hung) problems.push('hung');
  if (!first.killed && first.code !== 0) problems.push(`exited ${first.code} without a kill: ${first.output.trim()}`);
  if (!first.killed && first.output !== '') problems.push(`printed ${JSON.stringify(first.output)} on a plain delivery`);
  let retried = false;
  if (first.code !== 0) {
    retried = true;
    const retry = await deliver({ env, messagePath: home.message });
    count(row.retryExits, retry.code);
    if (retry.code !== 0) problems.push(`retry exited ${retry.code}: ${retry.output.trim()}`);
  }

  const copies = [drainMaildir(home.maildir(scenario.user), Buffer.concat([Buffer.from(env.RPLINE + env.DTLINE), message]))];
  if (scenario.forwards) copies.push(drainQueue(home.queue, Buffer.concat([Buffer.from(env.DTLINE), message]), envelopeFor(scenario.forwards)));
  const leftovers = (copies[0].tmp ?? 0) + drainDir(home.tmp);
  row.tmpLeft += leftovers;
  if (!first.killed && leftovers > 0) problems.push(`left ${leftovers} temporary file(s) without being killed`);
  for (const found of copies) {
    row.truncated += found.bad.length;
    row.badCopies.push(...found.bad);
    if (found.complete === 0) row.lost++;
    else if (found.complete > 1) {
      row.duplicated += found.complete - 1;
      // Only a kill can excuse a second copy: the retry cannot know the first one got through.
      if (!first.killed) problems.push(`delivered ${found.complete} copies in one run`);
    }
  }
  for (const p of problems) row.failures.push(`run ${id} (${first.killed ? `killed at ${killAfterMs} ms` : 'not killed'}${retried ? ', retried' : ''}): ${p}`);
}

/**
 * `runsPerRow` runs of every scenario and size, spread over `workers` concurrent workers, each with
 * a home of its own per scenario under `dir`. `random(min, max)` draws the kill times.
 */
export async function sigkillRows({ dir, runsPerRow, workers, random }) {
  const rows = SCENARIOS.flatMap((scenario) => SIZES.map((size) => newRow(scenario, size)));
  // Interleaved, so each worker meets every kind of run and a slow kind does not end up on one worker.
  const jobs = [];
  for (let i = 0; i < runsPerRow; i++)
    for (const row of rows) jobs.push({ row, id: `${row.scenario.key}-${row.size}-${i}`, killAfterMs: random(0, MAX_KILL_MS) });
  const work = async (w) => {
    const homes = Object.fromEntries(SCENARIOS.map((s) => [s.key, makeHome(join(dir, `kill-w${w}-${s.key}`), { hook: s.hook })]));
    for (let job; (job = jobs.shift());) await oneRun(homes[job.row.scenario.key], job.row, job.id, job.killAfterMs);
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => work(w)));
  return rows.map(summarize);
}

const histogram = (map) =>
  [...map]
    .sort(([a], [b]) => a - b)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');

/** A table row: what was expected, what happened, the counts, and whether it passed. */
function summarize(row) {
  const observed = [`exit ${histogram(row.exits) || '-'}`, `killed×${row.killed}`];
  if (row.retryExits.size > 0) observed.push(`retries exit ${histogram(row.retryExits)}`);
  const failures = [...row.failures];
  if (row.lost > 0) failures.push(`${row.lost} message(s) lost`);
  if (row.truncated > 0) failures.push(`${row.truncated} partial copies: ${row.badCopies.slice(0, 5).join('; ')}${row.badCopies.length > 5 ? '; ...' : ''}`);
  return {
    fault: row.fault,
    runs: row.runs,
    expected: 'exit 0, or killed and retry exit 0',
    observed: observed.join(', '),
    lost: row.lost,
    truncated: row.truncated,
    duplicated: row.duplicated,
    tmpLeft: row.tmpLeft,
    verdict: failures.length === 0 ? 'ok' : 'FAIL',
    notes: failures,
  };
}
