// What bench/run.mjs measured, as printed: the tables (every figure beside its ratio to the Node
// floor of the same run), the costs the rows contain, and the targets.
import { median, percentile, RSS_METHOD } from './measure.mjs';
import { printTable, printTargets } from './report.mjs';

const KIB_PER_MIB = 1024;
const FLOOR = 'Node floor (Maildir writer)'; // the big-message writers are known by name
const OURS = 'node dist/vdeliver.cjs';

/** Sequential rows are found by their key (bench/run.mjs), big-message writers by their name. */
export function report({ runs, every, messages, sequential, big, bigRuns, bigRounds, writers, withChildren, parallel, workers, each, parRounds }) {
  const row = (key) => sequential.find((r) => r.key === key);
  const ms = (key) => median(row(key).samples.map((s) => s.ms));
  const cpu = (key) => median(row(key).samples.map((s) => s.cpu));
  const floorMs = ms('floor');
  const line = (r) => {
    const wall = r.samples.map((s) => s.ms);
    return [
      r.name,
      median(wall).toFixed(1),
      percentile(wall, 95).toFixed(1),
      median(r.samples.map((s) => s.cpu)).toFixed(1),
      (1000 / median(wall)).toFixed(0),
      median(wall) / floorMs,
    ];
  };
  const table = (title, keys) => ({ title, head: ['median ms', 'p95 ms', 'CPU ms', 'per s', 'x floor'], rows: keys.map(row).filter(Boolean).map(line) });
  const full = messages.toLocaleString('en');
  const sections = [
    table(`4 KiB message, ${runs} sequential runs`, ['true', 'e0', 'floor', 'safecat', 'ours', 'shim']),
    table(`start-up, the same ${runs} rounds`, ['e0', 'empty', 'load', 'compile', 'ours']),
    table(`quotas, 4 KiB, ${runs} runs (rescan: ${row('rescan').samples.length})`, ['quotaOff', 'quotaEmpty', 'quotaFull', 'rescan']),
    table(`delivery log, 4 KiB, ${runs} runs`, ['logOff', 'logOn']),
    table(`4 KiB, ${row('sh').samples.length} run${row('sh').samples.length === 1 ? '' : 's'} (one round in ${every})`, ['sh', 'recorder', 'hook', 'forwards']),
  ];

  const bigFigure = (mib, name) => {
    const r = bigRuns.get(`${mib} ${name}`);
    const cpuS = r[0].cpu === undefined ? '-' : median(r.map((x) => x.cpu)).toFixed(2);
    return { seconds: median(r.map((x) => x.seconds)), cpu: cpuS, rssMiB: Math.max(...r.map((x) => x.rssKiB)) / KIB_PER_MIB };
  };
  for (const { mib } of big) {
    const floorS = bigFigure(mib, FLOOR).seconds;
    const shown = mib === 256 ? [...writers, ...withChildren] : writers;
    sections.push({
      title: `${mib} MiB message, median of ${bigRounds}`,
      head: ['wall s', 'MiB/s', 'RSS MiB', 'CPU s', 'x floor'],
      rows: shown.map((w) => {
        const f = bigFigure(mib, w.name);
        return [
          withChildren.includes(w) ? `${w.name} *` : w.name,
          f.seconds.toFixed(2),
          (mib / f.seconds).toFixed(0),
          f.rssMiB.toFixed(1),
          f.cpu,
          f.seconds / floorS,
        ];
      }),
    });
  }
  const rates = parallel.map((w) => median(w.rates));
  sections.push({
    title: `${workers} x ${each} into one Maildir, median of ${parRounds}`,
    head: ['per s', 'files', 'tmp/', 'x floor'],
    rows: parallel.map((w, i) => [
      w.name,
      rates[i].toFixed(0),
      `${w.check.files}/${workers * each}`,
      w.check.tmp ? `${w.check.tmp} left` : 'empty',
      rates[i] / rates[0],
    ]),
  });
  printTable(sections);

  const step = (from, to) => `${(ms(to) - ms(from)).toFixed(1)} ms (${(cpu(to) - cpu(from)).toFixed(1)} ms CPU)`;
  console.log(`start-up: an empty script file costs ${step('e0', 'empty')} more than node -e 0; loading vdeliver on top of that ${step('empty', 'load')}`);
  console.log(`  with the code cache, ${step('empty', 'compile')} compiling it afresh; the 4 KiB delivery after the options ${step('load', 'ours')}.`);
  const scan = median(row('rescan').samples.map((s) => s.scanMs));
  console.log(
    `quotas: a vcheckquota-style rescan of the ${full} costs ${ms('rescan').toFixed(0)} ms a message (${scan.toFixed(0)} ms of it the readdir + stat, the rest Node's start-up); from maildirsize, the ${full} cost ${(ms('quotaFull') - ms('quotaEmpty')).toFixed(1)} ms more than an empty mailbox.`,
  );
  console.log(
    `big messages: wall and CPU (user + system) are medians, x floor is the wall ratio;\n  peak RSS: ${RSS_METHOD}, the largest of the ${bigRounds} runs;`,
  );
  console.log(
    "  * vdeliver's own peak RSS, without its children's: VmHWM of its pid, polled every 2 ms (the recorder holds the whole message, so %M would be its).",
  );
  console.log(
    `  256 MiB walls run by run, s: ${writers
      .map(
        (w) =>
          `${w.name}: ${bigRuns
            .get(`256 ${w.name}`)
            .map((x) => x.seconds.toFixed(2))
            .join(' ')}`,
      )
      .join('; ')}`,
  );

  const plainMs = ms('ours');
  const hook = ms('hook') - plainMs;
  const fwd = ms('forwards') - plainMs;
  const sh = ms('sh');
  const rec = ms('recorder');
  console.log(
    `\npredeliver hook: +${hook.toFixed(1)} ms over ${OURS}; /bin/sh -c 'exit 0' is ${sh.toFixed(1)} ms of it, ${(hook - sh).toFixed(1)} ms is ours (opening the message again and an output file, spawning through the spawnSync binding, waiting, passing the output on).`,
  );
  console.log(
    `2 forwards: +${fwd.toFixed(1)} ms over ${OURS}; the recorder alone is ${rec.toFixed(1)} ms of it, ${(fwd - rec).toFixed(1)} ms is ours (the copy with its Delivered-To line and the envelope as unnamed files, spawning, waiting, checking both were read).`,
  );

  const rss = [OURS, ...withChildren.map((w) => w.name)].map((name) => bigFigure(256, name).rssMiB);
  const par = parallel[1];
  const quotaCost = ms('quotaEmpty') - ms('quotaOff');
  const bigBox = ms('quotaFull') / ms('quotaEmpty');
  const logCost = ms('logOn') - ms('logOff');
  printTargets([
    ['4 KiB median <= 1.05x floor', `${(plainMs / floorMs).toFixed(2)}x`, plainMs / floorMs <= 1.05],
    [
      `${workers}x${each} >= 0.95x floor per s, ${workers * each}/${workers * each} files, empty tmp/`,
      `${(rates[1] / rates[0]).toFixed(2)}x, ${par.check.files} files, tmp ${par.check.tmp}`,
      rates[1] / rates[0] >= 0.95 && par.check.files === workers * each && par.check.tmp === 0,
    ],
    ['predeliver hook, ours <= 3 ms', `${(hook - sh).toFixed(1)} ms`, hook - sh <= 3],
    ['2 forwards, ours <= 3 ms', `${(fwd - rec).toFixed(1)} ms`, fwd - rec <= 3],
    ['peak RSS at 256 MiB <= 64 MiB: store / hook reads / forwards', `${rss.map((x) => x.toFixed(1)).join(' / ')} MiB`, rss.every((x) => x <= 64)],
    [`quotas on: ${full} messages <= 1.05x an empty Maildir`, `${bigBox.toFixed(2)}x`, bigBox <= 1.05],
    ['quotas on <= quotas off + 1 ms', `${quotaCost >= 0 ? '+' : ''}${quotaCost.toFixed(1)} ms`, quotaCost <= 1],
    ['log on <= log off + 0.5 ms', `${logCost >= 0 ? '+' : ''}${logCost.toFixed(2)} ms`, logCost <= 0.5],
    ['lookups within noise', 'bench/lookup.mjs, next', undefined],
  ]);
}
