// What execa would cost a delivery with a hook or a forward (README, "Performance"): 20 fresh Node
// processes each start `/bin/sh -c 'exit 0'` once, through node:child_process (as src/system/exec.ts
// does) and through execa; a delivery is one such process. Run: node bench/execa-cost.mjs
import { spawnSync } from 'node:child_process';

const RUNS = 20;
const programs = {
  'node:child_process': `const { spawn } = require('node:child_process');
spawn('/bin/sh', ['-c', 'exit 0'], { stdio: 'ignore' }).on('exit', () => {});`,
  execa: `import('execa').then(({ execa }) => execa('/bin/sh', ['-c', 'exit 0'], { stdio: 'ignore' }));`,
  'node -e 0 (Node alone)': '0',
};

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = {};
for (let round = 0; round < RUNS; round++) {
  // Interleaved, so a busy moment on a shared machine falls on all three alike.
  for (const [name, code] of Object.entries(programs)) {
    const start = process.hrtime.bigint();
    const run = spawnSync(process.execPath, ['-e', code], { stdio: 'inherit' });
    if (run.status !== 0) throw new Error(`${name}: exit ${run.status}`);
    (results[name] ??= []).push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}
const base = median([...results['node:child_process']]);
for (const [name, times] of Object.entries(results))
  console.log(
    `${name.padEnd(24)} median ${median([...times]).toFixed(1)} ms per process, ${(median([...times]) - base).toFixed(1)} ms over node:child_process`,
  );
