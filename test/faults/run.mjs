// npm run faults: the fault-injection suite. Runs the built bin/vdeliver the way qmail-local does
// and injects faults from outside the process: SIGKILL at random times, real errno values, and (in
// the full run) the cdb fuzzer at 100,000 cases. Prints one table and exits non-zero if any row failed.
//   node test/faults/run.mjs           the full run (CI): 112 runs per SIGKILL row, 1,008 in all
//   node test/faults/run.mjs --quick   the short one (npm test): 7 per row
// VDELIVER_FAULTS_SEED repeats a run's kill schedule; VDELIVER_FORBID_SKIPS=1 makes a skipped row fail.
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cdbFuzzRow } from './cdb-fuzz.mjs';
import { errnoRows } from './errno.mjs';
import { unmountAll } from './mounts.mjs';
import { seeded } from './random.mjs';
import { ROOT } from './sandbox.mjs';
import { sigkillRows } from './sigkill.mjs';
import { formatTable } from './table.mjs';

const quick = process.argv.includes('--quick');
const seed = Number(process.env.VDELIVER_FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 32));
const runsPerRow = quick ? 7 : 112;

if (!existsSync(join(ROOT, 'dist', 'vdeliver.cjs'))) {
  console.error('faults: dist/vdeliver.cjs is missing; run npm run build first');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'vdeliver-faults-'));
// Some rows run vdeliver as nobody, who must be able to reach the homes inside.
chmodSync(dir, 0o711);
process.on('SIGINT', () => {
  unmountAll();
  process.exit(130);
});

const started = performance.now();
console.log(`vdeliver fault injection, ${quick ? 'quick' : 'full'} run, seed ${seed} (VDELIVER_FAULTS_SEED=${seed} repeats the kill schedule)`);
let rows;
try {
  rows = [...(await sigkillRows({ dir, runsPerRow, workers: 2, random: seeded(seed) })), ...(await errnoRows({ dir })), ...(quick ? [] : [cdbFuzzRow()])];
} finally {
  unmountAll();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${formatTable(rows)}\n`);
const failed = rows.filter((r) => r.verdict === 'FAIL');
console.log(`${failed.length === 0 ? 'all rows passed' : `${failed.length} row(s) failed`} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exitCode = failed.length === 0 ? 0 : 1;
