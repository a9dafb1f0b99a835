// npm run bench: vdeliver started as the README's .qmail-default line starts it (`node
// /abs/dist/vdeliver.cjs`, the loader with the V8 code cache) and through bin/vdeliver, against the
// floors (/bin/true, node -e 0, bench/node-floor.cjs: the least a durable Node Maildir writer can
// do) and safecat (a C Maildir writer), in one run; with its start-up taken apart, its quota check
// on an empty and a 100,000-message mailbox, the delivery log off and on, hooks, forwards, big
// messages and parallel deliveries.
// Every child gets an explicit environment: qmail-local's variables, PATH, HOME and
// VDELIVER_CONFIG_DIR (an empty dir), plus QMAILQUEUE/QQ_RECORD_DIR for the forward rows, and nothing
// inherited: NODE_EXTRA_CA_CERTS alone triples Node's start-up and qmail never sets it. Every
// delivered file is checked; any problem throws.
//
// Fairness on a 2-core machine that something else may be using: the sequential rows run round-robin,
// one run of each row per round, with the order rotating every round, so a burst of outside load hits
// every row alike. Big messages are repeated with the writers in every possible order (a rotation keeps
// who-follows-whom fixed, and here a run's speed did depend on what ran before it); the parallel runs
// alternate. Medians throughout. A sequential run is timed by bench/timed.sh, which also gives the
// child's CPU time: steadier than its wall time when the machine is busy.
//
// BENCH_RUNS (default 300) sets the sequential rounds; the hook/forward rows run every third round,
// the full rescan every thirtieth. The big-message rounds (12 at the default) and the parallel
// rounds (5 of 4 x 100 at the default: fewer deliveries per worker below it, more rounds above)
// scale with it, two rounds at least, so that a quick run is quick and the default is as before.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { timeBig, timeOwnPeak, timeParallel, timeRun } from './measure.mjs';
import { enforceQuotas, fillMailbox, keepMailbox, MESSAGES, useCache, writeUsersFile } from './quota.mjs';
import { report } from './summary.mjs';
import { drainMaildir, drainQueue, FLOOR, logDeliveries, makeSandbox, MiB, RESCAN, which, writeHook, writeMessage, writePrefixed } from './sandbox.mjs';

// Untimed helpers (the message writer, vdeliver-admin) inherit this process's environment.
delete process.env.NODE_EXTRA_CA_CERTS;

const runs = Number(process.env.BENCH_RUNS ?? 300);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS must be a positive integer, not ${process.env.BENCH_RUNS}`);
const EVERY = 3; // hook and forward rows: 100 of 300 rounds
const RESCAN_EVERY = 30; // a second or so each: ten samples show what the cache saves
const scale = runs / 300;
const BIG_ROUNDS = Math.max(2, Math.round(12 * scale)); // 12: twice each order of the three writers
const PAR_ROUNDS = Math.max(2, Math.round(5 * scale));
const [WORKERS, EACH] = [4, Math.max(1, Math.round(100 * Math.min(1, scale)))];
const OURS = 'node dist/vdeliver.cjs';

const box = makeSandbox(); // with copies of bin/vdeliver, dist/ and the recorder
let mailbox; // the 100,000-message Maildir, whose cur/ is kept for the next run
try {
  await bench();
} finally {
  if (mailbox) keepMailbox(mailbox);
  rmSync(box.dir, { recursive: true, force: true });
}

async function bench() {
  const none = Buffer.alloc(0);
  const plain = box.home('plain', 'alice');
  const shimmed = box.home('shim', 'alice');
  const hooked = box.home('hook', 'alice');
  const reader = box.home('hook-reads', 'alice');
  const forwardDir = box.queueDir('vdeliver');
  const bob = box.home('forward', 'bob', { QMAILQUEUE: box.recorder, QQ_RECORD_DIR: forwardDir });
  const envelope = Buffer.from('Fa@b.example\0Tbob@elsewhere.example\0Tcarol@example.com\0\0');
  const small = writeMessage(join(box.dir, 'message-4k'), 4096, '4 KiB');
  const big = [64, 256].map((mib) => ({ mib, ...writeMessage(join(box.dir, `message-${mib}m`), mib * MiB, `${mib} MiB`) }));

  // Quotas: one record with limits (built by vdeliver-admin), enforced in two homes, not in a third.
  const usersFile = join(box.dir, 'quota-users.tsv');
  writeUsersFile(usersFile, 'alice');
  const [quotaOff, quotaEmpty, quotaFull] = ['quota-off', 'quota-empty', 'quota-full'].map((name) => box.home(name, 'alice', {}, usersFile));
  enforceQuotas(quotaEmpty.home);
  enforceQuotas(quotaFull.home);
  const usage = fillMailbox(quotaFull.maildir);
  mailbox = quotaFull.maildir;
  // The delivery log: two homes alike but for vdeliver-log; the lines are checked after the rounds.
  const [logOff, logOn] = ['log-off', 'log-on'].map((name) => box.home(name, 'alice'));
  const checkLog = logDeliveries(logOn.home);
  const cached = new Map([
    [quotaEmpty, useCache(quotaEmpty.maildir, { bytes: 0, count: 0 })],
    [quotaFull, useCache(quotaFull.maildir, usage)],
  ]);

  const base = { env: plain.env, cwd: plain.home, every: 1, input: small.path };
  const ours = { ...base, key: 'ours', name: OURS, cmd: process.execPath, args: [box.loader], maildir: plain.maildir, added: plain.added };
  const at = (h) => ({ env: h.env, cwd: h.home, maildir: h.maildir, added: h.added });

  // Preflight: V8 takes the code cache (else every row below measures the slower fallback), and the
  // hook is found and run (exit 100 must bounce), before it becomes `exit 0`.
  const probe = timeRun({ ...ours, args: [box.loader, '--report-code-cache', '--bogus'], status: 111 }).stderr;
  if (!/code cache accepted/.test(probe)) throw new Error(`preflight: the loader did not use the bundle's code cache: ${probe.trim()}`);
  writeHook(hooked.home, 'exit 100');
  let bounced = false;
  try {
    timeRun({ ...ours, ...at(hooked) });
  } catch (e) {
    bounced = / exited 100:/.test(e.message);
  }
  if (!bounced) throw new Error('preflight: vdeliver did not run the predeliver hook (expected exit 100)');
  writeHook(hooked.home, 'exit 0');
  writeHook(reader.home, 'exec cat >/dev/null');

  const safecat = which('safecat');
  if (!safecat) console.log('safecat not installed (apt-get install safecat) - skipped');
  const recorderDir = box.queueDir('alone');
  const envelopeFile = join(box.dir, 'envelope');
  writeFileSync(envelopeFile, envelope);
  const floorInto = (dir) => ({
    ...base,
    key: 'floor',
    name: 'Node floor (Maildir writer)',
    cmd: process.execPath,
    args: [FLOOR, dir],
    maildir: dir,
    added: none,
  });
  const safecatInto = (dir) =>
    safecat && { ...base, key: 'safecat', name: 'safecat', cmd: safecat, args: [join(dir, 'tmp'), join(dir, 'new')], maildir: dir, added: none };
  const floor = floorInto(plain.sibling('floor'));
  // A quota row's delivery is checked and removed at once, and its maildirsize reset, so every run
  // meets the same mailbox and the same one-line cache.
  const quotaRow = (key, name, h) => ({
    ...ours,
    key,
    name,
    ...at(h),
    after:
      cached.has(h) &&
      (() => {
        drainMaildir(h.maildir, 1, h.added, small, name);
        cached.get(h)(h.added.length + small.size, name);
      }),
  });

  // 1. Sequential 4 KiB runs: deliveries, the start-up steps, quotas, hooks and forwards.
  const sequential = [
    { ...base, key: 'true', name: '/bin/true', cmd: '/bin/true' },
    { ...base, key: 'e0', name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'] },
    { ...base, key: 'empty', name: 'node empty.js (an empty file)', cmd: process.execPath, args: [box.emptyScript] },
    floor,
    safecatInto(plain.sibling('safecat')),
    ours,
    { ...ours, key: 'shim', name: 'bin/vdeliver (#!/usr/bin/env node)', cmd: box.shim, args: [], ...at(shimmed) },
    // Both exit at option parsing: all they do is load the program.
    { ...base, key: 'load', name: `${OURS} --bogus`, cmd: process.execPath, args: [box.loader, '--bogus'], status: 111, says: /unknown option string/ },
    {
      ...base,
      key: 'compile',
      name: 'node dist/vdeliver-main.<hash>.cjs --bogus',
      cmd: process.execPath,
      args: [box.program, '--bogus'],
      status: 111,
      says: /unknown option string/,
    },
    quotaRow('quotaOff', 'quotas off', quotaOff),
    quotaRow('quotaEmpty', 'quotas on, empty Maildir', quotaEmpty),
    quotaRow('quotaFull', `quotas on, ${MESSAGES.toLocaleString('en')} messages`, quotaFull),
    { ...ours, key: 'logOff', name: 'log off', ...at(logOff) },
    { ...ours, key: 'logOn', name: 'log on (vdeliver-log)', ...at(logOn) },
    {
      ...base,
      key: 'rescan',
      every: RESCAN_EVERY,
      name: `full rescan of the ${MESSAGES.toLocaleString('en')}`,
      cmd: process.execPath,
      args: [RESCAN, quotaFull.maildir],
      after: (sample) => {
        const [files, bytes, ms] = sample.stdout.trim().split(' ').map(Number);
        if (files !== usage.count || bytes !== usage.bytes) throw new Error(`rescan: ${files} files, ${bytes} bytes; expected ${usage.count}, ${usage.bytes}`);
        sample.scanMs = ms;
      },
    },
    { ...base, key: 'sh', every: EVERY, name: "/bin/sh -c 'exit 0'", cmd: '/bin/sh', args: ['-c', 'exit 0'] },
    // Run by its path, as vdeliver runs it (#!/usr/bin/env node), with what vdeliver hands it.
    {
      ...base,
      key: 'recorder',
      every: EVERY,
      name: 'qmail-queue-recorder alone',
      cmd: box.recorder,
      env: { ...bob.env, QQ_RECORD_DIR: recorderDir },
      input: writePrefixed(join(box.dir, 'forwarded-4k'), bob.dtline, small),
      output: envelopeFile,
      queue: recorderDir,
    },
    { ...ours, key: 'hook', every: EVERY, name: `${OURS} + predeliver hook`, ...at(hooked) },
    { ...ours, key: 'forwards', every: EVERY, name: `${OURS} + 2 forwards`, ...at(bob), queue: forwardDir },
  ]
    .filter(Boolean)
    .map((row) => ({ ...row, samples: [] }));
  console.log(`sequential: ${runs} rounds of ${sequential.length} rows, round-robin...`);
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < sequential.length; k++) {
      const row = sequential[(round + k) % sequential.length];
      if (round % row.every !== 0) continue;
      const sample = timeRun(row);
      if (row.after) row.after(sample);
      row.samples.push(sample);
    }
  }
  checkLog(sequential.find((row) => row.key === 'logOn').samples.length, 'log on');
  for (const row of sequential) {
    if (row.maildir && !row.after) drainMaildir(row.maildir, row.samples.length, row.added, small, row.name);
    if (row.queue) drainQueue(row.queue, row.samples.length, bob.dtline, small, envelope, row.name);
  }

  // 2. Big messages. 256 MiB runs here are bimodal: 0.2 s, or 0.5-0.9 s that is all system time in
  // write(), depending on what ran before (with safecat interleaved, the floor's 1 MiB-aligned writes
  // hit the slow mode far more often than vdeliver's, offset by its 67-byte prefix). Hence: one Maildir
  // for all, every order of the writers, medians, CPU time shown, and each file checked and deleted
  // at once (keeping them made every run slow: fresh pages cost this VM more than reused ones).
  // Then, at 256 MiB, vdeliver's own peak RSS with children that read the whole message: a hook,
  // and qmail-queue (the recorder keeps the message in memory, so time's %M would be its figure).
  const writers = [floorInto(plain.maildir), safecatInto(plain.maildir), ours].filter(Boolean);
  const withChildren = [
    { ...ours, name: `${OURS} + hook reading stdin`, ...at(reader) },
    { ...ours, name: `${OURS} + 2 forwards`, ...at(bob), queue: forwardDir },
  ];
  console.log(
    `big messages: ${BIG_ROUNDS} rounds of ${big.map((m) => `${m.mib} MiB`).join(' and ')} for ${writers.length} writers, then 256 MiB through a hook and a forward...`,
  );
  const bigRuns = new Map([...writers, ...withChildren].flatMap((w) => big.map((m) => [`${m.mib} ${w.name}`, []])));
  const orders = mirroredOrders(writers);
  for (let round = 0; round < BIG_ROUNDS; round++) {
    for (const message of big) {
      for (const w of orders[round % orders.length]) {
        bigRuns.get(`${message.mib} ${w.name}`).push(await timeBig({ ...w, input: message.path }, join(box.dir, 'rss')));
        drainMaildir(w.maildir, 1, w.added, message, `${w.name}, ${message.mib} MiB`);
      }
    }
    const message = big.find((m) => m.mib === 256);
    for (const w of round % 2 ? [...withChildren].reverse() : withChildren) {
      bigRuns.get(`256 ${w.name}`).push(await timeOwnPeak({ ...w, input: message.path }));
      drainMaildir(w.maildir, 1, w.added, message, `${w.name}, 256 MiB`);
      if (w.queue) drainQueue(w.queue, 1, bob.dtline, message, envelope, `${w.name}, 256 MiB`);
    }
  }

  // 3. Parallel workers into one Maildir, floor and vdeliver alternating.
  console.log(`parallel: ${PAR_ROUNDS} round${PAR_ROUNDS === 1 ? '' : 's'} of ${WORKERS} workers x ${EACH} deliveries...`);
  const parallel = [floor, ours].map((w) => ({ ...w, rates: [] }));
  for (let round = 0; round < PAR_ROUNDS; round++) {
    for (let k = 0; k < parallel.length; k++) {
      const w = parallel[(round + k) % parallel.length];
      const seconds = await timeParallel(w, WORKERS, EACH);
      w.check = drainMaildir(w.maildir, WORKERS * EACH, w.added, small, `${w.name}, ${WORKERS}x${EACH}`);
      w.rates.push((WORKERS * EACH) / seconds);
    }
  }

  report({
    runs,
    every: EVERY,
    messages: MESSAGES,
    sequential,
    big,
    bigRuns,
    bigRounds: BIG_ROUNDS,
    writers,
    withChildren,
    parallel,
    workers: WORKERS,
    each: EACH,
    parRounds: PAR_ROUNDS,
  });
}

/**
 * Every order of the writers, each followed by its reverse: any even number of rounds then puts
 * each writer as often before another as after it, even when there are fewer rounds than orders.
 */
function mirroredOrders(items) {
  const permutations = (xs) => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations(xs.filter((_, j) => j !== i)).map((rest) => [x, ...rest])));
  const key = (order) => order.map((w) => w.name).join('\n');
  const seen = new Set();
  return permutations(items).flatMap((order) => {
    if (seen.has(key(order))) return [];
    const back = [...order].reverse();
    seen.add(key(order)).add(key(back));
    return items.length > 1 ? [order, back] : [order];
  });
}
